"""Preprocessing shared by every backbone: centring, resampling, and optional normalisations.

``prepare(data, frames)`` is what the backbones use: centre on the first frame's centre joint and
resample to a fixed frame count. Its options are all off by default, so its output (and every
feature cache keyed on it) stays the same:

* ``normalise_view`` (:func:`view_normalised`): rotate each sequence so that, in the first frame
  where the first person is present, the hip axis (left hip -> right hip) lies along x and the spine
  (mid-hip -> mid-shoulder) along y (the NTU / SGN convention). The rotation is about the camera
  origin, so padding stays zero.
* ``normalise_scale`` (:func:`scale_normalised`): divide each sequence by its first person's mean
  torso length (mid-hip to mid-shoulder over the frames where it is present), so people of every
  size share one scale.
* ``persons``: pad with zero persons or keep the first ones, to a fixed person count M.

:func:`screen` leaves out degenerate sequences (NaN/inf, all zero, too short) of raw arrays and says
how many it dropped for each reason. Readers already screen what they read (``SkeletonSet.dropped``).
"""
from __future__ import annotations

import numpy as np

from .custom_layout import joint_role
from .layouts import Layout
from .ondisk import row_chunks
from .readers.common import DEGENERATE_REASONS, degenerate_reason
from .skeleton import SkeletonSet

# Below this length (in the data's unit) an axis is too short to define a direction or a scale.
_EPS = 1e-6


def resample(x: np.ndarray, lengths: np.ndarray, frames: int) -> np.ndarray:
    """Linearly resample the valid frames of each sample to ``frames`` frames.

    x: (N, M, T, V, C) zero padded after ``lengths``; returns (N, M, frames, V, C) float32.
    """
    n = x.shape[0]
    pos = np.linspace(0.0, 1.0, frames)[None, :] * (np.maximum(lengths, 1)[:, None] - 1)  # (N, F)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(lengths, 1)[:, None] - 1)
    w = (pos - lo)[:, None, :, None, None].astype(np.float32)
    rows = np.arange(n)[:, None]
    x_lo = x[rows, :, lo].transpose(0, 2, 1, 3, 4)  # (N, M, F, V, C)
    x_hi = x[rows, :, hi].transpose(0, 2, 1, 3, 4)
    return (x_lo * (1 - w) + x_hi * w).astype(np.float32)


def centre(x: np.ndarray, centre_joint: int) -> np.ndarray:
    """Subtract the first frame's centre joint of the first person from every person and frame.

    Keeping one origin per sequence (rather than per frame) preserves whole-body motion such as a
    jump or a step, which a per-frame centring would erase. Absent persons stay exactly zero.
    """
    origin = x[:, :1, :1, centre_joint : centre_joint + 1, :]  # (N, 1, 1, 1, C)
    present = np.abs(x).sum(axis=(2, 3, 4), keepdims=True) > 0
    return np.where(present, x - origin, 0.0).astype(np.float32)


def torso_joints(layout: Layout) -> dict[str, int]:
    """Indices of the left/right hips and shoulders, found by joint role (works for custom layouts)."""
    wanted = ("left_hip", "right_hip", "left_shoulder", "right_shoulder")
    roles = {joint_role(name): i for i, name in reversed(list(enumerate(layout.joints)))}
    missing = [w for w in wanted if w not in roles]
    if missing:
        from ..errors import InvalidData

        raise InvalidData(f"layout {layout.name!r} has no joint playing {missing}; scale and view normalisation "
                          "need both hips and both shoulders. Leave them off for this layout.")
    return {w: roles[w] for w in wanted}


def _first_person_frames(x: np.ndarray) -> np.ndarray:
    """(N, T) True where the first person has any non-zero coordinate."""
    return np.abs(x[:, 0]).sum(axis=(2, 3)) > 0


