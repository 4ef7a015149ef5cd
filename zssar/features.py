"""``FeatureSet``: what a frozen backbone says about every sample, the input of every method.

Features carry their skeleton :class:`~zssar.data.layouts.Layout` (joint names, bones, the named part
groupings), so a method that pools body parts reads them from here and never guesses them from the
joint count. When the backbone was trained with an extra objective a method contributed (GAP's
multi-part text loss), ``objective`` holds what that training left for the method: its name, the
settings it was trained with and the weights of its trained modules (GAP's projection heads, a tuned
text tower).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .data.layouts import Layout


@dataclass(frozen=True, eq=False)
class ObjectiveState:
    """What a backbone's extra training objective left for its method (see :mod:`zssar.backbones.objective`)."""

    name: str
    settings: dict
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # state dict of the objective's modules


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Pooled features (N, C) and spatio-temporal token maps (N, T', V, C) of a set of samples.

    ``tokens`` are averaged over the persons present; axis 2 follows ``layout.joints``.
    """

    pooled: np.ndarray
    tokens: np.ndarray
    sample_ids: tuple[str, ...]
    layout: Layout
    objective: ObjectiveState | None = None

    def __len__(self) -> int:
        return int(self.pooled.shape[0])

    def subset(self, index) -> "FeatureSet":
        idx = np.asarray(index)
        return FeatureSet(self.pooled[idx], self.tokens[idx], tuple(self.sample_ids[i] for i in idx), self.layout,
                          self.objective)

    def part_groups(self, grouping: str) -> dict[str, tuple[int, ...]]:
        """Joint ids (into the token axis) of each part of a named grouping of the layout."""
        return self.layout.part_groups(grouping)
