"""``SkeletonSet``: the one in-memory form of a skeleton dataset.

Every reader returns one, every backbone consumes one. Layout of ``x`` follows pyskl:
(N samples, M persons, T frames, V joints, 3 coordinates), zero padded in persons and frames.
``x`` is an array in memory or, for datasets larger than memory (NTU from a CTR-GCN file), a
read-only memory map of an ``.npy`` file; whatever reads all of it goes by row chunks
(:func:`zssar.data.ondisk.row_chunks`), as :meth:`SkeletonSet.fingerprint` and ``prepare`` do;
:meth:`SkeletonSet.subset` copies the rows it selects into memory.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidData
from .layouts import Layout, get_layout
from .ondisk import row_chunks


@dataclass(frozen=True, eq=False)
class SkeletonSet:
    """An immutable set of skeleton sequences with their labels and metadata.

    Build one with :func:`from_arrays` (validates everything) rather than the constructor.
    """

    name: str
    x: np.ndarray  # float32 (N, M, T, V, 3)
    lengths: np.ndarray  # int64 (N,) valid frames per sample
    labels: np.ndarray  # int64 (N,) class ids into class_names
    subjects: np.ndarray  # int64 (N,)
    views: np.ndarray  # int64 (N,) camera / view id (0 where the dataset has one view)
    class_names: tuple[str, ...]
    layout: Layout
    sample_ids: tuple[str, ...]
    source: str = ""  # where the data came from, shown in every report
    # Sequences a reader left out, by reason ("too_short", "all_zero", "nan"): reason -> sample ids.
    dropped: dict = field(default_factory=dict, compare=False)
    # Official training side per evaluation setting where the files define it (CTR-GCN npz, pyskl split
    # lists, PKU-MMD split files): setting -> bool (N,). The protocol prefers these over any rule.
    official_train: dict = field(default_factory=dict, compare=False)
    _fingerprint: list = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index) -> "SkeletonSet":
        """A new set with the samples at ``index`` (ints or a boolean mask), in that order."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return SkeletonSet(
            name=self.name, x=self.x[idx], lengths=self.lengths[idx], labels=self.labels[idx],
            subjects=self.subjects[idx], views=self.views[idx], class_names=self.class_names,
            layout=self.layout, sample_ids=tuple(self.sample_ids[i] for i in idx), source=self.source,
            dropped=self.dropped, official_train={k: v[idx] for k, v in self.official_train.items()},
        )

    def fingerprint(self) -> str:
        """A content hash of the arrays and metadata, used to key caches."""
        if not self._fingerprint:
            h = hashlib.sha256()
            # x in consecutive C-order row chunks: the same digest as its whole bytes, without building
            # them (x may be a memory map of 10 GB)
            for _, _, chunk in row_chunks(self.x):
                h.update(np.ascontiguousarray(chunk))
            for arr in (self.lengths, self.labels, self.subjects, self.views):
                h.update(np.ascontiguousarray(arr).tobytes())
            h.update("\x1f".join(self.class_names).encode())
            h.update("\x1f".join(self.sample_ids).encode())
            h.update(self.layout.name.encode())
            for setting in sorted(self.official_train):
                h.update(setting.encode() + np.packbits(self.official_train[setting]).tobytes())
            self._fingerprint.append(h.hexdigest()[:16])
        return self._fingerprint[0]

    def summary(self) -> dict:
        """Counts a person can check: samples, classes, subjects, views, frames."""
        return {
            "dataset": self.name,
            "source": self.source,
            "samples": len(self),
            "classes": self.num_classes,
            "subjects": sorted(int(s) for s in np.unique(self.subjects)),
            "views": sorted(int(v) for v in np.unique(self.views)),
            "layout": self.layout.name,
            "persons": int(self.x.shape[1]),
            "frames_padded": int(self.x.shape[2]),
            "frames_min_median_max": [int(self.lengths.min()), int(np.median(self.lengths)),
                                      int(self.lengths.max())] if len(self) else [],
            "dropped": {reason: len(ids) for reason, ids in self.dropped.items()},
        }


