"""What every reader shares: parsing one sequence file, screening degenerate sequences, padding.

Readers turn files into a list of per-sample arrays (M, T, V, 3) plus metadata, then call
:func:`assemble`, which drops degenerate sequences *explicitly* (the reasons and sample ids are
kept in ``SkeletonSet.dropped`` and printed in its ``source``) and builds the padded SkeletonSet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import DatasetNotFound, InvalidData
from ..layouts import Layout
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


def assemble(samples: Samples, *, name: str, class_names, layout: Layout, source: str,
             min_frames: int = 2, degenerate: str = "drop", max_persons: int | None = None,
             official_train: dict | None = None) -> SkeletonSet:
    """Screen, pad and validate the samples of a reader into a SkeletonSet.

    ``degenerate="drop"`` leaves out sequences with NaN/inf coordinates, no non-zero coordinate or
    fewer than ``min_frames`` frames and records them; ``"raise"`` stops at the first one instead.
    """
    if degenerate not in ("drop", "raise"):
        raise InvalidData(f"degenerate must be 'drop' or 'raise', got {degenerate!r}")
    keep, dropped = [], {}
    for i, seq in enumerate(samples.sequences):
        reason = degenerate_reason(seq, min_frames)
        if reason is None:
            keep.append(i)
            continue
        if degenerate == "raise":
            raise InvalidData(f"{name}: sample {samples.sample_ids[i]} is degenerate ({reason}, "
                              f"{seq.shape[1]} frames); pass degenerate='drop' to leave such samples out.")
        dropped.setdefault(reason, []).append(samples.sample_ids[i])
    if not keep:
        raise InvalidData(f"{name}: every sequence is degenerate ({ {k: len(v) for k, v in dropped.items()} }).")
    persons = max(samples.sequences[i].shape[0] for i in keep)
    persons = min(persons, max_persons) if max_persons else persons
    frames = max(samples.sequences[i].shape[1] for i in keep)
    x = np.zeros((len(keep), persons, frames, layout.num_joints, 3), dtype=np.float32)
    lengths = np.zeros(len(keep), dtype=np.int64)
    for row, i in enumerate(keep):
        seq = samples.sequences[i][:persons]
        x[row, : seq.shape[0], : seq.shape[1]] = seq
        lengths[row] = seq.shape[1]
    pick = lambda values: np.asarray(values)[keep]  # noqa: E731
    note = ", ".join(f"{len(v)} {k}" for k, v in sorted(dropped.items())) or "none"
    return from_arrays(
        x, pick(samples.labels), class_names, layout, subjects=pick(samples.subjects),
        views=pick(samples.views), lengths=lengths, sample_ids=[samples.sample_ids[i] for i in keep],
        name=name, source=f"{source}; {len(samples.sequences)} sequences read, dropped: {note}",
        dropped=dropped, official_train={k: np.asarray(v)[keep] for k, v in (official_train or {}).items()},
    )
