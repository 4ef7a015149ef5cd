"""The bring-your-own interchange file: one ``.npz`` that any zssar command reads as ``npz:PATH``.

Keys:

* ``x``: (N, T, V, 3) or (N, M, T, V, 3) float, zero padded after each sample's length;
* ``lengths`` (N,) ints, optional (default: up to the last non-zero frame);
* ``y`` (N,) 0-based ints; ``class_names`` (K,) strings;
* ``subject`` (N,) ints; ``view`` (N,) ints, optional;
* ``layout``: a registered layout name (``ntu25``, ``kinect20``, ``openni15``), or ``joint_names`` (V,)
  strings + ``bones`` (E, 2) ints, from which part groups are matched by joint names;
* ``sample_ids`` (N,) strings and ``name`` (a string), optional.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DatasetNotFound, InvalidData
from .custom_layout import layout_from_joint_names
from .layouts import LAYOUTS, get_layout
from .readers.common import Samples, assemble
from .skeleton import SkeletonSet

REQUIRED = ("x", "y", "class_names", "subject")


def save_npz(data: SkeletonSet, path: str | os.PathLike) -> Path:
    """Write ``data`` as an interchange file (the registered layout by name, else joints + bones)."""
    path = Path(path)
    arrays = {"x": data.x, "lengths": data.lengths, "y": data.labels, "class_names": np.array(data.class_names),
              "subject": data.subjects, "view": data.views, "sample_ids": np.array(data.sample_ids),
              "name": np.array(data.name)}
    if LAYOUTS.get(data.layout.name) == data.layout:
        arrays["layout"] = np.array(data.layout.name)
    else:
        arrays["joint_names"] = np.array(data.layout.joints)
        arrays["bones"] = np.array(data.layout.bones, dtype=np.int64).reshape(-1, 2)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:  # write then rename: a failed write leaves no half file at ``path``
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)
    return path


def load_npz(path: str | os.PathLike, *, min_frames: int = 2, degenerate: str = "drop") -> SkeletonSet:
    """Read an interchange file into a SkeletonSet, screening degenerate sequences like every reader."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetNotFound(f"no interchange file at {path}; pass --dataset npz:PATH with the .npz path.")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        # numpy's own message may suggest loading with allow_pickle, which would run code the file holds
        reason = "it holds Python objects, which are never loaded" if "pickle" in str(exc) else type(exc).__name__
        raise InvalidData(f"{path} is not a valid interchange file ({reason}): an interchange file is an .npz of "
                          f"plain arrays {list(REQUIRED)} plus 'layout' or 'joint_names' + 'bones', as "
                          "zssar.data.interchange.save_npz writes it; the file may be truncated.") from None
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise InvalidData(f"{path}: missing key(s) {missing}; an interchange file needs {list(REQUIRED)} "
                          "and 'layout' or 'joint_names' + 'bones' (see zssar.data.interchange).")
    name = str(arrays["name"]) if "name" in arrays else path.stem
    if "layout" in arrays:
        layout = get_layout(str(arrays["layout"]))
    elif "joint_names" in arrays and "bones" in arrays:
        layout = layout_from_joint_names(arrays["joint_names"].tolist(), arrays["bones"], name=f"{name}-joints")
    else:
        raise InvalidData(f"{path}: give either 'layout' (one of {sorted(LAYOUTS)}) or 'joint_names' + 'bones'.")
    x = np.asarray(arrays["x"])
    if x.ndim == 4:
        x = x[:, None]
    if x.ndim != 5 or x.shape[-1] != 3:
        raise InvalidData(f"{path}: x has shape {x.shape}; expected (N, T, V, 3) or (N, M, T, V, 3).")
    if x.shape[3] != layout.num_joints:
        raise InvalidData(f"{path}: x has {x.shape[3]} joints but layout {layout.name!r} has {layout.num_joints}.")
    n = x.shape[0]
    lengths = arrays.get("lengths")
    if lengths is None:
        moving = np.abs(np.nan_to_num(x, nan=1.0)).sum(axis=(1, 3, 4)) > 0
        lengths = np.where(moving.any(1), x.shape[2] - np.argmax(moving[:, ::-1], axis=1), 0)
    columns = {"y": arrays["y"], "subject": arrays["subject"], "lengths": lengths,
               "view": arrays.get("view", np.zeros(n, dtype=np.int64))}
    for key, values in columns.items():
        if np.shape(values) != (n,):
            raise InvalidData(f"{path}: {key} has shape {np.shape(values)}; expected ({n},), one per sample.")
    ids = arrays["sample_ids"].tolist() if "sample_ids" in arrays else [f"{name}_{i:06d}" for i in range(n)]
    samples = Samples()
    for i in range(n):
        samples.add(x[i, :, : int(lengths[i])], int(arrays["y"][i]), int(arrays["subject"][i]),
                    int(columns["view"][i]), str(ids[i]))
    return assemble(samples, name=name, class_names=arrays["class_names"].tolist(), layout=layout,
                    source=f"interchange file {path}", min_frames=min_frames, degenerate=degenerate)
