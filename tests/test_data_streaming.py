"""Data that streams: a CTR-GCN npz read in chunks into a memory map equals the in-memory reader, chunked
preprocessing equals the whole-array one, and damaged files or cache entries are reported or rebuilt."""
import hashlib
import zipfile

import numpy as np
import pytest

from zssar.data.ondisk import open_npy, row_chunks, write_npy
from zssar.data.preprocess import centre, fix_persons, prepare, resample, scale_normalised, view_normalised
from zssar.data.readers.common import Samples, assemble
from zssar.data.layouts import NTU25
from zssar.data.registry import load_dataset
from zssar.errors import InvalidData

NAMES = ["S001C001P001R001A001", "S001C002P003R001A002", "S001C003P002R001A001", "S002C001P004R002A060",
         "S003C002P005R002A007", "S004C003P006R001A033", "S005C001P008R001A012", "S006C002P007R002A045",
         "S007C003P009R001A003"]  # performers 3, 6, 7 are on the cross-subject test side


def _write_ctrgcn(tmp_path, compressed=False, frames=40):
    """A small NTU60_CS.npz with every kind of sample the reader screens, and its sample list."""
    meta = tmp_path / "ntu-metadata" / "ntu60"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "skes_available_name.txt").write_text("\n".join(NAMES) + "\n")
    rng = np.random.default_rng(0)
    x = np.zeros((len(NAMES), frames, 150), dtype=np.float32)
    for i, length in enumerate([20, 30, 35, 12, 1, 0, 25, 18, 33]):  # 1: too short, 0: all zero
        x[i, :length, : 150 if i % 2 else 75] = rng.normal(size=(length, 150 if i % 2 else 75))
    x[2, 5, 10] = -0.0
    x[6, 10, 3] = np.nan  # inside the length: dropped as "nan"
    x[7, 30, 0] = np.nan  # after the last non-zero frame: trimmed away, the sample stays
    onehot = np.eye(60)[[int(n[-3:]) - 1 for n in NAMES]]
    train = [i for i, n in enumerate(NAMES) if n[9:12] not in ("003", "006", "007")]
    test = [i for i in range(len(NAMES)) if i not in train]
    folder = tmp_path / "ntu60"
    folder.mkdir(exist_ok=True)
    save = np.savez_compressed if compressed else np.savez
    save(folder / "NTU60_CS.npz", x_train=x[train], y_train=onehot[train], x_test=x[test], y_test=onehot[test])
    return folder / "NTU60_CS.npz"


def _load(tmp_path, **options):
    return load_dataset("ntu60", root=tmp_path, metadata=tmp_path / "ntu-metadata", show_progress=False, **options)


def _old_fingerprint(data):
    """SkeletonSet.fingerprint as it was written before x could be a memory map: whole-array bytes."""
    h = hashlib.sha256()
    for arr in (data.x, data.lengths, data.labels, data.subjects, data.views):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update("\x1f".join(data.class_names).encode())
    h.update("\x1f".join(data.sample_ids).encode())
    h.update(data.layout.name.encode())
    for setting in sorted(data.official_train):
        h.update(setting.encode() + np.packbits(data.official_train[setting]).tobytes())
    return h.hexdigest()[:16]


def _assert_same(mapped, memory):
    assert mapped.x.shape == memory.x.shape and mapped.x.dtype == memory.x.dtype == np.float32
    assert np.array_equal(mapped.x.view(np.uint32), memory.x.view(np.uint32))  # bit for bit, -0.0 included
    for field in ("lengths", "labels", "subjects", "views"):
        np.testing.assert_array_equal(getattr(mapped, field), getattr(memory, field))
    assert mapped.sample_ids == memory.sample_ids and mapped.dropped == memory.dropped
    assert mapped.official_train.keys() == memory.official_train.keys() == {"cross_subject"}
    np.testing.assert_array_equal(mapped.official_train["cross_subject"], memory.official_train["cross_subject"])
    assert mapped.source == memory.source
    assert mapped.fingerprint() == memory.fingerprint() == _old_fingerprint(memory)


def _is_mapped(arr):
    while arr is not None and not isinstance(arr, np.memmap):
        arr = arr.base
    return arr is not None


