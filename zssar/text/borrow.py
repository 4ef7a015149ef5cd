"""Descriptions borrowed from the project's library, for a dataset that comes with class names only.

A dataset brought as ``npz:PATH`` has class names and nothing else. Rather than score its classes by
their names alone, every name is matched to the closest *described* class of the project's own
description files (``zssar/text/data/``: KARD, UTKinect, NW-UCLA, NTU-120, PKU-MMD and the synthetic
classes): the similarity of two classes is the cosine between the MiniLM embedding of the new name and
that of the described class's label or one of its synonyms, whichever is closest. When the best match
reaches :data:`BORROW_THRESHOLD`, the whole description set of that class (description, parts, phases,
context, variants) is used, with every mention of the described class's name replaced by the new one;
below it, the class keeps label-only text, and a warning names it.

Matching always uses MiniLM (a real sentence encoder shipped by a registry package), whatever encoder
the run scores with, so a run with a tiny test encoder borrows the same text as one with MiniLM.

``exclude`` names description files the match may not read: a dataset treated as having names only
must not borrow its own descriptions (``text="borrowed"`` on KARD excludes ``kard.json``).

:data:`BORROW_THRESHOLD` was fixed from names alone, before any accuracy was measured: MiniLM
gives a placeholder name that means nothing ("class 7", "x", "foo", "unknown") a best match of up to
0.58 with some described class, so a match must reach 0.6 to count; paraphrases of one action
("drink" / "drink water" 0.75, "sit down" / "sitting down" 0.91) are well above it and unrelated
actions ("drink" / "kicking something" 0.20) far below (``tests/test_borrow.py`` holds these). A
generic word that a described class uses as a synonym still passes ("gesture 2" matches 0.73): the
record says so, class by class.

:data:`BORROW_RULE` ``"mutual"``: a class borrows a described class only when the match is mutual, i.e.
of all the dataset's class names its own is the closest to that described class. Two classes that
borrow one description get the same text but for their names and cannot be told apart by it: KARD's
"toss paper" (0.74) and "high throw" (0.75) both reached UTKinect's "throw", and "high arm wave" and
"horizontal arm wave" reached waves that are closer to "two hand wave". Under the mutual rule the
closer name keeps the description and the other keeps label text. This rule reads names only; it was
found by reading which classes the first rule (``"nearest"``: every class takes its closest described
class) lost on in the text study, whose records of both rules are kept (chapter 03).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

import numpy as np

from .schema import ClassDescription, DescriptionSet

BORROW_THRESHOLD = 0.6
BORROW_RULES = ("mutual", "nearest")
BORROW_RULE = "mutual"  # the rule of text="borrowed" runs; records made before it existed used "nearest"
# The library, in a fixed order (ties go to the earlier file); ntu60 reads the ntu120 file.
LIBRARY_FILES = ("kard", "utkinect", "nw-ucla", "ntu120", "pku-mmd", "synthetic")


@dataclass(frozen=True)
class Provenance:
    """Where one class's text came from: ``kind`` is ``project``, ``borrowed``, ``label``, ``file`` (a
    description file given) or ``generated`` (a file written by ``zssar describe``)."""

    label: str
    kind: str
    source: str = ""  # borrowed: "file:label" of the described class; file: the file's path
    similarity: float | None = None  # borrowed (or fallen back): the best match's cosine
    closer: str = ""  # fallen back under the mutual rule: the dataset's class closer to that described class

    def to_dict(self) -> dict:
        out = {"class": self.label, "text": self.kind}
        if self.source:
            out["from"] = self.source
        if self.similarity is not None:
            out["similarity"] = round(float(self.similarity), 4)
        if self.closer:
            out["closer"] = self.closer
        return out


def kinds_of(rows: list[dict]) -> dict[str, int]:
    """How many classes have each kind of text (``{"borrowed": 15, "label": 3}``), from provenance rows."""
    out: dict[str, int] = {}
    for row in rows:
        out[row["text"]] = out.get(row["text"], 0) + 1
    return out


def display_name(name: str) -> str:
    """A class name as text: ``drink_water`` reads as ``drink water``."""
    return re.sub(r"\s+", " ", re.sub(r"[_]+", " ", str(name))).strip()


def library(exclude=()) -> list[tuple[str, ClassDescription]]:
    """(file name, class entry) of every class of the project's description files not in ``exclude``."""
    from .descriptions import load_description_file

    out = []
    for name in LIBRARY_FILES:
        if name in exclude:
            continue
        file = resources.files("zssar.text") / "data" / f"{name}.json"
        with resources.as_file(file) as path:
            out += [(name, c) for c in load_description_file(path).classes]
    return out


def _unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _replace_name(text: str, old: str, new: str) -> str:
    if not old.strip():
        return text
    pattern = re.compile(rf"(?<![A-Za-z]){re.escape(old)}(?![A-Za-z])", re.IGNORECASE)
    return pattern.sub(new, text)


