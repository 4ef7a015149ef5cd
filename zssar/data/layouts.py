"""Skeleton layouts: joint names, bones, a centre joint and named body-part groups.

A layout is data (as in CTR-GCN's ``graph/`` folder): everything a backbone or a method needs to
know about a joint set is derived from it, so a method written once works on every layout.
Part groups are defined by joint *names*, once per layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidData


@dataclass(frozen=True)
class Layout:
    """A named joint set.

    Attributes:
        name: registry name (``ntu25``...).
        joints: joint names, in the order of the V axis.
        bones: (child, parent) index pairs; the parent is the joint nearer the centre.
        centre: index of the joint sequences are centred on.
        parts: named groupings ``{"gap4": {"head": (..joint ids..), ...}, ...}``.
    """

    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    centre: int
    parts: dict[str, dict[str, tuple[int, ...]]] = field(default_factory=dict, compare=False)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint_name: str) -> int:
        try:
            return self.joints.index(joint_name)
        except ValueError:
            raise InvalidData(
                f"layout {self.name!r} has no joint named {joint_name!r}; its joints are {list(self.joints)}"
            ) from None

    def adjacency(self) -> np.ndarray:
        """Symmetric (V, V) 0/1 adjacency of the bone graph, without self loops."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for i, j in self.bones:
            a[i, j] = a[j, i] = 1.0
        return a

    def part_groups(self, grouping: str) -> dict[str, tuple[int, ...]]:
        """Joint ids of each part of a grouping (``upper_lower``, ``gap4``, ``gap6``, ``purls4``,
        ``star6``, ``star4``, ``star2``)."""
        if grouping not in self.parts:
            raise InvalidData(
                f"layout {self.name!r} has no part grouping {grouping!r}; available: {sorted(self.parts)}"
            )
        return self.parts[grouping]


def _ids(joints: tuple[str, ...], names: list[str]) -> tuple[int, ...]:
    return tuple(joints.index(n) for n in names)


