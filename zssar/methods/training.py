"""What the methods' training loops share: seeded batches, one optimiser step, early stopping.

Every method trains the same way: epochs of shuffled mini-batches drawn from a generator seeded by
the run, an optimiser step per batch and, when seen-validation samples are given, the parameters of
the best validation epoch kept (ties: the earliest) and training stopped after ``patience`` epochs
without improvement. Nothing here reads a test sample.
"""
from __future__ import annotations

import copy


def shuffled_batches(n: int, batch_size: int, generator, min_size: int = 1):
    """Index batches of one training epoch, in a random order drawn from ``generator`` (seeded).

    Batches smaller than ``min_size`` are skipped (a contrastive loss needs at least two samples).
    """
    import torch

    order = torch.randperm(n, generator=generator)
    for b in range(0, n, batch_size):
        sel = order[b:b + batch_size]
        if len(sel) >= min_size:
            yield sel


def optimiser_step(optimiser, loss) -> None:
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()


class EarlyStopping:
    """Keep the module state of the best validation score; say when to stop.

    ``update(epoch, score, module)`` after each epoch returns True when training should stop
    (``patience`` epochs without a better score); ``restore(module)`` loads the best state. With
    ``patience=None`` it never stops early but still restores the best epoch.
    """

    def __init__(self, patience: int | None = None):
        self.patience = patience
        self.best_score, self.best_epoch, self._state = float("-inf"), 0, None

    def update(self, epoch: int, score: float, module) -> bool:
        if score > self.best_score:
            self.best_score, self.best_epoch = float(score), int(epoch)
            self._state = copy.deepcopy(module.state_dict())
        return self.patience is not None and epoch - self.best_epoch >= self.patience

    def restore(self, module) -> None:
        if self._state is not None:
            module.load_state_dict(self._state)