@pytest.mark.parametrize("compressed, chunk_bytes", [(False, None), (False, 20_000), (True, None)])
def test_memory_mapped_ctrgcn_equals_the_in_memory_reader(tmp_path, monkeypatch, compressed, chunk_bytes):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    if chunk_bytes:  # every pass (index, write, validation, fingerprint) over several chunks of 1-3 samples
        monkeypatch.setattr("zssar.data.ondisk.CHUNK_BYTES", chunk_bytes)
    _write_ctrgcn(tmp_path, compressed)
    memory, mapped = _load(tmp_path, memory_map=False), _load(tmp_path)
    assert not _is_mapped(memory.x) and _is_mapped(mapped.x) and not mapped.x.flags.writeable
    assert mapped.dropped == {"all_zero": (NAMES[5],), "nan": (NAMES[6],), "too_short": (NAMES[4],)}
    assert mapped.x.shape == (6, 2, 35, 25, 3)
    _assert_same(mapped, memory)
    entry = next((tmp_path / "cache" / "ctrgcn").iterdir())
    kinds = sorted(p.name.split("-")[0] for p in entry.iterdir())
    assert kinds == ["index.npz", "source.json", "x"]  # no decompressed copy left
    _assert_same(_load(tmp_path), memory)  # from the cache entry
    assert _load(tmp_path, min_frames=30).x.shape[0] == 3


def test_degenerate_raise_is_the_same_on_both_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    _write_ctrgcn(tmp_path)
    messages = []
    for memory_map in (False, True):
        with pytest.raises(InvalidData, match="is degenerate") as err:
            _load(tmp_path, memory_map=memory_map, degenerate="raise")
        messages.append(str(err.value))
    assert messages[0] == messages[1] and NAMES[4] in messages[0]


def test_a_damaged_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    _write_ctrgcn(tmp_path)
    first = _load(tmp_path)
    entry = next((tmp_path / "cache" / "ctrgcn").iterdir())
    x_file = next(entry.glob("x-*.npy"))
    del first
    with open(x_file, "r+b") as f:
        f.truncate(x_file.stat().st_size - 100)
    (entry / "index.npz").write_bytes(b"not a zip")
    _assert_same(_load(tmp_path), _load(tmp_path, memory_map=False))


def test_a_changed_file_replaces_its_old_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    _write_ctrgcn(tmp_path)
    _load(tmp_path)
    _write_ctrgcn(tmp_path, frames=50)  # a new version of the file at the same path
    assert _load(tmp_path).x.shape == (6, 2, 35, 25, 3)
    assert len(list((tmp_path / "cache" / "ctrgcn").iterdir())) == 1


