"""What every reader shares: parsing one sequence file, screening degenerate sequences, padding.

Readers turn files into a list of per-sample arrays (M, T, V, 3) plus metadata, then call
:func:`assemble`, which drops degenerate sequences *explicitly* (the reasons and sample ids are
kept in ``SkeletonSet.dropped`` and printed in its ``source``) and builds the padded SkeletonSet
(on disk, memory-mapped, when it would be larger than the reader's ``max_in_memory_bytes``).
"""
from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...config import cache_root
from ...errors import DatasetNotFound, InvalidData
from ..layouts import Layout
from ..ondisk import chunk_rows, open_npy, write_npy
from ..skeleton import SkeletonSet, from_arrays

DEGENERATE_REASONS = ("nan", "all_zero", "too_short")


@dataclass
class Samples:
    """Per-sample arrays and metadata collected by a reader before padding."""

    sequences: list = field(default_factory=list)  # each (M, T, V, 3) float32
    labels: list = field(default_factory=list)
    subjects: list = field(default_factory=list)
    views: list = field(default_factory=list)
    sample_ids: list = field(default_factory=list)

    def add(self, seq: np.ndarray, label: int, subject: int, view: int, sample_id: str) -> None:
        self.sequences.append(seq if seq.ndim == 4 else seq[None])
        self.labels.append(label)
        self.subjects.append(subject)
        self.views.append(view)
        self.sample_ids.append(sample_id)


def find_files(folder: Path, pattern: str, dataset: str, example: str) -> tuple[list[tuple[Path, re.Match]], int]:
    """Files of ``folder`` whose names match ``pattern`` (sorted), and how many other files were there."""
    if not folder.is_dir():
        raise DatasetNotFound(f"no {dataset} folder at {folder}; set ZSSAR_DATA or pass root= to the folder "
                              f"that holds it.")
    regex = re.compile(pattern)
    matched, other = [], 0
    for path in sorted(folder.iterdir()):
        m = regex.fullmatch(path.name)
        if m:
            matched.append((path, m))
        elif path.is_file():
            other += 1
    if not matched:
        raise DatasetNotFound(f"no {dataset} files under {folder} (expected names like {example}); "
                              "is ZSSAR_DATA / root= pointing at the right folder?")
    return matched, other


def read_xyz_text(path: Path, num_joints: int, layout_name: str) -> np.ndarray:
    """A sequence file with one ``x y z`` line per joint, frames in order -> (T, V, 3) float32."""
    text = path.read_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    try:
        values = np.array(text.split(), dtype=np.float32)
    except ValueError:
        bad = next(i for i, ln in enumerate(lines) if not _is_numbers(ln))
        raise InvalidData(f"{path}: line {bad + 1} is not three numbers: {lines[bad]!r}") from None
    if values.size != 3 * len(lines):
        bad = next(i for i, ln in enumerate(lines) if len(ln.split()) != 3)
        raise InvalidData(f"{path}: line {bad + 1} has {len(lines[bad].split())} values, expected 'x y z'; "
                          "the file is truncated or not a joint file.")
    if not lines or len(lines) % num_joints:
        raise InvalidData(
            f"{path}: {len(lines)} joint lines is not a whole number of {num_joints}-joint frames "
            f"(layout {layout_name}); the file is truncated or holds a different joint count."
        )
    return values.reshape(-1, num_joints, 3)


def _is_numbers(line: str) -> bool:
    try:
        [float(v) for v in line.split()]
        return True
    except ValueError:
        return False


def degenerate_reason(seq: np.ndarray, min_frames: int) -> str | None:
    """Why a (M, T, V, 3) sequence cannot be used, or None when it is fine."""
    if not np.isfinite(seq).all():
        return "nan"
    if not np.abs(seq).any():
        return "all_zero"
    if seq.shape[1] < min_frames:
        return "too_short"
    return None


def check_degenerate(degenerate: str) -> None:
    if degenerate not in ("drop", "raise"):
        raise InvalidData(f"degenerate must be 'drop' or 'raise', got {degenerate!r}")


