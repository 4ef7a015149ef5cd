"""The text of a class: label, synonyms, a description, body-part and phase sentences.

A :class:`TextBank` holds the :class:`ClassText` of every class of a dataset, in class-id order, and
turns a *field* name into one string per class:

* ``label``, ``description``, ``synonyms`` (first synonym), ``label+description`` (joined);
* ``parts.<name>`` for a body part (``head``, ``hand``, ``arm``, ``hip``, ``leg``, ``foot``);
* ``phases.<name>`` for a temporal phase (``start``, ``middle``, ``end``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InvalidData

PART_KEYS = ("head", "hand", "arm", "hip", "leg", "foot")
PHASE_KEYS = ("start", "middle", "end")


@dataclass(frozen=True)
class ClassText:
    label: str
    synonyms: tuple[str, ...] = ()
    description: str = ""
    parts: dict[str, str] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict, *, require_full: bool = True) -> "ClassText":
        label = d.get("label")
        if not label:
            raise InvalidData(f"class text without a 'label': {d!r}")
        text = cls(label=label, synonyms=tuple(d.get("synonyms", ())), description=d.get("description", ""),
                   parts=dict(d.get("parts", {})), phases=dict(d.get("phases", {})))
        if require_full:
            text.validate()
        return text

    def validate(self) -> None:
        """Raise naming the class and field when a field the methods need is missing or empty."""
        missing = []
        if not self.synonyms:
            missing.append("synonyms")
        if not self.description.strip():
            missing.append("description")
        missing += [f"parts.{k}" for k in PART_KEYS if not self.parts.get(k, "").strip()]
        missing += [f"phases.{k}" for k in PHASE_KEYS if not self.phases.get(k, "").strip()]
        if missing:
            raise InvalidData(f"class {self.label!r}: missing or empty field(s) {missing}")

    def field(self, name: str) -> str:
        if name == "label":
            return self.label
        if name == "description":
            return self.description or self.label
        if name == "synonyms":
            return self.synonyms[0] if self.synonyms else self.label
        if name == "label+description":
            return f"{self.label}: {self.description}" if self.description else self.label
        group, _, key = name.partition(".")
        if group in ("parts", "phases") and key:
            value = getattr(self, group).get(key)
            if not value:
                raise InvalidData(f"class {self.label!r} has no text for field {name!r}")
            return value
        raise InvalidData(f"unknown text field {name!r}; use label, description, synonyms, label+description, "
                          f"parts.<{'|'.join(PART_KEYS)}> or phases.<{'|'.join(PHASE_KEYS)}>")


@dataclass(frozen=True)
class TextBank:
    """Class texts of one dataset, indexed by class id."""

    dataset: str
    classes: tuple[ClassText, ...]
    source: str = ""

    def __len__(self) -> int:
        return len(self.classes)

    def strings(self, field_name: str) -> list[str]:
        return [c.field(field_name) for c in self.classes]


def text_bank_for(dataset: str, class_names) -> TextBank:
    """The project's text for a dataset's classes; label-only for datasets without descriptions yet."""
    if dataset == "synthetic":
        from ..data.synthetic import class_texts

        texts = class_texts()
        missing = [n for n in class_names if n not in texts]
        if missing:
            raise InvalidData(f"synthetic: no description for class(es) {missing}")
        return TextBank(dataset, tuple(ClassText.from_dict(texts[n]) for n in class_names),
                        "generated from each class's composition of motion primitives")
    return TextBank(dataset, tuple(ClassText(label=n) for n in class_names), "class names only")
