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
``text_bank_for(..., source="gap", path=...)`` uses a published description file instead, and
``text_bank_for(..., path=FILE)`` a file of your own. A dataset the project has no file for (your own
``npz:PATH``) borrows, per class, the descriptions of the closest described class of the project's
files (:mod:`zssar.text.borrow`); :attr:`TextBank.provenance` says per class where its text came from.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import InvalidConfig, InvalidData
from .schema import (CONTEXT_KEYS, PART_KEYS, PHASE_KEYS, PURLS_PART_KEYS, ClassDescription, DescriptionSet,
                     field_names)

__all__ = ["ClassDescription", "TextBank", "text_bank_for", "load_description_file", "project_descriptions",
           "PROJECT_FILES", "TEXT_CHOICES", "text_choice", "user_file_bank", "PART_KEYS", "PHASE_KEYS", "PURLS_PART_KEYS", "CONTEXT_KEYS", "field_names"]

# Dataset name -> the project's description file in zssar/text/data (NTU 60 is the first 60 of 120).
PROJECT_FILES = {"synthetic": "synthetic", "kard": "kard", "utkinect": "utkinect", "nw-ucla": "nw-ucla",
                 "ntu60": "ntu120", "ntu120": "ntu120", "pku-mmd": "pku-mmd"}


@dataclass(frozen=True)
class TextBank:
    """Class texts of one dataset, indexed by class id; ``source`` says where the text came from."""

    dataset: str
    classes: tuple[ClassDescription, ...]
    source: str = ""
    provenance: tuple = ()  # per class, a :class:`zssar.text.borrow.Provenance` (where its text came from)

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

    def provenance_rows(self) -> list[dict]:
        """Per class, where its text came from (``project``, ``file``, ``borrowed`` from which class and
        how similar, or ``label``): what a record and ``zssar text`` report."""
        return [p.to_dict() for p in self.provenance]

    def kinds(self) -> dict[str, int]:
        """How many classes have each kind of text (``{"borrowed": 15, "label": 3}``)."""
        from .borrow import kinds_of

        return kinds_of(self.provenance_rows())

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


TEXT_CHOICES = ("auto", "project", "borrowed", "label")


def text_bank_for(dataset: str, class_names, source: str | None = None,
                  path: str | os.PathLike | None = None, *, text: str = "auto", cache_dir=None) -> TextBank:
    """The text of a dataset's classes, in the order of ``class_names``, with where each class's came from.

    ``text`` (when no ``path`` or published ``source`` is given): ``project`` uses the project's
    complete description file of a supported dataset; ``borrowed`` matches every class name to the
    closest described class of the project's other description files (:mod:`zssar.text.borrow`; never
    the dataset's own file); ``label`` keeps the class names only; ``auto`` (the default) is
    ``project`` for a supported dataset and ``borrowed`` for any other (e.g. your own arrays).

    ``path`` alone is a description file of your own in the schema (e.g. written by ``zssar describe``):
    it must describe every class of the dataset and no other. ``source`` = ``gap``, ``star``, ``smie``,
    ``sa-dvae``, ``purls``, ``neuron`` or ``file`` reads a published description file from ``path``
    (default: its usual place under ``$ZSSAR_DESCRIPTIONS``, see :mod:`zssar.text.importers`).
    """
    from .borrow import Provenance, borrow

    class_names = list(class_names)
    if text not in TEXT_CHOICES:
        raise InvalidConfig(f"text {text!r}: use one of {list(TEXT_CHOICES)} (or a description file with "
                            f"--descriptions FILE)")
    if source not in (None, "project"):
        from .importers import import_descriptions

        descriptions = import_descriptions(source, path, dataset=dataset)
        classes = align(descriptions, class_names, dataset)
        return TextBank(dataset, classes, descriptions.source,
                        tuple(Provenance(n, "file", f"{source}: {descriptions.source}") for n in class_names))
    if path is not None:
        return user_file_bank(dataset, class_names, path)
    if text == "auto":
        text = "project" if dataset in PROJECT_FILES else "borrowed"
    if text == "label":
        return TextBank(dataset, tuple(ClassDescription(label=n) for n in class_names),
                        f"class names only (label text) for dataset {dataset!r}",
                        tuple(Provenance(n, "label") for n in class_names))
    if text == "project":
        descriptions = project_descriptions(dataset)
        return TextBank(dataset, align(descriptions, class_names, dataset), descriptions.source,
                        tuple(Provenance(n, "project") for n in class_names))
    own = PROJECT_FILES.get(dataset)
    classes, provenance = borrow(class_names, exclude=(own,) if own else (), cache_dir=cache_dir)
    kinds = sum(p.kind == "borrowed" for p in provenance)
    rest = "" if kinds == len(classes) else f", {len(classes) - kinds} keep label-only text"
    return TextBank(dataset, classes, f"class names only: {kinds} of {len(classes)} classes borrow the descriptions "
                                      f"of the closest described class{f' (not from {own}.json)' if own else ''}"
                                      f"{rest}", provenance)


def text_choice(dataset: str, text: str = "auto", descriptions=None) -> str:
    """What text a run uses, as its record and identity say it: ``project``, ``borrowed``, ``label`` or
    ``file:<sha1 of the file's bytes, 12 digits>`` (so editing the file makes a new run)."""
    if descriptions is not None:
        import hashlib

        try:
            digest = hashlib.sha1(Path(descriptions).read_bytes()).hexdigest()[:12]
        except OSError as exc:
            raise InvalidData(f"no description file at {descriptions} ({exc.strerror})") from None
        return f"file:{digest}"
    if text == "auto":
        return "project" if dataset in PROJECT_FILES else "borrowed"
    return text


def user_file_bank(dataset: str, class_names, path: str | os.PathLike) -> TextBank:
    """A description file of the user's own for ``class_names``: refused, naming the file, the class and
    the field, when it breaks the schema, misses a class or describes a class the dataset does not have."""
    from .borrow import Provenance

    descriptions = load_description_file(path, require_full=False)
    try:
        classes = align(descriptions, class_names, dataset)
    except InvalidData as exc:
        raise InvalidData(f"{path}: {exc}; every class of the dataset needs an entry") from None
    used = {id(c) for c in classes}
    foreign = [c.label for c in descriptions.classes if id(c) not in used]
    if foreign:
        raise InvalidData(f"{path}: class(es) {foreign[:10]}{' ...' if len(foreign) > 10 else ''} are not classes "
                          f"of dataset {dataset!r} (it has {len(class_names)}: {list(class_names)[:6]} ...); remove "
                          f"them from the file or correct their 'label'")
    kind = "generated" if descriptions.source.startswith("generated by") else "file"  # zssar describe's
    return TextBank(dataset, classes, descriptions.source,
                    tuple(Provenance(n, kind, f"{path} ({descriptions.source})") for n in class_names))
