"""NTU readers on small generated files: raw .skeleton (bodies, truncation, joint count) and CTR-GCN npz."""
import numpy as np
import pytest

from zssar.data.protocol import train_mask
from zssar.data.readers.ntu import read_skeleton_file
from zssar.data.registry import load_dataset
from zssar.errors import InvalidData


def _skeleton_text(frames, bodies, joints=25, seed=0):
    """A raw NTU .skeleton text: ``bodies`` (id, amplitude) per frame."""
    rng = np.random.default_rng(seed)
    lines = [str(frames)]
    for t in range(frames):
        lines.append(str(len(bodies)))
        for body_id, amplitude in bodies:
            lines.append(f"{body_id} 0 1 1 1 1 0 0.1 0.1 2")
            lines.append(str(joints))
            for j in range(joints):
                x, y, z = np.array([0.1 * j, 0.05 * j, 3.0]) + amplitude * np.sin(t + j) + rng.normal(scale=1e-3, size=3)
                lines.append(f"{x:.5f} {y:.5f} {z:.5f} 200 150 900 500 0.1 0.2 0.3 0.4 2")
    return "\n".join(lines) + "\n"


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.skeleton").write_text(text)


def test_raw_files_keep_the_two_most_active_bodies(tmp_path):
    path = tmp_path / "a.skeleton"
    path.write_text(_skeleton_text(6, [("111", 0.0), ("222", 0.5), ("333", 0.2)]))
    x = read_skeleton_file(path)
    assert x.shape == (2, 6, 25, 3)
    assert x[0].var(axis=0).sum() > x[1].var(axis=0).sum() > 0.01  # 0.5-amplitude body first, still body dropped


def test_raw_folder_reads_names_and_skips_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "ntu60" / "nturgb+d_skeletons"
    _write(folder, "S001C002P001R001A010", _skeleton_text(5, [("1", 0.1)]))
    _write(folder, "S001C003P003R002A050", _skeleton_text(7, [("1", 0.1), ("2", 0.2)]))
    _write(folder, "S001C001P002R001A003", _skeleton_text(4, [("1", 0.1)]))
    _write(folder, "S018C001P002R001A003", _skeleton_text(4, [("1", 0.1)]))  # NTU120-only setup
    (tmp_path / "ntu60" / "samples_with_missing_skeletons.txt").write_text("S001C001P002R001A003\n")
    data = load_dataset("ntu60", root=tmp_path, show_progress=False)
    assert data.sample_ids == ("S001C002P001R001A010", "S001C003P003R002A050")
    assert list(data.labels) == [9, 49] and list(data.subjects) == [1, 3] and list(data.views) == [2, 3]
    assert data.x.shape == (2, 2, 7, 25, 3) and list(data.lengths) == [5, 7]
    assert "1 listed missing-skeleton samples skipped" in data.source
    assert list(train_mask(data, "cross_subject")) == [True, False]
    on_disk = load_dataset("ntu60", root=tmp_path, show_progress=False, max_in_memory_gib=0)  # a mapped scratch file
    assert not on_disk.x.flags.owndata and on_disk.fingerprint() == data.fingerprint()


def test_raw_truncated_and_wrong_joint_count(tmp_path):
    text = _skeleton_text(4, [("1", 0.1)])
    path = tmp_path / "t.skeleton"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InvalidData, match="truncated"):
        read_skeleton_file(path)
    path.write_text(_skeleton_text(3, [("1", 0.1)], joints=24))
    with pytest.raises(InvalidData, match="frame 0 has a body with 24 joints"):
        read_skeleton_file(path)


def test_ctrgcn_npz_recovers_names_from_the_sample_list(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))  # the file is read into a memory-mapped copy there
    names = ["S001C001P001R001A001", "S001C002P003R001A002", "S001C003P002R001A001", "S002C001P004R002A060"]
    meta = tmp_path / "ntu-metadata" / "ntu60"
    meta.mkdir(parents=True)
    (meta / "skes_available_name.txt").write_text("\n".join(names) + "\n")
    rng = np.random.default_rng(0)
    x = np.zeros((4, 300, 150), dtype=np.float32)
    for i, length in enumerate([20, 30, 40, 50]):
        x[i, :length, :75] = rng.normal(size=(length, 75))
    onehot = np.eye(60)[[0, 1, 0, 59]]
    train, test = [0, 2, 3], [1]  # performers 1, 2, 4 train; 3 test
    folder = tmp_path / "ntu60"
    folder.mkdir()
    np.savez(folder / "NTU60_CS.npz", x_train=x[train], y_train=onehot[train], x_test=x[test], y_test=onehot[test])
    data = load_dataset("ntu60", root=tmp_path)
    assert data.sample_ids == tuple(names[i] for i in train + test)
    assert list(data.lengths) == [20, 40, 50, 30] and data.official_train["cross_subject"].tolist() == [1, 1, 1, 0]
    np.testing.assert_allclose(data.x[0, 0, :20], x[0, :20, :75].reshape(20, 25, 3))
    np.savez(folder / "NTU60_CS.npz", x_train=x[train], y_train=np.eye(60)[[1, 0, 59]], x_test=x[test], y_test=onehot[test])
    with pytest.raises(InvalidData, match="labels disagree with the sample names"):
        load_dataset("ntu60", root=tmp_path)
