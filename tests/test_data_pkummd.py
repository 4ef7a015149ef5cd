"""PKU-MMD phase I reader on small files in the published format: segments, views, splits, bad input."""
import numpy as np
import pytest

from zssar.classnames import PKU51_CLASSES
from zssar.data.protocol import train_mask
from zssar.data.readers.pkummd import read_skeleton, read_split_file
from zssar.data.registry import load_dataset
from zssar.errors import DatasetNotFound, InvalidData


def _recording(frames: int, two_persons: bool, seed: int) -> np.ndarray:
    """(T, 150) rows: person 1 (and 2, or zeros) x 25 joints x xyz, as the skeleton files hold them."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(scale=0.3, size=(frames, 2, 25, 3)) + np.array([0.0, 0.0, 3.0])
    if not two_persons:
        rows[:, 1] = 0.0
    return rows.reshape(frames, 150).astype(np.float32)


def _write(root, recordings, labels, split=True):
    """``recordings``: name -> (T, 150); ``labels``: name -> [(label, start, end, confidence)]."""
    base = root / "pku-mmd"
    (base / "PKU_Skeleton_Renew").mkdir(parents=True)
    (base / "Train_Label_PKU_final").mkdir()
    for name, rows in recordings.items():
        text = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in rows) + "\n"
        (base / "PKU_Skeleton_Renew" / f"{name}.txt").write_text(text)
    for name, lines in labels.items():
        (base / "Train_Label_PKU_final" / f"{name}.txt").write_text("".join(f"{a},{b},{c},{d}\n" for a, b, c, d in lines))
    if split:
        (base / "Split").mkdir()
        (base / "Split" / "cross-subject.txt").write_text(
            "Training videos: \n0002-L, 0002-M, 0002-R\nValidataion videos: \n0291-L, 0291-M, 0291-R\n")
        (base / "Split" / "cross-view.txt").write_text(
            "Training videos: \n0002-M, 0002-R, 0291-M, 0291-R\nValidataion videos: \n0002-L, 0291-L\n")
    return base


@pytest.fixture
def pku(tmp_path):
    recordings = {"0002-L": _recording(40, False, 0), "0002-M": _recording(30, True, 1),
                  "0291-R": _recording(50, True, 2)}
    labels = {"0002-L": [(1, 0, 10, 1), (51, 12, 40, 2)], "0002-M": [(8, 5, 25, 1)],
              "0291-R": [(33, 1, 4, 1), (12, 20, 49, 1)]}
    _write(tmp_path, recordings, labels)
    return tmp_path, recordings


def test_segments_are_cut_by_their_label_ranges(pku):
    root, recordings = pku
    data = load_dataset("pku-mmd", root=root, show_progress=False)
    assert data.sample_ids == ("0002-L_001", "0002-L_002", "0002-M_001", "0291-R_001", "0291-R_002")
    assert [data.class_names[i] for i in data.labels] == [PKU51_CLASSES[i] for i in (0, 50, 7, 32, 11)]
    assert data.class_names == PKU51_CLASSES and data.layout.name == "ntu25"
    assert list(data.lengths) == [10, 28, 20, 3, 29]
    assert list(data.views) == [1, 1, 2, 3, 3] and list(data.subjects) == [2, 2, 2, 291, 291]
    expected = recordings["0002-L"][12:40].reshape(28, 2, 25, 3).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(data.x[1, :, :28], expected, atol=1e-6)
    assert not data.x[0, 1].any()  # an absent second person stays zero
    np.testing.assert_allclose(data.x[4, 1, :29], recordings["0291-R"][20:49, 75:].reshape(29, 25, 3), atol=1e-6)


def test_official_split_files_give_the_training_side(pku):
    root, _ = pku
    data = load_dataset("pku-mmd", root=root, show_progress=False)
    assert train_mask(data, "cross_subject").tolist() == [True, True, True, False, False]
    assert train_mask(data, "cross_view").tolist() == [False, False, True, True, True]
    train, test = read_split_file(root / "pku-mmd" / "Split" / "cross-view.txt")
    assert train == {"0002-M", "0002-R", "0291-M", "0291-R"} and test == {"0002-L", "0291-L"}


def test_without_split_files_the_source_says_so(tmp_path):
    _write(tmp_path, {"0005-M": _recording(20, False, 0)}, {"0005-M": [(2, 0, 20, 1)]}, split=False)
    data = load_dataset("pku-mmd", root=tmp_path, show_progress=False)
    assert data.official_train == {} and "no cross-subject.txt" in data.source and len(data) == 1


def test_label_past_the_end_is_an_error_naming_file_and_line(tmp_path):
    _write(tmp_path, {"0002-L": _recording(30, False, 0)}, {"0002-L": [(1, 0, 10, 1), (4, 20, 31, 1)]})
    with pytest.raises(InvalidData, match=r"0002-L.txt: line 2 labels frames 20:31, past the end of .*30 frames"):
        load_dataset("pku-mmd", root=tmp_path, show_progress=False)
    data = load_dataset("pku-mmd", root=tmp_path, show_progress=False, label_overrun="drop")
    assert len(data) == 1 and data.dropped == {"past_end": ("0002-L_002",)}
    assert data.summary()["dropped"] == {"past_end": 1} and "1 label segments past the end" in data.source


def test_bad_label_lines(tmp_path):
    _write(tmp_path, {"0002-L": _recording(30, False, 0)}, {"0002-L": [(52, 0, 10, 1)]})
    with pytest.raises(InvalidData, match="line 1 has label 52; PKU-MMD phase I labels are 1..51"):
        load_dataset("pku-mmd", root=tmp_path, show_progress=False)
    labels = tmp_path / "pku-mmd" / "Train_Label_PKU_final" / "0002-L.txt"
    labels.write_text("1,0,10,1\n3,15,9,1\n")
    with pytest.raises(InvalidData, match="line 2 has frames 15..9"):
        load_dataset("pku-mmd", root=tmp_path, show_progress=False)
    labels.write_text("1,0,10,1\n3,15,x,1\n")
    with pytest.raises(InvalidData, match="line 2 is '3,15,x,1'; expected 'label,start,end,confidence'"):
        load_dataset("pku-mmd", root=tmp_path, show_progress=False)


def test_truncated_skeleton_file(tmp_path):
    base = _write(tmp_path, {"0002-L": _recording(6, False, 0)}, {"0002-L": [(1, 0, 5, 1)]})
    path = base / "PKU_Skeleton_Renew" / "0002-L.txt"
    text = path.read_text()
    path.write_text(text[: text.rstrip().rindex(" ")])  # the last frame loses a value
    with pytest.raises(InvalidData, match="0002-L.txt: line 6 has 149 values, expected 150"):
        read_skeleton(path)
    path.write_text(text.replace("0.", "nope", 1))
    with pytest.raises(InvalidData, match="line 1 holds something that is not a number"):
        read_skeleton(path)


def test_missing_folders_and_files(tmp_path):
    with pytest.raises(DatasetNotFound, match="no pku-mmd files under"):
        load_dataset("pku-mmd", root=tmp_path)
    base = _write(tmp_path, {"0002-L": _recording(6, False, 0)}, {"0002-L": [(1, 0, 5, 1)]})
    (base / "Train_Label_PKU_final" / "0003-M.txt").write_text("1,0,3,1\n")
    with pytest.raises(DatasetNotFound, match="0003-M.txt has no skeleton file"):
        load_dataset("pku-mmd", root=tmp_path, show_progress=False)
    for f in (base / "Train_Label_PKU_final").iterdir():
        f.unlink()
    with pytest.raises(DatasetNotFound, match="no PKU-MMD labels files under"):
        load_dataset("pku-mmd", root=tmp_path, show_progress=False)


def test_degenerate_segments_are_counted(tmp_path):
    rows = _recording(30, False, 0)
    rows[10:20] = 0.0  # nobody tracked in these frames
    _write(tmp_path, {"0002-L": rows}, {"0002-L": [(1, 0, 10, 1), (2, 10, 20, 1), (3, 20, 21, 1)]})
    data = load_dataset("pku-mmd", root=tmp_path, show_progress=False)
    assert data.sample_ids == ("0002-L_001",)
    assert data.dropped == {"all_zero": ("0002-L_002",), "too_short": ("0002-L_003",)}
