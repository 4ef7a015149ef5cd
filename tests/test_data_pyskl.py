"""pyskl / mmaction2 annotation pickles (pyskl:PATH): NTU names and splits, layouts, scores, bad files."""
import os
import pickle

import numpy as np
import pytest

from zssar.classnames import NTU60_CLASSES, NTU120_CLASSES, NWUCLA_CLASSES
from zssar.data.protocol import train_mask
from zssar.data.readers.pyskl import load_pyskl, parse_spec
from zssar.data.registry import load_dataset
from zssar.errors import DatasetNotFound, InvalidData

NTU_NAMES = ["S001C001P001R001A001", "S001C002P003R001A002", "S001C003P002R002A060", "S002C002P008R001A010"]


def _annotation(name, label, persons, frames, joints=25, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    keypoint = rng.normal(size=(persons, frames, joints, channels)).astype(np.float32)
    return {"frame_dir": name, "label": label, "keypoint": keypoint, "total_frames": frames,
            "img_shape": (1080, 1920)}


def _write(path, annotations, split):
    with open(path, "wb") as f:
        pickle.dump({"split": split, "annotations": annotations}, f)
    return path


@pytest.fixture
def ntu_pickle(tmp_path):
    annotations = [_annotation(n, int(n[-3:]) - 1, 1 + i % 2, 10 + 5 * i, seed=i) for i, n in enumerate(NTU_NAMES)]
    split = {"xsub_train": [NTU_NAMES[0], NTU_NAMES[2], NTU_NAMES[3]], "xsub_val": [NTU_NAMES[1]],
             "xview_train": [NTU_NAMES[1], NTU_NAMES[2]], "xview_val": [NTU_NAMES[0], NTU_NAMES[3]]}
    return _write(tmp_path / "ntu60_3danno.pkl", annotations, split), annotations


def test_ntu_pickle_reads_names_splits_and_keypoints(ntu_pickle):
    path, annotations = ntu_pickle
    data = load_dataset(f"pyskl:{path}", show_progress=False)
    assert data.name == "ntu60" and data.class_names == NTU60_CLASSES and data.layout.name == "ntu25"
    assert data.sample_ids == tuple(NTU_NAMES) and list(data.labels) == [0, 1, 59, 9]
    assert list(data.subjects) == [1, 3, 2, 8] and list(data.views) == [1, 2, 3, 2]
    assert list(data.lengths) == [10, 15, 20, 25] and data.x.shape == (4, 2, 25, 25, 3)
    np.testing.assert_array_equal(data.x[3, :, :25], annotations[3]["keypoint"])
    assert train_mask(data, "cross_subject").tolist() == [True, False, True, True]
    assert train_mask(data, "cross_view").tolist() == [False, True, True, False]


def test_ntu120_is_recognised_by_labels_or_xset_lists(tmp_path):
    path = _write(tmp_path / "a.pkl", [_annotation("S018C001P050R001A061", 60, 1, 8)], {"xset_train": []})
    data = load_pyskl(path, show_progress=False)
    assert data.name == "ntu120" and data.class_names == NTU120_CLASSES
    assert data.official_train["cross_setup"].tolist() == [False]
    assert "1 samples not in the cross_setup lists put on its test side" in data.source


def test_score_channel_is_dropped_and_2d_gets_zero_depth(tmp_path):
    ann = _annotation(NTU_NAMES[0], 0, 1, 6, channels=4)
    data = load_pyskl(_write(tmp_path / "s.pkl", [ann], {}), show_progress=False)
    np.testing.assert_array_equal(data.x[0, 0], ann["keypoint"][0, :, :, :3])
    flat = _annotation(NTU_NAMES[0], 0, 1, 6, channels=2)
    flat["keypoint_score"] = np.ones((1, 6, 25), np.float32)
    data = load_pyskl(_write(tmp_path / "f.pkl", [flat], {}), show_progress=False)
    assert not data.x[..., 2].any() and "2D keypoints, z set to 0" in data.source
    np.testing.assert_array_equal(data.x[0, 0, :, :, :2], flat["keypoint"][0])


def test_other_joint_counts_need_a_layout_and_class_names(tmp_path):
    names = ["a01_s01_e01_v01", "a02_s02_e01_v03"]
    annotations = [_annotation(n, i, 1, 5, joints=20, seed=i) for i, n in enumerate(names)]
    path = _write(tmp_path / "ucla.pkl", annotations, {"train": [names[0]], "test": [names[1]]})
    with pytest.raises(InvalidData, match="class names are unknown; pass classes="):
        load_pyskl(path, show_progress=False)
    with pytest.raises(InvalidData, match="keypoints have 20 joints; pass layout="):
        load_pyskl(path, classes="nw-ucla", show_progress=False)
    data = load_dataset(f"pyskl:{path}:layout=kinect20:classes=nw-ucla", show_progress=False)
    assert data.name == "nw-ucla" and data.class_names == NWUCLA_CLASSES and data.layout.name == "kinect20"
    assert list(data.subjects) == [1, 2] and list(data.views) == [1, 3]
    assert list(data.official_train) == ["cross_view"]  # plain train/test lists: NW-UCLA's default setting
    assert data.official_train["cross_view"].tolist() == [True, False]
    names_file = tmp_path / "names.txt"
    names_file.write_text("first\nsecond\n")
    data = load_pyskl(path, layout="kinect20", classes=str(names_file), show_progress=False)
    assert data.class_names == ("first", "second") and data.name == "ucla"


def test_spec_options_and_paths_with_colons():
    assert parse_spec("/d/ntu.pkl") == ("/d/ntu.pkl", {})
    assert parse_spec("/d/a:b.pkl:layout=kinect20:classes=nw-ucla") == ("/d/a:b.pkl", {"layout": "kinect20",
                                                                                        "classes": "nw-ucla"})


def test_bad_pickles(tmp_path):
    with pytest.raises(DatasetNotFound, match="no pyskl annotation file"):
        load_dataset(f"pyskl:{tmp_path / 'absent.pkl'}")
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps({"split": {}, "annotations": []})[:-5])
    with pytest.raises(InvalidData, match="not a readable pickle"):
        load_pyskl(path)
    _write(path, [], {})
    with pytest.raises(InvalidData, match="no annotations"):
        load_pyskl(path)
    _write(path, [_annotation(NTU_NAMES[0], 0, 1, 5), _annotation(NTU_NAMES[1], 1, 1, 5, joints=24)], {})
    with pytest.raises(InvalidData, match="has 24 joints, the first sample"):
        load_pyskl(path, show_progress=False)
    _write(path, [{"frame_dir": NTU_NAMES[0], "label": 0, "keypoint": np.zeros((5, 25, 3))}], {})
    with pytest.raises(InvalidData, match=r"keypoint shape \(5, 25, 3\); expected \(M, T, V, C\)"):
        load_pyskl(path, show_progress=False)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"split": {}, "annotations": [Exploit()]}))
    with pytest.raises(InvalidData, match=r"refers to posix.system|refers to os.system|refers to nt.system"):
        load_pyskl(path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_mmcv_protocol_2_and_numpy_1_pickles_load(tmp_path, protocol):
    """mmcv writes protocol 2; pickles made with NumPy 1 name ``numpy.core`` rather than ``numpy._core``."""
    ann = _annotation(NTU_NAMES[0], 0, 1, 6)
    raw = pickle.dumps({"split": {}, "annotations": [ann]}, protocol=protocol)
    path = tmp_path / "old.pkl"
    path.write_bytes(raw.replace(b"numpy._core", b"numpy.core") if protocol == 2 else raw)
    data = load_pyskl(path, show_progress=False)
    np.testing.assert_array_equal(data.x[0, 0], ann["keypoint"][0])
