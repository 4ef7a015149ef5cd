"""The text of a dataset's classes: a :class:`TextBank` built from a description file.

A :class:`TextBank` holds the :class:`ClassDescription` of every class of a dataset, in class-id order, and
turns a *field* name into one string per class (:func:`zssar.text.schema.field_names` lists them):

* ``label``, ``description``, ``synonyms`` (first synonym), ``label+description`` (joined);
* ``parts.<head|hand|arm|hip|leg|foot>``, the six GAP/STAR body parts, and the views derived from
  them: ``gap4.<head|hand_arm|hip|leg_foot>`` and ``gap2.<upper|lower>``;
* ``purls_parts.<head|hands|torso|legs>`` and ``phases.<start|middle|end>`` (PURLS);
* ``context.<environment|used_object|target_object>`` and ``context_sentence`` (SkeletonContext).

:meth:`TextBank.variants` and :meth:`TextBank.synonyms` give all variants / synonyms of one class.

The project ships a complete description file per supported dataset in ``zssar/text/data/``; the
synthetic classes' file is written from their composition of motion primitives (:mod:`zssar.text.synthetic`).
``text_bank_for(..., source="gap", path=...)`` uses a published description file instead.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import InvalidData
from .schema import (CONTEXT_KEYS, PART_KEYS, PHASE_KEYS, PURLS_PART_KEYS, ClassDescription, DescriptionSet,
                     field_names)

__all__ = ["ClassDescription", "TextBank", "text_bank_for", "load_description_file", "project_descriptions",
           "PROJECT_FILES", "PART_KEYS", "PHASE_KEYS", "PURLS_PART_KEYS", "CONTEXT_KEYS", "field_names"]

# Dataset name -> the project's description file in zssar/text/data (NTU 60 is the first 60 of 120).
PROJECT_FILES = {"synthetic": "synthetic", "kard": "kard", "utkinect": "utkinect", "nw-ucla": "nw-ucla",
                 "ntu60": "ntu120", "ntu120": "ntu120", "pku-mmd": "pku-mmd"}


@dataclass(frozen=True)
class TextBank:
    """Class texts of one dataset, indexed by class id; ``source`` says where the text came from."""

    dataset: str
    classes: tuple[ClassDescription, ...]
    source: str = ""

    def __len__(self) -> int:
        return len(self.classes)

    def strings(self, field_name: str) -> list[str]:
        """One string per class for a field (see the module docstring)."""
        return [c.field(field_name) for c in self.classes]

    def variants(self, class_index: int) -> list[str]:
        """Every variant description of one class (the description itself when none are given)."""
        c = self.classes[class_index]
        return list(c.variants) if c.variants else [c.field("description")]

    def synonyms(self, class_index: int) -> list[str]:
        """Every synonym of one class (the label when none are given)."""
        c = self.classes[class_index]
        return list(c.synonyms) if c.synonyms else [c.label]

    def has_field(self, field_name: str) -> bool:
        """Whether every class has its own text for a field (no fallback to the label)."""
        return all(c.has(field_name) for c in self.classes)

    def coverage(self) -> dict[str, int]:
        """For every field name, how many classes have their own text for it."""
        return {name: sum(c.has(name) for c in self.classes) for name in field_names()}


def load_description_file(path: str | os.PathLike, *, require_full: bool = True) -> DescriptionSet:
    """Read and validate a description file in the schema (``zssar/text/schema.py``)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidData(f"no description file at {path}") from None
    except json.JSONDecodeError as exc:
        raise InvalidData(f"{path}: not valid JSON ({exc})") from None
    return DescriptionSet.from_dict(raw, require_full=require_full, where=str(path))


def project_descriptions(dataset: str) -> DescriptionSet:
    """The project's complete description file for a supported dataset (or the synthetic classes)."""
    if dataset not in PROJECT_FILES:
        raise InvalidData(f"the project has no descriptions for dataset {dataset!r}; it has "
                          f"{sorted(PROJECT_FILES)}; pass source= and path= to use a "
                          f"description file of your own")
    file = resources.files("zssar.text") / "data" / f"{PROJECT_FILES[dataset]}.json"
    with resources.as_file(file) as path:
        if not path.is_file():
            raise InvalidData(f"the package is missing its description file zssar/text/data/{path.name}; "
                              f"reinstall zssar")
        return load_description_file(path)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def align(descriptions: DescriptionSet, class_names, dataset: str | None = None) -> tuple[ClassDescription, ...]:
    """The entry of every class name, in the order of ``class_names``.

    A name is found by its label (exactly, then ignoring case and punctuation), or, when the file
    follows a dataset's official label order (its ``dataset`` is one of
    :data:`zssar.classnames.CLASS_NAMES`), by the name's position in that order: published
    files often word the labels their own way ("brush teeth" for "brushing teeth").
    """
    from ..classnames import CLASS_NAMES

    by_label = {c.label: c for c in descriptions.classes}
    by_norm = {_norm(c.label): c for c in descriptions.classes}
    official = CLASS_NAMES.get(descriptions.dataset, ())
    by_position = {}
    if len(official) == len(descriptions.classes):
        by_position = dict(zip(official, descriptions.classes))
    out, missing = [], []
    for name in class_names:
        entry = by_label.get(name) or by_position.get(name) or by_norm.get(_norm(name))
        if entry is None:
            missing.append(name)
        out.append(entry)
    if missing:
        raise InvalidData(f"{descriptions.source or descriptions.dataset}: no description for class(es) "
                          f"{missing[:10]}{' ...' if len(missing) > 10 else ''} of dataset "
                          f"{dataset or descriptions.dataset!r}; the file has {len(descriptions)} classes "
                          f"({descriptions.labels()[:5]} ...)")
    return tuple(out)


def text_bank_for(dataset: str, class_names, source: str | None = None,
                  path: str | os.PathLike | None = None) -> TextBank:
    """The text of a dataset's classes, in the order of ``class_names``.

    ``source=None`` (or ``"project"``) uses the project's complete description file for the supported
    datasets and the synthetic classes; any other dataset (e.g. your own arrays) gets label-only text,
    and its ``source`` says so. ``source`` = ``gap``, ``star``, ``smie``, ``sa-dvae``, ``purls``,
    ``neuron`` or ``file`` (a file in the schema) reads a published description file from ``path``
    (default: its usual place under ``$ZSSAR_DESCRIPTIONS``, see :mod:`zssar.text.importers`).
    """
    class_names = list(class_names)
    if source in (None, "project"):
        if path is not None:
            descriptions = load_description_file(path)
        elif dataset in PROJECT_FILES:
            descriptions = project_descriptions(dataset)
        else:
            return TextBank(dataset, tuple(ClassDescription(label=n) for n in class_names),
                            f"class names only: the project has no descriptions for dataset {dataset!r}")
        return TextBank(dataset, align(descriptions, class_names, dataset), descriptions.source)
    from .importers import import_descriptions

    descriptions = import_descriptions(source, path, dataset=dataset)
    return TextBank(dataset, align(descriptions, class_names, dataset), descriptions.source)
