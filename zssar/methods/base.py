"""The interface every zero-shot method implements, and the registry of methods by name.

A method is fitted on seen-class features with their labels and the seen classes' text embeddings,
then scores any samples against any candidate classes given those classes' text embeddings.
It never receives an unseen class's label, and at scoring time it never receives any label.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidConfig
from ..features import FeatureSet


@dataclass(frozen=True)
class ClassEmbeddings:
    """Text embeddings of some classes: ``fields[name]`` is (K, D), rows in ``class_ids`` order."""

    class_ids: tuple[int, ...]
    fields: dict[str, np.ndarray]

    def take(self, class_ids) -> "ClassEmbeddings":
        pos = {c: i for i, c in enumerate(self.class_ids)}
        try:
            rows = [pos[int(c)] for c in class_ids]
        except KeyError as exc:
            raise InvalidConfig(f"no text embedding for class {exc.args[0]}") from None
        return ClassEmbeddings(tuple(int(c) for c in class_ids), {k: v[rows] for k, v in self.fields.items()})


class Method:
    """Base class. Subclasses set ``name`` and implement :meth:`fit`, :meth:`scores` and :meth:`state_digest`."""

    name = "?"
    text_fields: tuple[str, ...] = ("label",)  # TextBank fields the method reads

    def settings(self) -> dict:
        """The method's settings, as recorded in every result."""
        return {}

    def fit(self, features: FeatureSet, labels: np.ndarray, text: ClassEmbeddings, *, seed: int = 0,
            show_progress: bool = False) -> "Method":
        """Train on seen-class samples; ``labels`` are class ids that all appear in ``text.class_ids``."""
        raise NotImplementedError

    def scores(self, features: FeatureSet, text: ClassEmbeddings) -> np.ndarray:
        """(N, K) compatibility of each sample with each candidate class in ``text.class_ids`` order."""
        raise NotImplementedError

    def state_digest(self) -> str:
        """A hash of the fitted parameters (the leak canary compares it across runs)."""
        raise NotImplementedError

    def selectable(self) -> dict[str, tuple]:
        """Test-time settings chosen on ``seen_val`` (name -> candidate values); none by default.

        They must not change what :meth:`fit` learns: the runner fits once and tries each value.
        """
        return {}

    def apply_selected(self, **values) -> None:
        """Set test-time settings chosen on ``seen_val`` (see :meth:`selectable`)."""
        unknown = sorted(set(values) - set(self.selectable()))
        if unknown:
            raise InvalidConfig(f"method {self.name!r} cannot select {unknown}; selectable: "
                                f"{sorted(self.selectable())}")
        for key, value in values.items():
            setattr(self, key, value)

    learns_from_test_stream = False  # True: scores() adapts to the samples it is given (test-time refinement)

    def set_gzsl_domains(self, seen_columns=None, delta: float = 0.0, temperature: float = 1.0) -> None:
        """Declare, for the next calls of :meth:`scores`, which candidate columns are seen classes and
        the entropy gate (``delta`` at ``temperature``) that routes a sample to the seen or the unseen
        side; ``None`` clears it. Only methods that learn from the test stream use it (their
        pseudo-labels then stay on the side the gate chose); the others ignore it."""

    def gate_scores(self, features, text) -> np.ndarray:
        """The scores an entropy gate reads; a method whose scores drift along a test stream returns
        stable ones here."""
        return self.scores(features, text)

    def score_temperature(self) -> float:
        """The temperature that turns scores into probabilities (used by the entropy gate)."""
        return float(getattr(self, "temperature", 1.0))


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


_METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    _METHODS[cls.name] = cls
    return cls


def method_names() -> list[str]:
    _import_all()
    return sorted(_METHODS)


def make_method(name: str, **settings) -> Method:
    """A fresh, unfitted method by registry name with the given settings."""
    _import_all()
    if name not in _METHODS:
        raise InvalidConfig(f"unknown method {name!r}; registered methods: {sorted(_METHODS)}")
    try:
        return _METHODS[name](**settings)
    except TypeError as exc:
        raise InvalidConfig(f"method {name!r}: bad setting ({exc})") from None


def _import_all() -> None:
    from . import global_baseline  # noqa: F401
    from . import gap  # noqa: F401
    from . import purls  # noqa: F401
    from . import dynapurls  # noqa: F401