def screen_reasons(reasons, sample_ids, frames, *, name: str, degenerate: str) -> tuple[list[int], dict]:
    """Which samples to keep given each one's :func:`degenerate_reason`, and the dropped ids by reason.

    ``degenerate="raise"`` stops at the first degenerate sample instead (``frames``: its frame count).
    """
    check_degenerate(degenerate)
    keep, dropped = [], {}
    for i, reason in enumerate(reasons):
        if reason is None:
            keep.append(i)
            continue
        if degenerate == "raise":
            raise InvalidData(f"{name}: sample {sample_ids[i]} is degenerate ({reason}, "
                              f"{frames[i]} frames); pass degenerate='drop' to leave such samples out.")
        dropped.setdefault(reason, []).append(sample_ids[i])
    if not keep:
        raise InvalidData(f"{name}: every sequence is degenerate ({ {k: len(v) for k, v in dropped.items()} }).")
    return keep, dropped


def assemble(samples: Samples, *, name: str, class_names, layout: Layout, source: str,
             min_frames: int = 2, degenerate: str = "drop", max_persons: int | None = None,
             official_train: dict | None = None, max_in_memory_bytes: int | None = None) -> SkeletonSet:
    """Screen, pad and validate the samples of a reader into a SkeletonSet.

    ``degenerate="drop"`` leaves out sequences with NaN/inf coordinates, no non-zero coordinate or
    fewer than ``min_frames`` frames and records them; ``"raise"`` stops at the first one instead.
    A padded array above ``max_in_memory_bytes`` is written to a scratch file under the cache folder
    and memory-mapped (:func:`pad_on_disk`) rather than held in memory.
    """
    check_degenerate(degenerate)
    reasons = [degenerate_reason(seq, min_frames) for seq in samples.sequences]
    keep, dropped = screen_reasons(reasons, samples.sample_ids, [s.shape[1] for s in samples.sequences],
                                   name=name, degenerate=degenerate)
    persons = max(samples.sequences[i].shape[0] for i in keep)
    persons = min(persons, max_persons) if max_persons else persons
    shape = (len(keep), persons, max(samples.sequences[i].shape[1] for i in keep), layout.num_joints, 3)
    lengths = np.array([samples.sequences[i].shape[1] for i in keep], dtype=np.int64)
    if max_in_memory_bytes is not None and 4 * int(np.prod(shape, dtype=np.int64)) > max_in_memory_bytes:
        x = pad_on_disk([samples.sequences[i] for i in keep], shape, name)
    else:
        x = np.zeros(shape, dtype=np.float32)
        for row, i in enumerate(keep):
            seq = samples.sequences[i][:persons]
            x[row, : seq.shape[0], : seq.shape[1]] = seq
    return package(x, lengths, keep, samples, dropped, read=len(samples.sequences), name=name,
                   class_names=class_names, layout=layout, source=source, official_train=official_train)


def package(x, lengths, keep, meta: Samples, dropped: dict, *, read: int, name: str, class_names, layout: Layout,
            source: str, official_train: dict | None) -> SkeletonSet:
    """The SkeletonSet of the kept samples ``keep`` (indices into ``meta``'s lists), ``x`` already padded."""
    pick = lambda values: np.asarray(values)[keep]  # noqa: E731
    note = ", ".join(f"{len(v)} {k}" for k, v in sorted(dropped.items())) or "none"
    return from_arrays(
        x, pick(meta.labels), class_names, layout, subjects=pick(meta.subjects),
        views=pick(meta.views), lengths=lengths, sample_ids=[meta.sample_ids[i] for i in keep],
        name=name, source=f"{source}; {read} sequences read, dropped: {note}",
        dropped=dropped, official_train={k: np.asarray(v)[keep] for k, v in (official_train or {}).items()},
    )


def pad_on_disk(sequences: list, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The padded (N, M, T, V, 3) array of ``sequences`` in a memory-mapped scratch file.

    The file is written once, chunk by chunk, under ``<cache>/scratch/`` and unlinked as soon as it
    is mapped (POSIX keeps a mapped file's data until the mapping goes), so it never outlives the
    process; its size is on disk, not in memory, while the set is in use.
    """
    n, persons, frames = shape[:3]
    rows = chunk_rows(np.empty((0, *shape[1:]), dtype=np.float32))

    def blocks():
        for start in range(0, n, rows):
            block = np.zeros((min(rows, n - start), *shape[1:]), dtype=np.float32)
            for row, seq in enumerate(sequences[start:start + rows]):
                block[row, : min(persons, seq.shape[0]), : seq.shape[1]] = seq[:persons]
            yield block

    path = cache_root() / "scratch" / f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}.npy"
    x = open_npy(write_npy(path, shape, np.float32, blocks()), shape, np.float32)
    try:
        path.unlink()
    except OSError:  # a system that cannot delete a mapped file (Windows) keeps it until the cache is cleared
        pass
    return x