# NTU RGB+D 25 joints, 0-based official order (docs: 1-based list in the dataset README).
_NTU_JOINTS = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
# CTR-GCN's bone list (1-based there), written as (child, parent) 0-based.
_NTU_BONES = tuple((a - 1, b - 1) for a, b in [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
    (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
    (22, 23), (23, 8), (24, 25), (25, 12),
])


def _ntu_parts(j: tuple[str, ...]) -> dict[str, dict[str, tuple[int, ...]]]:
    head = ["neck", "head", "spine_shoulder"]
    hand = ["left_hand", "right_hand", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb"]
    arm = ["left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist"]
    hip = ["spine_base", "spine_mid", "left_hip", "right_hip"]
    leg = ["left_knee", "right_knee"]
    foot = ["left_ankle", "left_foot", "right_ankle", "right_foot"]
    upper = head + hand + arm + ["spine_mid"]
    lower = ["spine_base", "left_hip", "right_hip"] + leg + foot
    # STAR's six parts (its public code's lists) differ from GAP's at the hips: its hip is the lower
    # spine alone and the hip joints open the leg; its 4 and 2 parts join its six as GAP's do.
    star_hip = ["spine_base", "spine_mid"]
    star_leg = ["left_hip", "left_knee", "right_hip", "right_knee"]
    return {
        "upper_lower": {"upper": _ids(j, upper), "lower": _ids(j, lower)},
        "gap4": {"head": _ids(j, head), "hand_arm": _ids(j, hand + arm), "hip": _ids(j, hip),
                 "leg_foot": _ids(j, leg + foot)},
        "gap6": {"head": _ids(j, head), "hand": _ids(j, hand), "arm": _ids(j, arm), "hip": _ids(j, hip),
                 "leg": _ids(j, leg), "foot": _ids(j, foot)},
        "purls4": {"head": _ids(j, ["spine_base", "spine_mid", "neck", "head"]),
                   "hands": _ids(j, ["left_shoulder", "left_elbow", "left_wrist", "left_hand",
                                     "right_shoulder", "right_elbow", "right_wrist", "right_hand",
                                     "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb"]),
                   "torso": _ids(j, ["left_hip", "right_hip", "spine_shoulder"]),
                   "legs": _ids(j, ["left_knee", "left_ankle", "left_foot",
                                    "right_knee", "right_ankle", "right_foot"])},
        "star6": {"head": _ids(j, head), "hand": _ids(j, hand), "arm": _ids(j, arm), "hip": _ids(j, star_hip),
                  "leg": _ids(j, star_leg), "foot": _ids(j, foot)},
        "star4": {"head": _ids(j, head), "hand_arm": _ids(j, hand + arm), "hip": _ids(j, star_hip),
                  "leg_foot": _ids(j, star_leg + foot)},
        "star2": {"upper": _ids(j, head + hand + arm), "lower": _ids(j, star_hip + star_leg + foot)},
    }


NTU25 = Layout("ntu25", _NTU_JOINTS, _NTU_BONES, centre=1, parts=_ntu_parts(_NTU_JOINTS))


# STAR's hip part holds the lower spine only; where a skeleton has no spine joint, the joints playing
# the hips stand in, taken from the part named here (so the grouping stays a partition).
_SPINELESS_HIP = {"star6": "leg", "star4": "leg_foot"}


def parts_from_roles(joints: tuple[str, ...], roles: dict[str, str | tuple[str, ...]], layout_name: str
                     ) -> dict[str, dict[str, tuple[int, ...]]]:
    """Part groupings of any joint set, from each joint's role (its NTU joint name).

    ``roles`` maps a joint name to the ``ntu25`` joint it plays (``"torso": "spine_mid"``); a part then
    holds every joint whose role the ``ntu25`` part holds, so all layouts share one definition of
    the parts. A joint may play several roles (a tuple). Raises when a part would be empty, naming
    the joints it needs.
    """
    played = {j: {r} if isinstance(r, str) else set(r) for j, r in roles.items()}
    groupings: dict[str, dict[str, tuple[int, ...]]] = {}
    for grouping, parts in NTU25.parts.items():
        wanted = {part: {NTU25.joints[i] for i in ntu_ids} for part, ntu_ids in parts.items()}
        formed = {part: tuple(i for i, j in enumerate(joints) if played.get(j, set()) & names)
                  for part, names in wanted.items()}
        if grouping in _SPINELESS_HIP and not formed["hip"]:
            # no spine joint (COCO-like): the hip joints stand in for STAR's hip, leaving the leg part
            donor = _SPINELESS_HIP[grouping]
            hips = tuple(i for i in formed[donor] if played[joints[i]] & {"left_hip", "right_hip"})
            formed["hip"], formed[donor] = hips, tuple(i for i in formed[donor] if i not in hips)
        for part, ids in formed.items():
            if not ids:
                raise InvalidData(
                    f"layout {layout_name!r}: cannot form part {part!r} of grouping {grouping!r}; it needs a "
                    f"joint playing one of {sorted(wanted[part])}, and the joints are {list(joints)}. Rename "
                    "the joints (e.g. 'left_ankle') or give the layout explicit parts."
                )
        groupings[grouping] = formed
    return groupings


# Kinect v1 SDK order (UTKinect-Action3D, NW-UCLA, MSR Action3D), 0-based.
_KINECT20_JOINTS = (
    "hip_center", "spine", "shoulder_center", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)
_KINECT20_BONES = (
    (1, 0), (2, 1), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9), (11, 10),
    (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18),
)
# Kinect v1 has one joint where NTU has neck and spine_shoulder; it plays the neck (head part).
_KINECT20_ROLES = {j: j for j in _KINECT20_JOINTS} | {
    "hip_center": "spine_base", "spine": "spine_mid", "shoulder_center": "neck"}
KINECT20 = Layout("kinect20", _KINECT20_JOINTS, _KINECT20_BONES, centre=1,
                  parts=parts_from_roles(_KINECT20_JOINTS, _KINECT20_ROLES, "kinect20"))

# OpenNI / NiTE 15-joint order (KARD), 0-based. There are no wrists or ankles: the arm part is
# shoulders and elbows, the hand and foot parts are OpenNI's hand and foot; "torso" is mid-spine.
_OPENNI15_JOINTS = (
    "head", "neck", "right_shoulder", "right_elbow", "right_hand", "left_shoulder", "left_elbow",
    "left_hand", "torso", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot",
)
_OPENNI15_BONES = (
    (0, 1), (1, 8), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6),
    (9, 8), (10, 9), (11, 10), (12, 8), (13, 12), (14, 13),
)
_OPENNI15_ROLES = {j: j for j in _OPENNI15_JOINTS} | {"torso": "spine_mid"}
OPENNI15 = Layout("openni15", _OPENNI15_JOINTS, _OPENNI15_BONES, centre=8,
                  parts=parts_from_roles(_OPENNI15_JOINTS, _OPENNI15_ROLES, "openni15"))

LAYOUTS: dict[str, Layout] = {NTU25.name: NTU25, KINECT20.name: KINECT20, OPENNI15.name: OPENNI15}


def get_layout(name: str) -> Layout:
    """The registered layout called ``name``."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise InvalidData(f"unknown layout {name!r}; registered layouts: {sorted(LAYOUTS)}") from None
