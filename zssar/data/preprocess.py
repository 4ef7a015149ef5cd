"""Preprocessing shared by every backbone: centring and resampling to a fixed frame count."""
from __future__ import annotations

import numpy as np

from .skeleton import SkeletonSet


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


def prepare(data: SkeletonSet, frames: int) -> np.ndarray:
    """The network input for every sample of ``data``: centred and resampled, (N, M, frames, V, 3)."""
    return centre(resample(data.x, data.lengths, frames), data.layout.centre)
