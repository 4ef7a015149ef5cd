"""Zero-shot class splits: which classes are seen in training and which stay unseen.

Spec strings (used by the CLI and the notebooks):
* ``random:K:seed=S`` (or ``random:K:S``) — K unseen classes drawn with a seeded generator;
* ``unseen=3,7,11`` — these unseen class ids, every other class seen;
* ``seen=0,1,2;unseen=3,4`` — both lists given; they must not overlap;
* ``none`` — every class seen (the supervised setting);
* a published split by its registered name, e.g. ``synse:55/5`` or ``smie:110/10:1`` (the list, with
  provenance, is :func:`zssar.data.split_registry.registered_splits`).

Class lists may name classes instead of ids (``unseen=walk,sit down``) when the dataset's class names
are passed to :func:`parse_split`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidSplit


@dataclass(frozen=True)
class Split:
    """Seen and unseen class ids (0-based, into the dataset's class list) with their provenance."""

    name: str
    seen: tuple[int, ...]
    unseen: tuple[int, ...]
    num_classes: int
    source: str = ""
    # The class list the ids refer to, for splits published for one dataset: the protocol refuses a
    # dataset with other classes. Empty for generic splits (random, id lists).
    class_names: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        overlap = sorted(set(self.seen) & set(self.unseen))
        if overlap:
            raise InvalidSplit(
                f"split {self.name!r} puts class(es) {overlap} in both seen and unseen; a class must be one "
                "or the other. Remove them from one list."
            )
        for what, ids in (("seen", self.seen), ("unseen", self.unseen)):
            if len(set(ids)) != len(ids):
                raise InvalidSplit(f"split {self.name!r} lists a {what} class twice: {list(ids)}")
            bad = [i for i in ids if not 0 <= i < self.num_classes]
            if bad:
                raise InvalidSplit(
                    f"split {self.name!r} names class id(s) {bad} but the dataset has {self.num_classes} "
                    f"classes (ids 0..{self.num_classes - 1})."
                )
        if not self.seen:
            raise InvalidSplit(f"split {self.name!r} leaves no seen class to train on.")

    @property
    def is_zero_shot(self) -> bool:
        return bool(self.unseen)

    def as_dict(self) -> dict:
        return {"name": self.name, "seen": list(self.seen), "unseen": list(self.unseen), "source": self.source}


def parse_split(spec: str, num_classes: int, class_names=None) -> Split:
    """Turn a split spec string into a validated :class:`Split` for a dataset with ``num_classes``.

    ``class_names`` (the dataset's, optional) lets a registered split check that it belongs to this
    dataset and lets id lists name classes.
    """
    from .split_registry import find_registered

    spec = spec.strip()
    registered = find_registered(spec)
    if registered is not None:
        return registered.to_split(num_classes, class_names)
    if spec == "none":
        return Split("none", tuple(range(num_classes)), (), num_classes, "all classes seen (supervised)")
    m = re.fullmatch(r"random:(\d+)(?::(?:seed=)?(\d+))?", spec)
    if m:
        k, seed = int(m.group(1)), int(m.group(2) or 0)
        if not 1 <= k <= num_classes - 2:
            raise InvalidSplit(
                f"split {spec!r} asks for {k} unseen classes; with {num_classes} classes use 1..{num_classes - 2} "
                "so that at least two classes remain seen."
            )
        rng = np.random.default_rng(seed)
        unseen = tuple(sorted(int(i) for i in rng.choice(num_classes, size=k, replace=False)))
        seen = tuple(i for i in range(num_classes) if i not in unseen)
        return Split(f"random:{k}:seed={seed}", seen, unseen, num_classes,
                     f"seeded random split ({k} unseen, seed {seed})")
    lists = {}
    for part in spec.split(";"):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("seen", "unseen") or key.strip() in lists:
            raise InvalidSplit(
                f"cannot read split {spec!r}; use 'random:K:seed=S', 'unseen=1,2,3', "
                "'seen=0,4;unseen=1,2' or 'none'."
            )
        lists[key.strip()] = tuple(_class_id(v.strip(), spec, class_names) for v in value.split(",") if v.strip())
    unseen = lists.get("unseen", ())
    seen = lists.get("seen", tuple(i for i in range(num_classes) if i not in unseen))
    return Split(spec, seen, unseen, num_classes, "given on the command line")


def _class_id(value: str, spec: str, class_names) -> int:
    """A class id from an integer or, when the dataset's class names are known, a class name."""
    try:
        return int(value)
    except ValueError:
        pass
    if class_names is None:
        raise InvalidSplit(f"split {spec!r}: class ids must be integers, got {value!r}")
    names = list(class_names)
    if value not in names:
        raise InvalidSplit(f"split {spec!r} names class {value!r}, which the dataset does not have; its "
                           f"classes are {names}")
    return names.index(value)