def _torso(x0: np.ndarray, j: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Hip axis (left -> right) and spine (mid-hip -> mid-shoulder) of (..., V, 3) poses."""
    hips = x0[..., j["right_hip"], :] - x0[..., j["left_hip"], :]
    mid_hip = (x0[..., j["left_hip"], :] + x0[..., j["right_hip"], :]) / 2
    mid_shoulder = (x0[..., j["left_shoulder"], :] + x0[..., j["right_shoulder"], :]) / 2
    return hips, mid_shoulder - mid_hip


def view_rotations(x: np.ndarray, layout: Layout) -> np.ndarray:
    """(N, 3, 3) rotations taking each sample's first valid hip axis to x and its spine to y.

    A sample whose axes are degenerate (no present frame, coincident hips, spine along the hips)
    keeps the identity.
    """
    j = torso_joints(layout)
    present = _first_person_frames(x)
    first = np.argmax(present, axis=1)
    pose = x[np.arange(len(x)), 0, first]  # (N, V, 3)
    hips, spine = _torso(pose.astype(np.float64), j)
    e_x = hips / np.maximum(np.linalg.norm(hips, axis=-1, keepdims=True), _EPS)
    spine = spine - (spine * e_x).sum(-1, keepdims=True) * e_x  # Gram-Schmidt: spine orthogonal to hips
    e_y = spine / np.maximum(np.linalg.norm(spine, axis=-1, keepdims=True), _EPS)
    rot = np.stack([e_x, e_y, np.cross(e_x, e_y)], axis=1)  # rows: the new axes
    ok = present.any(1) & (np.linalg.norm(hips, axis=-1) > _EPS) & (np.linalg.norm(spine, axis=-1) > _EPS)
    rot[~ok] = np.eye(3)
    return rot


def view_normalised(x: np.ndarray, layout: Layout) -> np.ndarray:
    """Rotate every person and frame of each (M, T, V, 3) sample by its :func:`view_rotations`."""
    rot = view_rotations(x, layout)
    return np.einsum("nij,nmtvj->nmtvi", rot, x.astype(np.float64)).astype(np.float32)


def torso_lengths(x: np.ndarray, layout: Layout) -> np.ndarray:
    """(N,) mean mid-hip to mid-shoulder distance of the first person over its present frames."""
    _, spine = _torso(x[:, 0].astype(np.float64), torso_joints(layout))  # (N, T, 3)
    present = _first_person_frames(x)
    lengths = np.linalg.norm(spine, axis=-1)
    return (lengths * present).sum(1) / np.maximum(present.sum(1), 1)


def scale_normalised(x: np.ndarray, layout: Layout) -> np.ndarray:
    """Divide each sample by its :func:`torso_lengths` (a sample with no torso keeps its scale)."""
    scale = torso_lengths(x, layout)
    scale = np.where(scale > _EPS, scale, 1.0)
    return (x / scale[:, None, None, None, None]).astype(np.float32)


def fix_persons(x: np.ndarray, persons: int) -> np.ndarray:
    """Zero-pad or cut the person axis of (N, M, T, V, C) to ``persons`` (readers put the main one first)."""
    _check_persons(persons)
    if x.shape[1] >= persons:
        return x[:, :persons]
    pad = np.zeros((x.shape[0], persons - x.shape[1], *x.shape[2:]), dtype=x.dtype)
    return np.concatenate([x, pad], axis=1)


def _check_persons(persons: int) -> None:
    if persons < 1:
        from ..errors import InvalidConfig

        raise InvalidConfig(f"persons must be at least 1, got {persons}")


def screen(x: np.ndarray, lengths=None, min_frames: int = 2) -> tuple[np.ndarray, dict[str, int]]:
    """Which samples of raw arrays are usable: (keep mask (N,), dropped count per reason).

    ``x`` is (N, T, V, 3) or (N, M, T, V, 3); ``lengths`` (default: up to the last non-zero frame).
    Reasons are those of the readers: ``nan`` (NaN/inf anywhere), ``all_zero``, ``too_short``.
    """
    x = np.asarray(x)
    x = x[:, None] if x.ndim == 4 else x
    if lengths is None:
        moving = np.abs(np.nan_to_num(x, nan=1.0)).sum(axis=(1, 3, 4)) > 0  # NaN frames count as present
        lengths = np.where(moving.any(1), x.shape[2] - np.argmax(moving[:, ::-1], axis=1), 0)
    reasons = [degenerate_reason(x[i, :, : int(lengths[i])], min_frames) for i in range(len(x))]
    counts = {r: reasons.count(r) for r in DEGENERATE_REASONS if r in reasons}
    return np.array([r is None for r in reasons], dtype=bool), counts


def drop_short(data: SkeletonSet, min_frames: int) -> tuple[SkeletonSet, dict[str, int]]:
    """``data`` without sequences shorter than ``min_frames``, and the count left out.

    A SkeletonSet never holds NaN or empty sequences (:func:`~zssar.data.skeleton.from_arrays`
    refuses them), so length is the one thing left to screen; the dropped ids join ``data.dropped``.
    """
    short = data.lengths < min_frames
    if not short.any():
        return data, {}
    from dataclasses import replace

    kept = data.subset(~short)
    ids = tuple(s for s, bad in zip(data.sample_ids, short) if bad)
    dropped = {**data.dropped, "too_short": tuple(data.dropped.get("too_short", ())) + ids}
    return replace(kept, dropped=dropped, _fingerprint=[]), {"too_short": int(short.sum())}


def prepare(data: SkeletonSet, frames: int, *, normalise_view: bool = False, normalise_scale: bool = False,
            persons: int | None = None, chunk: int | None = None) -> np.ndarray:
    """The network input for every sample of ``data``: (N, M, frames, V, 3).

    Order: person count, view rotation, scale, resampling, centring. With every option off this is
    exactly ``centre(resample(x))``, the input the feature cache was built on. Every step acts on
    each sample alone, so it runs over ``chunk`` samples at a time (default: about 256 MiB of
    ``data.x``): the output is the one array of the whole set it holds, which matters when
    ``data.x`` is a memory map of a dataset larger than memory.
    """
    if persons is not None:
        _check_persons(persons)
    n, m, _, v, c = data.x.shape
    out = np.empty((n, persons or m, frames, v, c), dtype=np.float32)
    for start, stop, x in row_chunks(data.x, chunk):
        if persons is not None:
            x = fix_persons(x, persons)
        if normalise_view:
            x = view_normalised(x, data.layout)
        if normalise_scale:
            x = scale_normalised(x, data.layout)
        out[start:stop] = centre(resample(x, data.lengths[start:stop], frames), data.layout.centre)
    return out
