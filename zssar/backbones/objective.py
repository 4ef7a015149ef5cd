"""A training objective a method contributes to backbone pretraining, beside cross-entropy.

Pretraining always minimises cross-entropy over the seen classes. A method may add a term of its own
that needs trainable parts beside the backbone (GAP's projection heads and, optionally, a tuned copy
of the text tower): it implements :class:`Objective` in its own file and registers it in
:data:`zssar.methods.base.OBJECTIVES` under its name. The runner builds the objective and hands it
to :func:`~zssar.backbones.pretrain.pretrain`; the pretrainer calls this interface and never imports
a method.

What the objective trained travels with the features (:class:`~zssar.features.ObjectiveState`), so
the method that contributed it can score with it; the objective's :meth:`Objective.identity` enters
the feature cache key.
"""
from __future__ import annotations

import numpy as np


class Objective:
    """Interface of an extra pretraining objective (see the module docstring)."""

    name = "?"

    @classmethod
    def full_settings(cls, settings: dict) -> dict:
        """``settings`` with every default filled in, as records store them (checked)."""
        return dict(settings)

    def identity(self) -> dict:
        """Everything that changes what this objective trains (settings, the text it reads)."""
        raise NotImplementedError

    def settings(self) -> dict:
        """The objective's settings, as recorded with the features and in every result."""
        raise NotImplementedError

    def build(self, channels: int, layout):
        """The trainable modules beside the backbone (an ``nn.Module``), for ``channels``-wide features."""
        raise NotImplementedError

    def parameter_groups(self, module, lr: float) -> list[dict]:
        """Optimiser groups of ``module``'s parameters (by default all at the backbone's rate)."""
        return [{"params": list(module.parameters()), "lr": lr}]

    def loss(self, module, pooled, tokens, classes: np.ndarray, rng: np.random.Generator):
        """The objective's loss for a training batch: ``pooled`` (B, C), ``tokens`` (B, T', V, C) and
        the batch's class ids (global ids of seen classes); ``rng`` is the run's batch generator."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Called once before training (e.g. embed the text the objective reads)."""

