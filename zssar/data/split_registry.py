"""Every published zero-shot class split, with where it comes from.

Unseen class ids are 0-based into the official class lists of :mod:`zssar.classnames`. Names:

* ``synse:55/5``, ``synse:48/12`` (NTU60), ``synse:110/10``, ``synse:96/24`` (NTU120): the fixed
  splits of SynSE (Gupta et al., ICIP 2021; README of skelemoa/synse-zsl), reused by PURLS
  (``supplements/label_splits``), SMIE and STAR;
* ``star:46/5``, ``star:39/12`` (PKU-MMD I): STAR ``feeders/feeder_pku.py``;
* ``smie:55/5:R``, ``smie:110/10:R``, ``smie:46/5:R`` with R = 0, 1, 2: the three random splits of
  SMIE (YujieOuO/SMIE ``config.py``);
* ``sadvae:55/5:R``, ``sadvae:110/10:R``, ``sadvae:46/5:R``: SA-DVAE's random splits as listed in
  cseeyangchen/Flora ``utils/utils.py`` (SA-DVAE itself keeps them off-line: unverified);
* ``purls:5/5``, ``purls:8/2`` (NW-UCLA): PURLS ``supplements/label_splits`` (ru5, ru2).

A registered split refuses a dataset whose class list is not the one it was published for.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidSplit
from ..registry import Registry
from ..classnames import CLASS_NAMES
from .splits import Split


@dataclass(frozen=True)
class RegisteredSplit:
    """A published split: its dataset, unseen ids and provenance."""

    name: str
    dataset: str
    unseen: tuple[int, ...]
    source: str

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[self.dataset]

    def to_split(self, num_classes: int | None = None, class_names=None) -> Split:
        """The :class:`Split` for a dataset with ``num_classes`` / ``class_names`` (checked)."""
        expected = self.class_names
        if class_names is not None and tuple(class_names) != expected:
            foreign = [c for c in expected if c not in tuple(class_names)]
            what = (f"names classes this dataset does not have (e.g. {foreign[:3]})" if foreign else
                    f"does not fit this dataset's {len(tuple(class_names))} classes")
            raise InvalidSplit(
                f"split {self.name!r} is published for {self.dataset} ({len(expected)} classes) and {what}; "
                "pick a split of this dataset "
                f"({', '.join(s.name for s in registered_splits(class_names=class_names)) or 'random:K:S'})."
            )
        if num_classes is not None and num_classes != len(expected):
            raise InvalidSplit(f"split {self.name!r} is published for {self.dataset} with {len(expected)} "
                               f"classes, but the dataset has {num_classes}.")
        seen = tuple(i for i in range(len(expected)) if i not in self.unseen)
        return Split(self.name, seen, self.unseen, len(expected), f"{self.dataset}: {self.source}", expected)


_SYNSE = "SynSE README (skelemoa/synse-zsl), also PURLS label_splits and SMIE config.py"
_SMIE = "SMIE random split {r} (YujieOuO/SMIE config.py)"
_SADVAE = "SA-DVAE random split {r} as listed in cseeyangchen/Flora utils/utils.py (unverified)"

_TABLE = [
    ("synse:55/5", "ntu60", [10, 11, 19, 26, 56], _SYNSE),
    ("synse:48/12", "ntu60", [3, 5, 9, 12, 15, 40, 42, 47, 51, 56, 58, 59], _SYNSE),
    ("synse:110/10", "ntu120", [4, 13, 37, 43, 49, 65, 88, 95, 99, 106], _SYNSE),
    ("synse:96/24", "ntu120", [5, 9, 11, 16, 18, 20, 22, 29, 35, 39, 45, 49, 59, 68, 70, 81, 84, 87, 93, 94,
                               104, 113, 114, 119], _SYNSE),
    ("star:46/5", "pku-mmd", [1, 9, 20, 34, 50], "STAR feeders/feeder_pku.py"),
    ("star:39/12", "pku-mmd", [3, 7, 11, 15, 19, 21, 25, 31, 33, 36, 43, 48], "STAR feeders/feeder_pku.py"),
    ("purls:5/5", "nw-ucla", [1, 3, 4, 6, 8], "PURLS supplements/label_splits (ru5)"),
    ("purls:8/2", "nw-ucla", [1, 4], "PURLS supplements/label_splits (ru2)"),
]
_RANDOM = {
    "smie": (_SMIE, {
        ("55/5", "ntu60"): [[4, 19, 31, 47, 51], [12, 29, 32, 44, 59], [7, 20, 28, 39, 58]],
        ("110/10", "ntu120"): [[3, 18, 26, 38, 41, 60, 87, 99, 102, 110], [5, 12, 14, 15, 17, 42, 67, 82, 100, 119],
                               [6, 20, 27, 33, 42, 55, 71, 97, 104, 118]],
        ("46/5", "pku-mmd"): [[1, 9, 20, 34, 50], [3, 14, 29, 31, 49], [2, 15, 39, 41, 43]],
    }),
    "sadvae": (_SADVAE, {
        ("55/5", "ntu60"): [[0, 8, 15, 28, 46], [15, 19, 23, 47, 50], [29, 37, 38, 45, 55]],
        ("110/10", "ntu120"): [[0, 4, 6, 7, 24, 37, 54, 59, 97, 113], [63, 79, 86, 92, 98, 100, 103, 110, 111, 117],
                               [9, 14, 17, 44, 60, 75, 81, 89, 108, 110]],
        ("46/5", "pku-mmd"): [[10, 19, 27, 38, 48], [0, 9, 17, 30, 42], [18, 24, 31, 43, 45]],
    }),
}
for _family, (_source, _groups) in _RANDOM.items():
    for (_size, _dataset), _lists in _groups.items():
        for _r, _unseen in enumerate(_lists):
            _TABLE.append((f"{_family}:{_size}:{_r}", _dataset, _unseen, _source.format(r=_r)))

SPLITS = Registry("split", error=InvalidSplit, hint="or random:K:seed=S, unseen=..., seen=..;unseen=.., none")
for _name, _dataset, _unseen, _source in _TABLE:
    SPLITS.register(_name, RegisteredSplit(_name, _dataset, tuple(_unseen), _source))


def find_registered(name: str) -> RegisteredSplit | None:
    return SPLITS.get(name.strip()) if name.strip() in SPLITS else None


def registered_splits(dataset: str | None = None, class_names=None) -> list[RegisteredSplit]:
    """The registered splits, all or those of one dataset (by registry name or by class list)."""
    out = [split for _, split in SPLITS.items()]
    if dataset is not None:
        out = [s for s in out if s.dataset == dataset]
    if class_names is not None:
        out = [s for s in out if s.class_names == tuple(class_names)]
    return out


def split_for(data, spec: str) -> Split:
    """The split ``spec`` for a dataset (SkeletonSet or sample table), checked against its classes."""
    from .splits import parse_split

    return parse_split(spec, len(data.class_names), class_names=data.class_names)