def from_arrays(
    x,
    labels,
    class_names,
    layout: Layout | str,
    *,
    subjects=None,
    views=None,
    lengths=None,
    sample_ids=None,
    name: str = "custom",
    source: str = "arrays",
    dropped: dict | None = None,
    official_train: dict | None = None,
) -> SkeletonSet:
    """Validate user arrays and wrap them as a :class:`SkeletonSet`.

    ``x`` is (N, T, V, 3) for one person or (N, M, T, V, 3); frames past ``lengths`` must be zero.
    ``layout`` is a registered name (``ntu25``, ``kinect20``, ``openni15``) or a :class:`Layout`, e.g.
    one made from your joint names by :func:`zssar.data.custom_layout.layout_from_joint_names`.
    ``dropped`` records sequences left out before (reason -> sample ids); ``official_train`` gives a
    predefined training side per evaluation setting (setting -> bool (N,)).
    Every problem is reported with what was expected and how to fix it.
    """
    if isinstance(layout, str):
        layout = get_layout(layout)
    x = np.asarray(x)
    if x.ndim == 4:
        x = x[:, None]
    if x.ndim != 5 or x.shape[-1] != 3:
        raise InvalidData(
            f"{name}: skeleton array has shape {x.shape}; expected (N, T, V, 3) or (N, M, T, V, 3) "
            "with 3 coordinates per joint. Reshape it, e.g. x.reshape(N, T, V, 3)."
        )
    n, _, t, v, _ = x.shape
    if v != layout.num_joints:
        raise InvalidData(
            f"{name}: skeleton array has {v} joints but layout {layout.name!r} has {layout.num_joints}; "
            "pass the layout that matches the data."
        )
    if not np.issubdtype(x.dtype, np.number):
        raise InvalidData(f"{name}: skeleton array has dtype {x.dtype}; expected floating point numbers.")
    x = x.astype(np.float32, copy=False)
    bad_count, bad_samples = 0, []
    for start, _, chunk in row_chunks(x):  # in chunks: x may be a memory map larger than memory
        bad = ~np.isfinite(chunk)
        if bad.any():
            bad_count += int(bad.sum())
            bad_samples.extend((start + np.unique(np.nonzero(bad)[0])).tolist())
    if bad_count:
        raise InvalidData(
            f"{name}: {bad_count} NaN/inf coordinates in {len(bad_samples)} sample(s) "
            f"(first: {bad_samples[:5]}); drop those samples or fill the gaps before loading."
        )
    labels = _int_vector(labels, n, "labels", name)
    class_names = tuple(str(c) for c in class_names)
    if len(set(class_names)) != len(class_names):
        raise InvalidData(f"{name}: class names are not unique: {class_names}")
    if n and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise InvalidData(
            f"{name}: labels range {labels.min()}..{labels.max()} but there are {len(class_names)} class "
            "names; labels must be 0-based indices into class_names."
        )
    subjects = _int_vector(np.zeros(n) if subjects is None else subjects, n, "subjects", name)
    views = _int_vector(np.zeros(n) if views is None else views, n, "views", name)
    if lengths is None:
        moving = np.abs(x).sum(axis=(1, 3, 4)) > 0  # (N, T)
        lengths = np.where(moving.any(1), t - np.argmax(moving[:, ::-1], axis=1), 0)
    lengths = _int_vector(lengths, n, "lengths", name)
    if n and (lengths.min() < 1 or lengths.max() > t):
        raise InvalidData(f"{name}: lengths must lie in 1..{t} (the padded frame count); "
                          f"got {lengths.min()}..{lengths.max()}. Drop empty sequences first.")
    if sample_ids is None:
        sample_ids = tuple(f"{name}_{i:06d}" for i in range(n))
    sample_ids = tuple(str(s) for s in sample_ids)
    if len(sample_ids) != n:
        raise InvalidData(f"{name}: {len(sample_ids)} sample ids for {n} samples.")
    official_train = dict(official_train or {})
    for setting, mask in official_train.items():
        mask = np.array(mask)  # a copy: it is frozen below
        if mask.shape != (n,) or mask.dtype != bool:
            raise InvalidData(f"{name}: official_train[{setting!r}] must be a bool array of shape ({n},), "
                              f"got {mask.dtype} {mask.shape}.")
        official_train[setting] = mask
    for arr in (x, labels, subjects, views, lengths, *official_train.values()):
        arr.setflags(write=False)
    return SkeletonSet(name=name, x=x, lengths=lengths, labels=labels, subjects=subjects, views=views,
                       class_names=class_names, layout=layout, sample_ids=sample_ids, source=source,
                       dropped={k: tuple(v) for k, v in (dropped or {}).items()},
                       official_train=official_train)


def _int_vector(values, n: int, what: str, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise InvalidData(f"{name}: {what} has shape {arr.shape}; expected ({n},), one value per sample.")
    if arr.size and not np.all(np.isfinite(arr.astype(float))):
        raise InvalidData(f"{name}: {what} contains NaN.")
    if arr.size and not np.all(np.equal(np.mod(arr.astype(float), 1), 0)):
        raise InvalidData(f"{name}: {what} must be integers.")
    return arr.astype(np.int64)
