"""Input streams of skeleton backbones: joint, bone, joint motion, bone motion.

Two-stream and four-stream GCNs (2s-AGCN, Shift-GCN, CTR-GCN, GAP) train one network per stream:
* ``joint``: the coordinates themselves;
* ``bone``: each joint minus its parent joint (the vector along the bone; zero at the root);
* ``joint_motion`` / ``bone_motion``: the frame-to-frame difference of the joint / bone stream
  (the last frame's difference is zero so the length stays T).
Every stream is linear in the coordinates, so a rotation applied before or after gives the same input.
"""
from __future__ import annotations

import numpy as np

from ..data.layouts import Layout
from ..errors import InvalidConfig

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")


def parents(layout: Layout) -> np.ndarray:
    """Parent joint of every joint (itself for the root and for joints outside the bone list)."""
    parent = np.arange(layout.num_joints)
    for child, par in layout.bones:
        parent[child] = par
    return parent


def bones(x: np.ndarray, layout: Layout) -> np.ndarray:
    """(..., V, C) joint coordinates -> (..., V, C) bone vectors (joint minus parent)."""
    return (x - x[..., parents(layout), :]).astype(np.float32)


def motion(x: np.ndarray) -> np.ndarray:
    """(N, M, T, V, C) -> frame differences x[t+1] - x[t], zero in the last frame."""
    out = np.zeros_like(x, dtype=np.float32)
    out[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return out


def to_stream(x: np.ndarray, layout: Layout, stream: str) -> np.ndarray:
    """The network input of one stream from prepared joint coordinates (N, M, T, V, 3)."""
    if stream not in STREAMS:
        raise InvalidConfig(f"unknown input stream {stream!r}; use one of {list(STREAMS)}")
    if x.shape[-2] != layout.num_joints:
        raise InvalidConfig(f"input has {x.shape[-2]} joints but layout {layout.name!r} has "
                            f"{layout.num_joints}; prepare the data with its own layout")
    out = bones(x, layout) if stream.startswith("bone") else x.astype(np.float32)
    return motion(out) if stream.endswith("motion") else out
