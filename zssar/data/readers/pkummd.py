"""PKU-MMD phase I (Liu et al. 2017): 51 actions, 3 Kinect v2 views, 25 joints in NTU order.

The published release is long recordings cut into actions by label files. Expected folder
``$ZSSAR_DATA/pku-mmd/`` holding

* a folder of skeleton files ``NNNN-V.txt`` (official name ``PKU_Skeleton_Renew/``): one line per
  frame with 150 numbers, 2 persons x 25 joints x ``x y z`` in metres; a missing second person is
  zeros;
* a folder of label files with the same names (official name ``Train_Label_PKU_final/``): one action
  per line ``label,start,end,confidence``, labels 1..51, frame indices into the skeleton file;
* optionally the official split files ``cross-subject.txt`` and ``cross-view.txt`` (anywhere below,
  usually ``Split/``); when present they give the official training side of each setting.

The two folders are told apart by their content (a label line has 4 comma-separated numbers, a
skeleton line 150), so any folder names work. Each label line becomes one sample: the frames
``start:end`` of its recording (the slice every public PKU-MMD preprocessing takes). The view is the
name suffix (``L`` = 1, ``M`` = 2, ``R`` = 3). File names do not carry the performer, so ``subjects``
holds the recording number ``NNNN`` (shared by its three views); the published cross-subject
division comes from ``cross-subject.txt``. A label whose range runs past the end of its skeleton file
is an error by default (the two files do not belong together, or the skeleton file is truncated);
``label_overrun="drop"`` leaves such segments out and counts them under ``past_end``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import DatasetNotFound, InvalidData
from ...utils import progress
from ...classnames import PKU51_CLASSES
from ..layouts import NTU25
from ..registry import register_dataset
from ..skeleton import SkeletonSet
from .common import Samples, assemble

NAME = re.compile(r"(\d{4})-([LMR])\.txt")
VIEWS = {"L": 1, "M": 2, "R": 3}
VALUES_PER_FRAME = 2 * NTU25.num_joints * 3
SPLIT_FILES = {"cross_subject": "cross-subject.txt", "cross_view": "cross-view.txt"}


def read_skeleton(path: Path) -> np.ndarray:
    """One skeleton file -> (2, T, 25, 3) float32 (the second person is zeros where absent)."""
    lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not lines:
        raise InvalidData(f"{path}: empty skeleton file; re-extract it from the PKU-MMD archive.")
    try:
        values = np.array(" ".join(lines).split(), dtype=np.float32)
    except ValueError:
        bad = next(i for i, ln in enumerate(lines) if not _numbers(ln.split()))
        raise InvalidData(f"{path}: line {bad + 1} holds something that is not a number; "
                          "the file is damaged.") from None
    if values.size != VALUES_PER_FRAME * len(lines):
        bad = next(i for i, ln in enumerate(lines) if len(ln.split()) != VALUES_PER_FRAME)
        raise InvalidData(f"{path}: line {bad + 1} has {len(lines[bad].split())} values, expected "
                          f"{VALUES_PER_FRAME} (2 persons x 25 joints x 3); the file is truncated or not a "
                          "PKU-MMD skeleton file.")
    return values.reshape(len(lines), 2, NTU25.num_joints, 3).transpose(1, 0, 2, 3)


def read_labels(path: Path) -> list[tuple[int, int, int, int]]:
    """One label file -> [(line number, 0-based label, start, end)], checked line by line."""
    out = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 4 or not all(re.fullmatch(r"-?\d+", f) for f in fields):
            raise InvalidData(f"{path}: line {number} is {line!r}; expected 'label,start,end,confidence' "
                              "(four integers).")
        label, start, end, _confidence = (int(f) for f in fields)
        if not 1 <= label <= len(PKU51_CLASSES):
            raise InvalidData(f"{path}: line {number} has label {label}; PKU-MMD phase I labels are "
                              f"1..{len(PKU51_CLASSES)}.")
        if not 0 <= start < end:
            raise InvalidData(f"{path}: line {number} has frames {start}..{end}; start must be >= 0 and "
                              "below end.")
        out.append((number, label - 1, start, end))
    return out


def read_split_file(path: Path) -> tuple[set[str], set[str]]:
    """An official split file -> (training recordings, test recordings), e.g. ``{"0002-L", ...}``.

    The file has a ``Training videos:`` line, then a comma-separated list, then a validation header
    (spelt ``Validataion videos:`` in the release) and its list.
    """
    sides: dict[str, set[str]] = {}
    current = None
    for line in Path(path).read_text().splitlines():
        if line.strip().endswith(":"):
            current = "train" if line.strip().lower().startswith("train") else "test"
            continue
        names = {n.strip().removesuffix(".txt") for n in line.split(",") if n.strip()}
        if names and current is None:
            raise InvalidData(f"{path}: names before any 'Training videos:' header; not a PKU-MMD split file.")
        if names:
            sides.setdefault(current, set()).update(names)
    if set(sides) != {"train", "test"}:
        raise InvalidData(f"{path}: expected a 'Training videos:' list and a validation list, found "
                          f"{sorted(sides) or 'neither'}.")
    return sides["train"], sides["test"]


def _numbers(values: list[str]) -> bool:
    try:
        [float(v) for v in values]
        return True
    except ValueError:
        return False


def _kind(file: Path) -> str | None:
    """``labels`` or ``skeletons`` from the first line of a file, None when it is neither."""
    with open(file) as f:
        first = next((ln for ln in f if ln.strip()), "")
    if len(first.split(",")) == 4:
        return "labels"
    return "skeletons" if len(first.split()) == VALUES_PER_FRAME else None


def find_folders(path: Path) -> tuple[Path, Path]:
    """The skeleton folder and the label folder below ``path``, told apart by content."""
    found: dict[str, list[Path]] = {"skeletons": [], "labels": []}
    folders = sorted({f.parent for f in path.rglob("*.txt") if NAME.fullmatch(f.name)})
    for folder in folders:
        kind = _kind(next(f for f in sorted(folder.iterdir()) if NAME.fullmatch(f.name)))
        if kind:
            found[kind].append(folder)
    examples = {"skeletons": "PKU_Skeleton_Renew/0002-L.txt", "labels": "Train_Label_PKU_final/0002-L.txt"}
    for kind, example in examples.items():
        if not found[kind]:
            raise DatasetNotFound(f"no PKU-MMD {kind} files under {path} (expected e.g. {example}); set "
                                  "ZSSAR_DATA or pass root= to the folder that holds pku-mmd/.")
        if len(found[kind]) > 1:
            raise InvalidData(f"several PKU-MMD {kind} folders under {path}: {[str(f) for f in found[kind]]}; "
                              "keep one (or pass skeletons= / labels= with the folder to use).")
    return found["skeletons"][0], found["labels"][0]


def _official_train(path: Path, recordings: list[str]) -> tuple[dict, list[str]]:
    """Official training side per setting from the split files found below ``path``."""
    official, notes = {}, []
    for setting, filename in SPLIT_FILES.items():
        files = sorted(path.rglob(filename))
        if not files:
            notes.append(f"no {filename}: {setting} uses zssar's rule on recording numbers / views")
            continue
        train, test = read_split_file(files[0])
        unknown = sorted({r for r in recordings if r not in train and r not in test})
        if unknown:
            raise InvalidData(f"{files[0]}: recordings {unknown[:5]} are in neither list; is it the phase I "
                              "split file?")
        official[setting] = np.array([r in train for r in recordings])
    return official, notes


def read_segments(label_file: Path, skeleton_file: Path, label_overrun: str = "raise"
                  ) -> tuple[list[tuple[str, int, np.ndarray]], list[str]]:
    """(sample id, label, (2, T, 25, 3) frames) per label line, and the ids of lines past the end."""
    if not skeleton_file.is_file():
        raise DatasetNotFound(f"{label_file} has no skeleton file {skeleton_file}; extract the matching "
                              "skeleton archive or remove the label file.")
    seq = read_skeleton(skeleton_file)
    segments, past_end = [], []
    for line, label, start, end in read_labels(label_file):
        sample_id = f"{label_file.stem}_{line:03d}"
        if end <= seq.shape[1]:
            segments.append((sample_id, label, seq[:, start:end].copy()))  # a copy frees the recording
        elif label_overrun == "drop":
            past_end.append(sample_id)
        else:
            raise InvalidData(
                f"{label_file}: line {line} labels frames {start}:{end}, past the end of {skeleton_file} "
                f"({seq.shape[1]} frames). The label and skeleton files do not belong together or the "
                "skeleton file is truncated: re-extract both, or pass label_overrun='drop' to leave "
                "such segments out (they are counted).")
    return segments, past_end


@register_dataset("pku-mmd", folder="pku-mmd")
def load_pkummd(path: Path, *, skeletons: str | None = None, labels: str | None = None,
                label_overrun: str = "raise", min_frames: int = 2, degenerate: str = "drop",
                show_progress: bool = True) -> SkeletonSet:
    """Every labelled action of PKU-MMD phase I under ``path``, one sample per label line."""
    path = Path(path)
    if label_overrun not in ("raise", "drop"):
        raise InvalidData(f"label_overrun must be 'raise' or 'drop', got {label_overrun!r}")
    if (skeletons is None) != (labels is None):
        raise InvalidData("pass both skeletons= and labels= (folders under the pku-mmd folder), or neither.")
    skeleton_dir, label_dir = (path / skeletons, path / labels) if skeletons else find_folders(path)
    label_files = sorted(f for f in label_dir.iterdir() if NAME.fullmatch(f.name))
    samples, recordings, overruns = Samples(), [], []
    for label_file in progress(label_files, desc="pku-mmd", enabled=show_progress):
        number, view = NAME.fullmatch(label_file.name).groups()
        segments, past_end = read_segments(label_file, skeleton_dir / label_file.name, label_overrun)
        for sample_id, label, frames in segments:
            samples.add(frames, label, int(number), VIEWS[view], sample_id)
            recordings.append(label_file.stem)
        overruns += past_end
    official, notes = _official_train(path, recordings)
    data = assemble(samples, name="pku-mmd", class_names=PKU51_CLASSES, layout=NTU25,
                    source=f"PKU-MMD phase I files in {path} ({len(label_files)} label files"
                           f"{'; ' + '; '.join(notes) if notes else ''})",
                    min_frames=min_frames, degenerate=degenerate, official_train=official)
    return _with_overruns(data, overruns)


def _with_overruns(data: SkeletonSet, overruns: list[str]) -> SkeletonSet:
    """Record label segments left out for running past their skeleton file, beside the degenerate ones."""
    if not overruns:
        return data
    from dataclasses import replace

    return replace(data, dropped={**data.dropped, "past_end": tuple(overruns)}, _fingerprint=[],
                   source=f"{data.source}; {len(overruns)} label segments past the end of their skeleton "
                          "file left out (past_end)")
