"""Bring your own data: from_arrays with any layout and the npz interchange file (npz:PATH)."""
import numpy as np
import pytest

from zssar.data.interchange import load_npz, save_npz
from zssar.data.registry import load_dataset
from zssar.data.skeleton import from_arrays
from zssar.errors import DatasetNotFound, InvalidData

JOINTS = ["pelvis", "spine", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
          "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle"]
BONES = [(1, 0), (2, 1), (3, 2), (4, 2), (5, 4), (6, 5), (7, 2), (8, 7), (9, 8), (10, 0), (11, 10), (12, 11),
         (13, 0), (14, 13), (15, 14)]


def _arrays(n=6, t=12, v=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, v, 3)).astype(np.float32)
    lengths = np.array([t, t - 2, t - 5, t, 3, t][:n])
    for i, length in enumerate(lengths):
        x[i, length:] = 0
    return x, lengths, np.arange(n) % 3, ["reach", "squat", "spin"], np.arange(n) // 2 + 1


def test_npz_with_joint_names_round_trips(tmp_path):
    x, lengths, y, names, subjects = _arrays()
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, lengths=lengths, y=y, class_names=np.array(names), subject=subjects,
             joint_names=np.array(JOINTS), bones=np.array(BONES))
    data = load_dataset(f"npz:{path}")
    assert len(data) == 6 and data.class_names == tuple(names) and list(data.lengths) == list(lengths)
    assert data.layout.joints == tuple(JOINTS) and data.layout.joints[data.layout.centre] == "spine"
    assert {JOINTS[i] for i in data.layout.parts["gap6"]["foot"]} == {"l_ankle", "r_ankle"}
    np.testing.assert_array_equal(data.x[:, 0, :12], x)
    again = load_npz(save_npz(data, tmp_path / "again.npz"))
    np.testing.assert_array_equal(again.x, data.x)
    assert again.layout.joints == data.layout.joints and again.sample_ids == data.sample_ids


def test_npz_registered_layout_persons_and_degenerate(tmp_path):
    x = np.random.default_rng(1).normal(size=(3, 2, 10, 20, 3)).astype(np.float32)
    x[1] = 0  # all zero
    x[2, 0, 4, 3, 1] = np.nan
    path = tmp_path / "k.npz"
    np.savez(path, x=x, y=[0, 1, 1], class_names=np.array(["a", "b"]), subject=[1, 2, 3], view=[1, 1, 2],
             layout="kinect20")
    data = load_dataset(f"npz:{path}")
    assert len(data) == 1 and data.x.shape == (1, 2, 10, 20, 3)
    assert {k: len(v) for k, v in data.dropped.items()} == {"all_zero": 1, "nan": 1}


def test_npz_bad_input(tmp_path):
    with pytest.raises(DatasetNotFound, match="no interchange file"):
        load_dataset(f"npz:{tmp_path / 'absent.npz'}")
    x, lengths, y, names, subjects = _arrays()
    path = tmp_path / "bad.npz"
    np.savez(path, x=x, y=y, class_names=np.array(names), subject=subjects)
    with pytest.raises(InvalidData, match="give either 'layout'"):
        load_npz(path)
    np.savez(path, x=x, y=y, class_names=np.array(names), subject=subjects, layout="ntu25")
    with pytest.raises(InvalidData, match="16 joints but layout 'ntu25' has 25"):
        load_npz(path)
    np.savez(path, x=x, y=y, class_names=np.array(names), layout="ntu25")
    with pytest.raises(InvalidData, match=r"missing key\(s\) \['subject'\]"):
        load_npz(path)
    np.savez(path, x=x, y=y, class_names=np.array(names), subject=subjects, layout="openni16")
    with pytest.raises(InvalidData, match="unknown layout 'openni16'"):
        load_npz(path)
    good = tmp_path / "good.npz"
    np.savez(good, x=x, y=y, class_names=np.array(names), subject=subjects, joint_names=np.array(JOINTS),
             bones=np.array(BONES))
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:-300])
    with pytest.raises(InvalidData, match="truncated"):
        load_npz(tmp_path / "cut.npz")


def test_from_arrays_with_a_custom_layout():
    from zssar.data.custom_layout import layout_from_joint_names

    x, lengths, y, names, subjects = _arrays()
    layout = layout_from_joint_names(JOINTS, BONES, name="mine")
    data = from_arrays(x, y, names, layout, subjects=subjects, lengths=lengths, name="mine")
    assert data.layout.part_groups("purls4")["legs"] and data.summary()["samples"] == 6
