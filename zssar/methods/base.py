"""The interface every zero-shot method implements, and the registry of methods by name.

A method is fitted on seen-class features with their labels and the seen classes' text, with the
seen-validation samples at hand for early stopping and internal choices; it then scores any samples
against any candidate classes given those classes' text::

    method = make_method("purls", epochs=30)
    method.fit(train_features, train_labels, text.take(seen), val=(val_features, val_labels), seed=0)
    out = method.scores(test_features, text.take(candidates), stream=Stream(...))   # -> Scores

It never receives an unseen class's label, and at scoring time it never receives any label. Test-time
adaptation reads the explicit ``stream`` argument: without one, a method scores as fitted.

A method says what it needs (:class:`Needs`): the text fields it reads, whether it tunes a copy of
the text tower or needs a masked-language-model head; the runner refuses a run that cannot give it
that, before any training. A method file may also contribute a training objective for the backbone
(:mod:`zssar.backbones.objective`; GAP's), registered under the method's name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import InvalidConfig
from ..features import FeatureSet
from ..registry import Registry


@dataclass(frozen=True)
class Needs:
    """What a method needs from a run, checked before training."""

    text_fields: tuple[str, ...] = ("label",)  # fields of the class text it reads
    tower: bool = False  # a trainable copy of the text tower (prompts inside its layers)
    masked_lm: bool = False  # an encoder with a masked-language-model head
    # the text of every class in training, unseen ones included: a paper's variant, not zero-shot; a run
    # gives it only when asked to (RunConfig.unseen_text_in_training) and its record says so
    all_class_text: bool = False


@dataclass
class Scores:
    """What :meth:`Method.scores` returns.

    ``values`` (N, K): compatibility of each sample with each candidate, candidates in the order of
    the text given. ``temperature``: the temperature at which ``softmax(values / temperature)`` are the
    method's probabilities (the entropy gate reads them). ``gate``: the scores an entropy gate should
    read when they differ from ``values`` (a method that adapts along a stream gives its stable,
    un-adapted ones), else None. ``trace``: what a streaming method recorded, else None.
    """

    values: np.ndarray
    temperature: float = 1.0
    gate: np.ndarray | None = None
    trace: dict | None = None

    def __post_init__(self):
        self.values = np.asarray(self.values, dtype=np.float32)


@dataclass(frozen=True)
class Stream:
    """Test-time data, given to :meth:`Method.scores` as it arrives; a method may adapt along it.

    ``seen_columns`` (K,) marks the candidates that are seen classes in a GZSL stream (None in ZSL);
    ``route(static_scores)`` then says, per sample, whether the GZSL entropy gate sends it to the seen
    side, so that a method's pseudo-labels stay on that side. The runner builds it from the gate
    chosen on seen data (threshold and temperature); methods call it and never compute the gate.
    """

    seen_columns: np.ndarray | None = None
    route: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False)


class Method:
    """Base class. Subclasses set ``name``, ``needs`` and implement :meth:`fit`, :meth:`scores`,
    :meth:`settings` and :meth:`state_digest`."""

    name = "?"
    needs = Needs()

    def settings(self) -> dict:
        """The method's settings, as recorded in every result."""
        return {}

    def fit(self, features: FeatureSet, labels: np.ndarray, text, *, val: tuple[FeatureSet, np.ndarray] | None = None,
            seed: int = 0, show_progress: bool = False) -> "Method":
        """Train on seen-class samples; ``labels`` are class ids of ``text.class_ids`` (a
        :class:`~zssar.text.classtext.ClassText`). ``val``: held-out samples of the same classes, for
        early stopping and internal selection. All randomness derives from ``seed``."""
        raise NotImplementedError

    def scores(self, features: FeatureSet, text, stream: Stream | None = None) -> Scores:
        """Scores of each sample against each candidate class of ``text``, in ``text.class_ids`` order."""
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


def label_positions(labels, class_ids) -> np.ndarray:
    """Each label's position in ``class_ids`` (the training target of a classifier over those classes)."""
    pos = {int(c): i for i, c in enumerate(class_ids)}
    try:
        return np.array([pos[int(c)] for c in labels], dtype=np.int64)
    except KeyError as exc:
        raise InvalidConfig(f"label {exc.args[0]} is not one of the text's classes {list(class_ids)}") from None


def _import_methods() -> None:
    """Import every module of this package: each method file registers itself (and its objective)."""
    import importlib
    import pkgutil

    from .. import methods

    for module in pkgutil.iter_modules(methods.__path__):
        importlib.import_module(f"{methods.__name__}.{module.name}")


METHODS = Registry("method", load=_import_methods)
# Backbone pretraining objectives contributed by method files (zssar.backbones.objective.Objective
# subclasses, built as OBJECTIVES.get(name)(settings, seen class text)); "ce" is none of them.
OBJECTIVES = Registry("pretraining objective", load=_import_methods, hint="or 'ce' (cross-entropy only)")


def register_method(cls: type[Method]) -> type[Method]:
    return METHODS.register(cls.name, cls)


def method_names() -> list[str]:
    return METHODS.names()


def method_class(name: str) -> type[Method]:
    return METHODS.get(name)


def make_method(name: str, **settings) -> Method:
    """A fresh, unfitted method by registry name with the given settings; an unknown setting is
    refused with the method's settings named."""
    import inspect

    cls = METHODS.get(name)
    known = _setting_names(cls)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise InvalidConfig(f"method {name!r} has no setting {', '.join(map(repr, unknown))}; its settings: "
                            f"{', '.join(known)}")
    try:
        return cls(**settings)
    except TypeError as exc:
        params = inspect.signature(cls).parameters
        raise InvalidConfig(f"method {name!r}: bad setting ({exc}); its settings: {', '.join(params)}") from None


def _setting_names(cls) -> list[str]:
    """The keyword settings of a method's constructor, following ``**`` to its parent's."""
    import inspect

    names = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is Method or klass is object:
            continue
        params = inspect.signature(klass.__init__).parameters
        names += [p for p, v in params.items() if p != "self" and v.kind is not v.VAR_KEYWORD and p not in names]
        if not any(v.kind is v.VAR_KEYWORD for v in params.values()):
            break
    return names
