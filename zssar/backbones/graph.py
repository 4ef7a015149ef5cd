"""Adjacency matrices from a layout (the spatial-configuration partition of ST-GCN)."""
from __future__ import annotations

import numpy as np

from ..data.layouts import Layout


def hop_distance(layout: Layout) -> np.ndarray:
    """Shortest path length in bones between every pair of joints (inf if unreachable)."""
    v = layout.num_joints
    dist = np.full((v, v), np.inf)
    np.fill_diagonal(dist, 0)
    adj = layout.adjacency() > 0
    frontier = np.eye(v, dtype=bool)
    for d in range(1, v):
        frontier = (frontier.astype(np.float32) @ adj.astype(np.float32)) > 0
        newly = frontier & np.isinf(dist)
        if not newly.any():
            break
        dist[newly] = d
    return dist


def normalise(a: np.ndarray) -> np.ndarray:
    """Column-normalise ``a`` (each joint averages over its neighbours)."""
    deg = a.sum(0)
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0)
    return (a * inv[None, :]).astype(np.float32)


def spatial_partition(layout: Layout) -> np.ndarray:
    """(3, V, V) adjacency: self, centripetal (towards the centre), centrifugal (away from it).

    The three subsets of ST-GCN's spatial configuration partitioning, each normalised over the
    full neighbourhood so that sums over subsets stay on the scale of the input.
    """
    hop = hop_distance(layout)
    to_centre = hop[:, layout.centre]
    v = layout.num_joints
    adj = layout.adjacency() + np.eye(v, dtype=np.float32)
    norm = normalise(adj)
    out = np.zeros((3, v, v), dtype=np.float32)
    for i in range(v):
        for j in range(v):
            if adj[j, i] == 0:
                continue
            if to_centre[j] == to_centre[i]:
                out[0, j, i] = norm[j, i]
            elif to_centre[j] < to_centre[i]:
                out[1, j, i] = norm[j, i]
            else:
                out[2, j, i] = norm[j, i]
    return out


def directed_partition(layout: Layout) -> np.ndarray:
    """(3, V, V) adjacency of CTR-GCN: identity, inward (child -> parent), outward (parent -> child).

    Entry [u, v] says how much joint u reads from joint v; each directed subset is normalised by the
    number of joints a joint sends to, as in CTR-GCN's ``normalize_digraph``.
    """
    v = layout.num_joints
    inward = np.zeros((v, v), dtype=np.float32)
    for child, parent in layout.bones:
        inward[parent, child] = 1.0
    outward = inward.T.copy()
    return np.stack([np.eye(v, dtype=np.float32), normalise(inward), normalise(outward)])