def test_truncated_or_corrupt_files_say_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    file = _write_ctrgcn(tmp_path)
    good = file.read_bytes()
    file.write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidData, match=r"NTU60_CS\.npz: not a complete \.npz.*truncated"):
        _load(tmp_path)
    start = good.index(b"\x93NUMPY")  # the first member's .npy header
    damaged = bytearray(good)
    damaged[start + 1: start + 6] = b"NOTPY"
    file.write_bytes(bytes(damaged))
    with pytest.raises(InvalidData, match=r"NTU60_CS\.npz: member x_\w+\.npy has no valid \.npy header"):
        _load(tmp_path)
    damaged = bytearray(good)
    damaged[len(good) // 4] ^= 0xFF  # one flipped byte inside x_train's data
    file.write_bytes(bytes(damaged))
    with pytest.raises(InvalidData, match=r"NTU60_CS\.npz: member x_train\.npy fails its CRC-32 check"):
        _load(tmp_path)


def test_a_damaged_compressed_member_is_reported_and_leaves_no_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    file = _write_ctrgcn(tmp_path, compressed=True)
    damaged = bytearray(file.read_bytes())
    damaged[len(damaged) // 4] ^= 0xFF  # inside x_train's deflated data
    file.write_bytes(bytes(damaged))
    with pytest.raises(InvalidData, match=r"NTU60_CS\.npz: member x_train\.npy cannot be decompressed"):
        _load(tmp_path)
    assert not list((tmp_path / "cache").rglob("*.npy"))


def test_a_member_shorter_than_its_header_is_truncated(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    file = _write_ctrgcn(tmp_path)
    with zipfile.ZipFile(file) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["x_test.npy"] = members["x_test.npy"][:-600]  # a consistent zip whose array data stops short
    with zipfile.ZipFile(file, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(InvalidData, match=r"NTU60_CS\.npz: member x_test\.npy: the zip says \d+ bytes but its "
                                          r"\.npy header describes \d+"):
        _load(tmp_path)


def _random_set(n=7, persons=2, frames=15, seed=0):
    from zssar.data.skeleton import from_arrays

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, persons, frames, 25, 3)).astype(np.float32)
    lengths = rng.integers(3, frames + 1, size=n)
    for i, length in enumerate(lengths):
        x[i, :, length:] = 0.0
    x[1, 1] = 0.0
    return from_arrays(x, np.arange(n) % 3, ["a", "b", "c"], "ntu25", lengths=lengths)


@pytest.mark.parametrize("options", [{}, {"persons": 3}, {"persons": 1, "normalise_view": True},
                                     {"normalise_view": True, "normalise_scale": True}])
def test_chunked_prepare_equals_the_whole_array(tmp_path, options):
    data = _random_set()
    x = data.x if "persons" not in options else fix_persons(data.x, options["persons"])
    x = view_normalised(x, data.layout) if options.get("normalise_view") else x
    x = scale_normalised(x, data.layout) if options.get("normalise_scale") else x
    whole = centre(resample(x, data.lengths, 12), data.layout.centre)
    for chunk in (1, 3, None):
        np.testing.assert_array_equal(prepare(data, 12, chunk=chunk, **options), whole)
    from dataclasses import replace

    mapped = replace(data, x=open_npy(write_npy(tmp_path / "x.npy", data.x.shape, np.float32, [data.x]),
                                      data.x.shape, np.float32), _fingerprint=[])
    np.testing.assert_array_equal(prepare(mapped, 12, chunk=2, **options), whole)
    assert mapped.fingerprint() == data.fingerprint() == _old_fingerprint(data)


def test_the_fingerprint_in_chunks_is_the_whole_array_digest(monkeypatch):
    data = _random_set(n=9)
    monkeypatch.setattr("zssar.data.ondisk.CHUNK_BYTES", data.x[0].nbytes * 2)  # chunks of 2 samples
    assert data.fingerprint() == _old_fingerprint(data)


def test_row_chunks_cover_the_rows_and_pages_read_back(tmp_path):
    arr = np.arange(5 * 7 * 3, dtype=np.float32).reshape(5, 7, 3)
    mapped = open_npy(write_npy(tmp_path / "a.npy", arr.shape, arr.dtype, [arr[:2], arr[2:]]), arr.shape, arr.dtype)
    seen = [(start, stop, chunk.copy()) for start, stop, chunk in row_chunks(mapped, rows=2)]
    assert [(a, b) for a, b, _ in seen] == [(0, 2), (2, 4), (4, 5)]
    np.testing.assert_array_equal(np.concatenate([c for _, _, c in seen]), arr)
    np.testing.assert_array_equal(mapped, arr)  # released pages are read again from the file
    with open(tmp_path / "a.npy", "r+b") as f:
        f.truncate(200)
    with pytest.raises(InvalidData, match="partial or damaged"):
        open_npy(tmp_path / "a.npy", arr.shape, arr.dtype)


def test_assemble_on_disk_equals_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    samples = Samples()
    for i, (persons, frames) in enumerate([(1, 5), (2, 9), (3, 4), (1, 1), (2, 7)]):
        samples.add(rng.normal(size=(persons, frames, 25, 3)).astype(np.float32), i % 2, i, 1, f"s{i}")
    kwargs = dict(name="t", class_names=["a", "b"], layout=NTU25, source="test", max_persons=2)
    memory, disk = assemble(samples, **kwargs), assemble(samples, max_in_memory_bytes=0, **kwargs)
    assert _is_mapped(disk.x) and not _is_mapped(memory.x) and disk.dropped == {"too_short": ("s3",)}
    np.testing.assert_array_equal(disk.x, memory.x)
    assert disk.fingerprint() == memory.fingerprint()
    assert list((tmp_path / "cache" / "scratch").iterdir()) == []  # the scratch file is unlinked once mapped