def adapt(entry: ClassDescription, new_label: str) -> ClassDescription:
    """``entry``'s text under ``new_label``: every mention of its label (or a synonym) names the new class.

    The borrowed class's label becomes the first synonym: it names the same action in other words."""
    names = sorted({entry.label, *entry.synonyms} - {new_label}, key=len, reverse=True)

    def fix(text: str) -> str:
        for old in names:
            text = _replace_name(text, old, new_label)
        return text

    def fix_map(d: dict) -> dict:
        return {k: fix(v) for k, v in d.items()}

    synonyms = tuple(dict.fromkeys(s for s in (entry.label, *entry.synonyms) if s != new_label))
    return replace(entry, label=new_label, synonyms=synonyms, description=fix(entry.description),
                   parts=fix_map(entry.parts), phases=fix_map(entry.phases), purls_parts=fix_map(entry.purls_parts),
                   context=dict(entry.context), context_sentence=fix(entry.context_sentence),
                   variants=tuple(fix(v) for v in entry.variants),
                   extra={k: tuple(fix(v) for v in vs) for k, vs in entry.extra.items()})


def matcher(cache_dir=None):
    """The encoder the match reads (MiniLM, cached on disk like every text embedding)."""
    from .encoders import CachedEncoder, get_encoder

    return CachedEncoder(get_encoder("minilm"), cache_dir)


def _index(entries, encoder) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings of every described class's label and synonyms, and the entry each belongs to."""
    keys, owner = [], []
    for i, (_, entry) in enumerate(entries):
        for key in dict.fromkeys((display_name(entry.label), *entry.synonyms)):
            keys.append(key)
            owner.append(i)
    return _unit(encoder.encode(keys)), np.asarray(owner)


@lru_cache(maxsize=8)
def _library_index(exclude: tuple[str, ...], cache_dir) -> tuple:
    """The library and its index, once per process (they depend on the shipped files only)."""
    entries = library(exclude)
    return (entries, *_index(entries, matcher(cache_dir))) if entries else ([], None, None)


def borrow(class_names, *, exclude=(), threshold: float = BORROW_THRESHOLD, encoder=None,
           cache_dir=None, rule: str = BORROW_RULE) -> tuple[tuple[ClassDescription, ...], tuple[Provenance, ...]]:
    """The borrowed text of every class name, and where each came from (in ``class_names`` order).

    ``rule``: ``"mutual"`` (a described class goes to the dataset's class closest to it, the others
    keep label text) or ``"nearest"`` (every class takes its closest described class)."""
    if rule not in BORROW_RULES:
        raise ValueError(f"unknown borrowing rule {rule!r}; use one of {', '.join(BORROW_RULES)}")
    names = [display_name(n) for n in class_names]
    exclude = tuple(sorted(set(exclude)))
    if encoder is None:
        entries, keys, owner = _library_index(exclude, None if cache_dir is None else str(cache_dir))
        encoder = matcher(cache_dir)
    else:
        entries = library(exclude)
        keys, owner = _index(entries, encoder) if entries else (None, None)
    if not entries:
        raise ValueError(f"nothing to borrow from: every library file is excluded ({list(exclude)})")
    sim = _unit(encoder.encode(names)) @ keys.T  # (classes, keys)
    per_entry = np.full((len(names), len(entries)), -np.inf)
    for i in range(len(entries)):
        per_entry[:, i] = sim[:, owner == i].max(axis=1)
    closest_class = np.argmax(per_entry, axis=0)  # per described class: the dataset's closest name
    out, provenance, weak, taken = [], [], [], []
    for i, (original, row) in enumerate(zip(class_names, per_entry)):
        best = int(np.argmax(row))  # the first of equals: files in LIBRARY_FILES order
        file, entry = entries[best]
        similarity = float(row[best])
        source = f"{file}:{entry.label}"
        rival = int(closest_class[best])
        if similarity >= threshold and (rule == "nearest" or rival == i):
            out.append(adapt(entry, str(original)))
            provenance.append(Provenance(str(original), "borrowed", source, similarity))
        elif similarity >= threshold:
            out.append(ClassDescription(label=str(original)))
            provenance.append(Provenance(str(original), "label", source, similarity, str(class_names[rival])))
            taken.append(f"{original!r} ({source!r} at {similarity:.2f} is closer to {class_names[rival]!r} at "
                         f"{per_entry[rival, best]:.2f})")
        else:
            out.append(ClassDescription(label=str(original)))
            provenance.append(Provenance(str(original), "label", source, similarity))
            weak.append(f"{original!r} (closest {source!r} at {similarity:.2f})")
    if taken:
        warnings.warn(f"{len(taken)} class(es) keep label-only text because their closest described class is "
                      f"closer to another class of the dataset: {', '.join(taken[:10])}"
                      f"{' ...' if len(taken) > 10 else ''}", stacklevel=2)
    if weak:
        warnings.warn(f"{len(weak)} class(es) match no described class at similarity >= {threshold} and keep "
                      f"label-only text: {', '.join(weak[:10])}{' ...' if len(weak) > 10 else ''}; give them "
                      f"descriptions with --descriptions FILE (e.g. written by `zssar describe`)", stacklevel=2)
    return tuple(out), tuple(provenance)


def borrowed_set(class_names, dataset: str, **kwargs) -> tuple[DescriptionSet, tuple[Provenance, ...]]:
    """:func:`borrow` as a description file's content (for ``zssar text`` to write or show)."""
    classes, provenance = borrow(class_names, **kwargs)
    return DescriptionSet(dataset, f"borrowed from the project's descriptions (MiniLM match >= "
                                   f"{kwargs.get('threshold', BORROW_THRESHOLD)})", classes), provenance
