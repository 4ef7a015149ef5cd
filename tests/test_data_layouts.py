"""Layouts: part groups by joint names, the same definition for every layout; custom layouts."""
import numpy as np
import pytest

from zssar.data.custom_layout import joint_role, layout_from_joint_names
from zssar.data.layouts import KINECT20, LAYOUTS, NTU25, OPENNI15, get_layout
from zssar.errors import InvalidData

GROUPINGS = {"upper_lower": {"upper", "lower"}, "gap4": {"head", "hand_arm", "hip", "leg_foot"},
             "gap6": {"head", "hand", "arm", "hip", "leg", "foot"}, "purls4": {"head", "hands", "torso", "legs"},
             "star6": {"head", "hand", "arm", "hip", "leg", "foot"}, "star4": {"head", "hand_arm", "hip", "leg_foot"},
             "star2": {"upper", "lower"}}


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_every_layout_has_every_grouping_as_a_partition(layout):
    assert set(layout.parts) == set(GROUPINGS)
    for grouping, parts in layout.parts.items():
        assert set(parts) == GROUPINGS[grouping]
        joints = [j for ids in parts.values() for j in ids]
        assert all(len(ids) for ids in parts.values())
        assert len(joints) == len(set(joints)), f"{layout.name} {grouping}: a joint in two parts"
    # a tree: V - 1 bones, all joints connected
    assert len(layout.bones) == layout.num_joints - 1
    assert 0 <= layout.centre < layout.num_joints


def test_parts_follow_joint_names():
    names = lambda layout, g, p: {layout.joints[i] for i in layout.part_groups(g)[p]}  # noqa: E731
    assert names(KINECT20, "gap6", "foot") == {"left_ankle", "left_foot", "right_ankle", "right_foot"}
    assert names(OPENNI15, "gap6", "hand") == {"left_hand", "right_hand"}
    assert names(OPENNI15, "gap6", "arm") == {"left_shoulder", "left_elbow", "right_shoulder", "right_elbow"}
    assert OPENNI15.joints[OPENNI15.centre] == "torso" and KINECT20.joints[KINECT20.centre] == "spine"
    assert names(NTU25, "gap4", "head") == {"neck", "head", "spine_shoulder"}  # unchanged ntu25 parts


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_name_matcher_recovers_built_in_parts(layout):
    custom = layout_from_joint_names(layout.joints, layout.bones)
    assert custom.centre == layout.centre
    for g, parts in layout.parts.items():
        assert {p: set(v) for p, v in custom.parts[g].items()} == {p: set(v) for p, v in parts.items()}


def test_custom_layout_names_and_errors():
    assert [joint_role(n) for n in ("LeftShoulder", "shoulder_left", "r_knee", "Pelvis", "left_eye", "tail")] == [
        "left_shoulder", "left_shoulder", "right_knee", "spine_base", "head", None]
    coco = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
            "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
            "right_knee", "left_ankle", "right_ankle"]
    with pytest.raises(InvalidData, match="no spine, pelvis or neck joint"):
        layout_from_joint_names(coco, [(1, 0)])
    layout = layout_from_joint_names(coco, [(1, 0)], centre="left_hip")
    assert {coco[i] for i in layout.parts["gap6"]["hand"]} == {"left_wrist", "right_wrist"}  # stand-ins
    no_legs = ["spine", "neck", "head", "left_shoulder", "left_hand", "right_shoulder", "right_hand"]
    with pytest.raises(InvalidData, match="cannot form part 'lower'"):
        layout_from_joint_names(no_legs, [(1, 0), (2, 1)])
    with pytest.raises(InvalidData, match="point past"):
        layout_from_joint_names(no_legs, [(1, 9)])


def test_unknown_layout_is_a_clear_error():
    with pytest.raises(InvalidData, match="unknown layout 'kinect25'.*kinect20"):
        get_layout("kinect25")
    assert np.allclose(KINECT20.adjacency(), KINECT20.adjacency().T)
