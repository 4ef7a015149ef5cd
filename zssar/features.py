"""``FeatureSet``: what a frozen backbone says about every sample, the input of every method."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Pooled features (N, C) and spatio-temporal token maps (N, T', V, C) of a set of samples."""

    pooled: np.ndarray
    tokens: np.ndarray
    sample_ids: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.pooled.shape[0])

    def subset(self, index) -> "FeatureSet":
        idx = np.asarray(index)
        return FeatureSet(self.pooled[idx], self.tokens[idx], tuple(self.sample_ids[i] for i in idx))
