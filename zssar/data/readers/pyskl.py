"""pyskl / mmaction2 annotation pickles, read as they are (``--dataset pyskl:PATH``).

A pickle holds ``{"split": {"xsub_train": [frame_dir, ...], "xsub_val": [...], ...},
"annotations": [{"frame_dir", "label", "keypoint" (M, T, V, C), "total_frames", ...}, ...]}``.

* Coordinates: ``C = 3`` is ``x y z``; ``C = 4`` is ``x y z score`` and the score is dropped; 2D data
  (``C = 2``, scores in ``keypoint_score``) gets ``z = 0`` and the source says so.
* Layout: ``ntu25`` when ``V = 25``; any other joint count needs ``layout=`` (a registered name or a
  :class:`~zssar.data.layouts.Layout`, e.g. from ``layout_from_joint_names``).
* Split lists become ``official_train``: the prefix names the setting (``xsub`` -> cross_subject,
  ``xview`` -> cross_view, ``xset`` -> cross_setup; plain ``train``/``val``/``test`` -> the dataset's
  default setting), ``*_train`` is the training side and ``*_val`` / ``*_test`` the test side.
  Samples a setting does not list go to its test side, counted in the source.
* Subjects and views come from the sample names: NTU names ``SsssCcccPpppRrrrAaaa`` (performer,
  camera) or names with ``_sNN`` / ``_vNN`` parts (``a01_s02_e01_v03``); otherwise 0.
* Class names: ``classes=`` (a registered dataset such as ``ntu60``, a list, or a text file with one
  name per line). Without it, NTU-named samples use the NTU 60 or 120 list (120 when a label is past
  59 or the split has ``xset`` lists) and take that dataset's name, so its descriptions and
  published splits apply; other pickles need ``classes=``.

The pickle is read with an unpickler that only builds NumPy arrays and plain containers, so a
hostile file cannot run code. On the command line options follow the path:
``pyskl:ntu60_3danno.pkl`` or ``pyskl:ucla.pkl:layout=kinect20:classes=nw-ucla``.
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np

from ...errors import DatasetNotFound, InvalidData
from ...utils import progress
from ...classnames import CLASS_NAMES, NTU60_CLASSES
from ..layouts import Layout, get_layout
from ..settings import DEFAULT_SETTING
from ..skeleton import SkeletonSet
from .common import Samples, assemble

SETTING_PREFIXES = {"xsub": "cross_subject", "xview": "cross_view", "xset": "cross_setup"}
TRAIN_SUFFIXES, TEST_SUFFIXES = ("train",), ("val", "test")
NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
SPEC_OPTIONS = ("layout", "classes")


class _ArraysOnly(pickle.Unpickler):
    """Builds NumPy arrays, dtypes and scalars; refuses every other global (no code runs)."""

    # mmcv writes protocol 2, where bytes are rebuilt through _codecs.encode (a pure function).
    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"), ("_codecs", "encode")} | {
        (f"numpy.{core}.{module}", name) for core in ("core", "_core")
        for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise InvalidData(f"the pickle refers to {module}.{name}; a pyskl annotation file holds only arrays, "
                              "lists and dicts, so this file is not one (it was not loaded).")
        return super().find_class(module, name)


def parse_spec(spec: str) -> tuple[str, dict]:
    """``PATH[:layout=NAME][:classes=NAME]`` (what follows ``pyskl:``) -> (path, options)."""
    parts, options = spec.split(":"), {}
    while len(parts) > 1 and "=" in parts[-1] and parts[-1].split("=")[0] in SPEC_OPTIONS:
        key, value = parts.pop().split("=", 1)
        options[key] = value
    return ":".join(parts), options


def read_pickle(path: Path) -> dict:
    """The annotation dict of a pyskl pickle, with its two keys checked."""
    if not path.is_file():
        raise DatasetNotFound(f"no pyskl annotation file at {path}; pass --dataset pyskl:PATH with the .pkl path.")
    try:
        with open(path, "rb") as f:
            content = _ArraysOnly(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidData(f"{path}: not a readable pickle ({exc}); the file is truncated or not a pyskl "
                          "annotation file.") from None
    if not isinstance(content, dict) or not isinstance(content.get("annotations"), list):
        keys = sorted(map(str, content))[:5] if isinstance(content, dict) else "-"
        raise InvalidData(f"{path}: expected a dict with 'annotations' (a list) and 'split' (a dict); got "
                          f"{type(content).__name__} with keys {keys}.")
    return content


def _coordinates(keypoint, frame_dir: str, path: Path) -> tuple[np.ndarray, bool]:
    """(M, T, V, C) keypoints -> (M, T, V, 3) float32, and whether the data was 2D."""
    kp = np.asarray(keypoint, dtype=np.float32)
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3, 4):
        raise InvalidData(f"{path}: sample {frame_dir} has keypoint shape {kp.shape}; expected (M, T, V, C) "
                          "with C = 2 (x y), 3 (x y z) or 4 (x y z score).")
    if kp.shape[-1] == 2:
        return np.concatenate([kp, np.zeros(kp.shape[:-1] + (1,), np.float32)], axis=-1), True
    return kp[..., :3], False


def _subject_view(frame_dir: str) -> tuple[int, int]:
    m = NTU_NAME.fullmatch(frame_dir)
    if m:
        return int(m.group(3)), int(m.group(2))
    subject = re.search(r"(?:^|_)s(\d+)(?:_|$)", frame_dir)
    view = re.search(r"(?:^|_)v(\d+)(?:_|$)", frame_dir)
    return (int(subject.group(1)) if subject else 0), (int(view.group(1)) if view else 0)


def resolve_classes(classes, labels: np.ndarray, names: list[str], split: dict, path: Path
                    ) -> tuple[str | None, tuple[str, ...]]:
    """(registered dataset name or None, class names) for the labels of a pickle."""
    if classes is None:
        if names and all(NTU_NAME.fullmatch(n) for n in names):
            ntu120 = labels.max() >= len(NTU60_CLASSES) or any(k.startswith("xset") for k in split)
            classes = "ntu120" if ntu120 else "ntu60"
        else:
            raise InvalidData(f"{path}: the class names are unknown; pass classes= (a dataset such as "
                              f"{', '.join(sorted(CLASS_NAMES))}, a list of names, or a text file with one name "
                              "per line; on the command line pyskl:PATH:classes=NAME_OR_FILE).")
    if isinstance(classes, str) and classes in CLASS_NAMES:
        return classes, CLASS_NAMES[classes]
    if isinstance(classes, (str, os.PathLike)):
        file = Path(classes).expanduser()
        if not file.is_file():
            raise DatasetNotFound(f"classes={classes!r} is neither a dataset ({', '.join(sorted(CLASS_NAMES))}) "
                                  "nor a file of class names.")
        classes = [ln.strip() for ln in file.read_text().splitlines() if ln.strip()]
    return None, tuple(str(c) for c in classes)


def official_sides(split: dict, names: list[str], dataset: str | None) -> tuple[dict, list[str]]:
    """``official_train`` per setting from the split lists, and notes on unlisted samples."""
    sides: dict[str, dict[str, set]] = {}
    for key, members in split.items():
        prefix, _, side = str(key).rpartition("_")  # "xsub_train" -> ("xsub", "train"); "train" -> ("", "train")
        if side not in TRAIN_SUFFIXES + TEST_SUFFIXES:
            continue
        if prefix and prefix not in SETTING_PREFIXES:
            continue
        setting = SETTING_PREFIXES[prefix] if prefix else DEFAULT_SETTING.get(dataset, "cross_subject")
        bucket = sides.setdefault(setting, {"train": set(), "test": set()})
        bucket["train" if side in TRAIN_SUFFIXES else "test"].update(str(m) for m in members)
    official, notes = {}, []
    for setting, bucket in sorted(sides.items()):
        both = bucket["train"] & bucket["test"]
        if both:
            raise InvalidData(f"split lists of {setting} put {sorted(both)[:3]} on both sides; "
                              "fix the pickle's split.")
        official[setting] = np.array([n in bucket["train"] for n in names])
        unlisted = sum(n not in bucket["train"] and n not in bucket["test"] for n in names)
        if unlisted:
            notes.append(f"{unlisted} samples not in the {setting} lists put on its test side")
    return official, notes


def load_pyskl(path, *, layout: str | Layout | None = None, classes=None, name: str | None = None,
               max_persons: int | None = None, min_frames: int = 2, degenerate: str = "drop",
               show_progress: bool = True) -> SkeletonSet:
    """Read a pyskl / mmaction2 annotation pickle into a SkeletonSet (see the module notes)."""
    path = Path(path).expanduser()
    content = read_pickle(path)
    annotations, split = content["annotations"], content.get("split") or {}
    try:
        names = [str(a["frame_dir"]) for a in annotations]
        labels = np.array([int(a["label"]) for a in annotations], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidData(f"{path}: every annotation needs 'frame_dir', 'label' and 'keypoint' ({exc!r}).") from None
    if not annotations:
        raise InvalidData(f"{path}: the pickle has no annotations.")
    dataset, class_names = resolve_classes(classes, labels, names, split, path)
    samples, flat = Samples(), False
    rows = list(zip(annotations, names, labels))
    for ann, frame_dir, label in progress(rows, desc="pyskl", enabled=show_progress):
        seq, is_2d = _coordinates(ann.get("keypoint"), frame_dir, path)
        if samples.sequences and seq.shape[2] != samples.sequences[0].shape[2]:
            raise InvalidData(f"{path}: sample {frame_dir} has {seq.shape[2]} joints, the first sample "
                              f"{names[0]} has {samples.sequences[0].shape[2]}; one pickle holds one joint set.")
        flat |= is_2d
        frames = int(ann.get("total_frames", seq.shape[1]))
        samples.add(seq[:, :frames], int(label), *_subject_view(frame_dir), frame_dir)
    layout = _layout(layout, samples.sequences[0].shape[2], path)
    official, notes = official_sides(split, names, dataset)
    notes += ["2D keypoints, z set to 0"] if flat else []
    return assemble(samples, name=name or dataset or path.stem, class_names=class_names, layout=layout,
                    source=f"pyskl annotations {path}" + (f" ({'; '.join(notes)})" if notes else ""),
                    min_frames=min_frames, degenerate=degenerate, max_persons=max_persons,
                    official_train=official)


def _layout(layout, joints: int, path: Path) -> Layout:
    if layout is not None:
        return get_layout(layout) if isinstance(layout, str) else layout
    if joints == 25:
        return get_layout("ntu25")
    raise InvalidData(f"{path}: keypoints have {joints} joints; pass layout= (a registered name such as "
                      "kinect20 or openni15, or a Layout from layout_from_joint_names; on the command line "
                      "pyskl:PATH:layout=NAME).")
