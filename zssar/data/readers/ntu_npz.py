"""CTR-GCN ``.npz`` files (``NTU60_CS.npz`` ...) read chunk by chunk, their skeletons kept on disk.

A full NTU-60 file is about 10 GB of float32 (NTU-120: 20 GB); ``np.load`` reads it whole and the
in-memory reader then holds it several times. Here nothing of the size of the dataset is in memory:

1. ``x_train`` / ``x_test`` are memory-mapped where they lie inside the zip
   (:mod:`.npz_members`; ``np.savez``, what CTR-GCN writes, stores them uncompressed). A compressed
   file (``np.savez_compressed``) is first decompressed, 64 MiB at a time, into plain ``.npy``
   files of the cache entry, which are deleted once the skeleton array is built: it costs its size
   on disk for that time, never its size in memory.
2. An index pass over them in chunks gives each sample's length (up to its last non-zero frame, as
   the in-memory reader cuts it) and whether those frames hold NaN/inf, and checks each member's
   CRC-32. It is kept as ``index.npz`` in the entry.
3. The kept samples are written once, chunk by chunk, as the padded (N, 2, T, 25, 3) float32 array
   ``x-<digest of the kept samples>.npy``; ``SkeletonSet.x`` is a read-only memory map of it.

Why a copy on disk rather than views of the npz: ``SkeletonSet.x`` is one array over both sides,
persons before frames, without the dropped samples and zero after each length; the npz holds two
arrays of (T, persons x joints x coords) rows. No view gives that; the one copy is on disk.

The entry is ``<cache>/ctrgcn/<hash of the file's resolved path, size, mtime and FORMAT>/``: a new
or changed file gets a new entry, and the entries of earlier versions of that path are removed
(each costs the dataset's size on disk). Each file is written under a temporary name and renamed;
a partial or damaged one is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ...config import cache_root
from ...errors import InvalidData
from ...utils import progress, stable_hash
from ..ondisk import chunk_rows, open_npy, row_chunks, write_npy
from .npz_members import Member, extract_member, map_member, npz_members

FORMAT = 1  # what an entry holds; a change here makes new entries
SIDES = ("train", "test")
PERSONS, JOINTS = 2, 25


class CtrgcnArrays:
    """The skeleton members of one CTR-GCN file and their cache entry."""

    def __init__(self, file: Path, show_progress: bool = True):
        self.file, self.show_progress = Path(file), show_progress
        self.members: dict[str, Member] = npz_members(self.file, [f"x_{side}" for side in SIDES])
        for m in self.members.values():
            if len(m.shape) != 3 or m.shape[2] != PERSONS * JOINTS * 3 or not np.issubdtype(m.dtype, np.number):
                raise InvalidData(f"{self.file}: {m.name} is {m.dtype} {m.shape}; a CTR-GCN file holds (N, T, 150) "
                                  "numbers per side (2 persons x 25 joints x 3 coordinates per frame).")
        if self.members["x_train"].shape[1] != self.members["x_test"].shape[1]:
            raise InvalidData(f"{self.file}: x_train has {self.members['x_train'].shape[1]} frames and x_test "
                              f"{self.members['x_test'].shape[1]}; both sides of a CTR-GCN file have the same.")
        stat = self.file.stat()
        self.key = {"path": str(self.file.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                    "format": FORMAT}
        self.entry = cache_root() / "ctrgcn" / stable_hash(self.key)

    def _claim_entry(self) -> None:
        """Create the entry, and remove the entries of earlier versions of the same file (each its size on disk)."""
        self.entry.mkdir(parents=True, exist_ok=True)
        (self.entry / "source.json").write_text(json.dumps(self.key))
        for other in self.entry.parent.iterdir():
            try:
                source = json.loads((other / "source.json").read_text())["path"]
                stale = other != self.entry and source == self.key["path"]
            except (OSError, ValueError, KeyError):
                continue
            if stale:
                shutil.rmtree(other, ignore_errors=True)

    def sizes(self) -> dict[str, int]:
        return {side: self.members[f"x_{side}"].shape[0] for side in SIDES}

    def _source(self, side: str) -> np.ndarray:
        """The (N, T, 150) array of one side, read-only and memory-mapped."""
        member = self.members[f"x_{side}"]
        if not member.compressed:
            return map_member(member)
        extracted = self.entry / f"{member.name}.npy"
        try:
            return open_npy(extracted, member.shape, member.dtype)
        except InvalidData:
            return open_npy(extract_member(member, extracted), member.shape, member.dtype)

    def _chunks(self, side: str, what: str):
        source = self._source(side)
        total = -(-len(source) // chunk_rows(source))
        return progress(row_chunks(source), total=total, desc=f"{self.file.stem} {what} x_{side}",
                        enabled=self.show_progress)

    def frame_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Per sample, train rows then test rows: frames up to the last non-zero one, and whether they are finite."""
        path, n = self.entry / "index.npz", sum(self.sizes().values())
        try:
            with np.load(path) as f:
                lengths, finite = f["lengths"], f["finite"]
            if lengths.shape == finite.shape == (n,):
                return lengths, finite
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # no index yet, or a damaged one: build it
        lengths, finite = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
        offset = 0
        for side in SIDES:
            member = self.members[f"x_{side}"]
            frames = member.shape[1]
            crc = zlib.crc32(member.header)
            for start, stop, chunk in self._chunks(side, "index"):
                if not member.compressed:  # zipfile checked a compressed member's CRC when extracting it
                    crc = zlib.crc32(chunk, crc)
                chunk = chunk.astype(np.float32, copy=False)
                moving = np.abs(chunk).sum(axis=2) > 0  # (k, T); NaN frames do not count, as before
                rows = slice(offset + start, offset + stop)
                lengths[rows] = np.where(moving.any(1), frames - np.argmax(moving[:, ::-1], axis=1), 0)
                bad = ~np.isfinite(chunk).all(axis=2)
                finite[rows] = ~(bad & (np.arange(frames) < lengths[rows, None])).any(1)
            if not member.compressed:
                member.check_crc(crc)
            offset += member.shape[0]
        self._claim_entry()
        tmp = path.with_name(f".index.{os.getpid()}.npz")
        np.savez(tmp, lengths=lengths, finite=finite)
        os.replace(tmp, path)
        return lengths, finite

    def padded(self, keep: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The (K, 2, T, 25, 3) float32 array of the samples ``keep`` (bool over all rows), memory-mapped.

        T is the longest kept length; frames past each sample's length are zero.
        """
        frames = int(lengths[keep].max())
        shape = (int(keep.sum()), PERSONS, frames, JOINTS, 3)
        path = self.entry / f"x-{hashlib.sha256(np.packbits(keep).tobytes()).hexdigest()[:16]}.npy"
        try:
            x = open_npy(path, shape, np.float32)
        except InvalidData:  # not built yet, or partial or damaged: (re)build it
            x = open_npy(write_npy(path, shape, np.float32, self._blocks(keep, lengths, frames)), shape, np.float32)
        for member in self.members.values():  # decompressed copies are needed only to build x
            if member.compressed:
                (self.entry / f"{member.name}.npy").unlink(missing_ok=True)
        return x

    def _blocks(self, keep: np.ndarray, lengths: np.ndarray, frames: int):
        offset = 0
        for side in SIDES:
            for start, stop, chunk in self._chunks(side, "write"):
                rows = slice(offset + start, offset + stop)
                kept = keep[rows]
                block = chunk[kept, :frames].astype(np.float32, copy=False)
                block[np.arange(frames) >= lengths[rows][kept][:, None]] = 0.0  # trimmed, as the in-memory reader
                yield block.reshape(len(block), frames, PERSONS, JOINTS, 3).transpose(0, 2, 1, 3, 4)
            offset += self.members[f"x_{side}"].shape[0]
