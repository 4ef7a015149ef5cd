"""Readers of KARD, UTKinect and NW-UCLA: real files (ZSSAR_DATA) and every kind of bad input."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from zssar.data.registry import load_dataset
from zssar.errors import DatasetNotFound, InvalidData

DATA = os.environ.get("ZSSAR_DATA")
# dataset -> (files, samples kept, classes, subjects, views)
EXPECTED = {"kard": (540, 540, 18, 10, [0]), "utkinect": (200, 200, 10, 10, [0]),
            "nw-ucla": (1484, 1482, 10, 10, [1, 2, 3])}


def _real(name):
    if not DATA or not (Path(DATA) / name).is_dir():
        pytest.skip(f"needs ZSSAR_DATA with a {name}/ folder (set ZSSAR_DATA to the datasets folder)")
    return load_dataset(name)


@pytest.mark.realdata
@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_dataset_counts(name):
    data = _real(name)
    files, kept, classes, subjects, views = EXPECTED[name]
    dropped = sum(len(v) for v in data.dropped.values())
    assert len(data) + dropped == files and len(data) == kept
    assert data.num_classes == classes and len(np.unique(data.labels)) == classes
    assert len(np.unique(data.subjects)) == subjects and sorted(np.unique(data.views)) == views
    assert f"{files} sequences read" in data.source
    if name == "nw-ucla":  # two one-frame sequences, left out and counted
        assert {k: len(v) for k, v in data.dropped.items()} == {"too_short": 2}
        assert int((data.views == 3).sum()) + sum(s.endswith("v03") for s in data.dropped["too_short"]) == 464


@pytest.mark.realdata
@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_frames_look_like_people(name):
    data = _real(name)
    layout = data.layout
    head, feet = layout.index("head"), [layout.index(j) for j in layout.joints if j.endswith("foot")]
    mid = data.x[np.arange(len(data)), 0, data.lengths // 2]  # (N, V, 3) middle frames
    upright = mid[:, head, 1] > mid[:, feet, 1].max(axis=1) + 0.5  # head over half a metre above the feet
    assert upright.mean() > 0.95
    height = mid[:, head, 1] - mid[:, feet, 1].min(axis=1)
    assert 1.0 < np.median(height) < 2.2  # metres, every dataset in the same unit


def _write_kard(folder, frames=5, joints=15, text=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for a, s in [(1, 1), (2, 6)]:
        body = "\n".join(" ".join(f"{v:.3f}" for v in row) for row in rng.normal(size=(frames * joints, 3)) * 500)
        (folder / f"a{a:02d}_s{s:02d}_e01_realworld.txt").write_text(text if (text and a == 2) else body + "\n")
    return folder


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(DatasetNotFound, match="no kard files under"):
        load_dataset("kard", root=tmp_path)
    (tmp_path / "kard").mkdir()
    with pytest.raises(DatasetNotFound, match="expected names like a01_s01_e01_realworld.txt"):
        load_dataset("kard", root=tmp_path)


def test_small_kard_folder_reads_and_converts_units(tmp_path):
    _write_kard(tmp_path / "kard")
    data = load_dataset("kard", root=tmp_path)
    assert len(data) == 2 and list(data.subjects) == [1, 6] and list(data.labels) == [0, 1]
    assert np.abs(data.x).max() < 5  # millimetres became metres


def test_truncated_text_file(tmp_path):
    good = _write_kard(tmp_path / "kard") / "a01_s01_e01_realworld.txt"
    text = good.read_text()
    cut = text[: text.rstrip().rindex(" ")]  # the last line loses its z value
    (tmp_path / "kard" / "a02_s06_e01_realworld.txt").write_text(cut)
    with pytest.raises(InvalidData, match="a02_s06_e01_realworld.txt: line 75 has 2 values"):
        load_dataset("kard", root=tmp_path)


def test_wrong_joint_count_in_text_file(tmp_path):
    _write_kard(tmp_path / "utkinect", joints=15)  # 15-joint frames where UTKinect has 20
    for f in (tmp_path / "utkinect").iterdir():
        f.rename(f.with_name(f.name.replace("a01", "walk").replace("a02", "push").replace("_realworld", "")))
    with pytest.raises(InvalidData, match=r"75 joint lines is not a whole number of 20-joint frames"):
        load_dataset("utkinect", root=tmp_path)


def _write_ucla(folder, frames):
    (folder / "all_sqe").mkdir(parents=True, exist_ok=True)
    for i, fr in enumerate(frames):
        (folder / "all_sqe" / f"a01_s01_e0{i}_v01.json").write_text(
            json.dumps({"file_name": "x", "skeletons": fr, "label": 1}))


def test_nwucla_wrong_joint_count_truncated_json_and_nan(tmp_path):
    rng = np.random.default_rng(0)
    ok = rng.normal(size=(4, 20, 3)).tolist()
    bad = [f[:] for f in ok]
    bad[2] = bad[2][:19]
    _write_ucla(tmp_path / "nw-ucla", [ok, bad])
    with pytest.raises(InvalidData, match="frame 2 has 19 joints"):
        load_dataset("nw-ucla", root=tmp_path)
    path = tmp_path / "nw-ucla" / "all_sqe" / "a01_s01_e01_v01.json"
    path.write_text(json.dumps({"skeletons": ok, "label": 1})[:-40])
    with pytest.raises(InvalidData, match="not valid JSON.*truncated"):
        load_dataset("nw-ucla", root=tmp_path)
    nan = np.array(ok)
    nan[1, 3, 0] = np.nan
    path.write_text(json.dumps({"skeletons": nan.tolist(), "label": 1}).replace("NaN", "NaN"))
    data = load_dataset("nw-ucla", root=tmp_path)  # default: dropped and counted
    assert len(data) == 1 and data.dropped == {"nan": ("a01_s01_e01_v01",)}
    assert "dropped: 1 nan" in data.source and data.summary()["dropped"] == {"nan": 1}
    with pytest.raises(InvalidData, match="a01_s01_e01_v01 is degenerate \\(nan"):
        load_dataset("nw-ucla", root=tmp_path, degenerate="raise")


def test_degenerate_reasons_are_counted(tmp_path):
    rng = np.random.default_rng(1)
    ok, short, zero = rng.normal(size=(4, 20, 3)), rng.normal(size=(1, 20, 3)), np.zeros((5, 20, 3))
    _write_ucla(tmp_path / "nw-ucla", [ok.tolist(), short.tolist(), zero.tolist()])
    data = load_dataset("nw-ucla", root=tmp_path)
    assert {k: len(v) for k, v in data.dropped.items()} == {"too_short": 1, "all_zero": 1} and len(data) == 1
    assert len(load_dataset("nw-ucla", root=tmp_path, min_frames=1)) == 2
