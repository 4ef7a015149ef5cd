"""The description schema: everything a method may want to read about one action class.

One class is a :class:`ClassDescription`; a description file holds many::

    {"dataset": "kard", "source": "how the text was made",
     "classes": [{"label": "drink",
                  "synonyms": ["take a sip", ...],
                  "description": "one paragraph about the whole movement",
                  "parts": {"head": ..., "hand": ..., "arm": ..., "hip": ..., "leg": ..., "foot": ...},
                  "purls_parts": {"head": ..., "hands": ..., "torso": ..., "legs": ...},
                  "phases": {"start": ..., "middle": ..., "end": ...},
                  "context": {"environment": ..., "used_object": ..., "target_object": ...},
                  "context_sentence": "one short sentence with the context",
                  "contexts": [{"environment": ..., "used_object": ..., "target_object": ...}, ...],
                  "key_parts": ["hand", "arm", ...],
                  "variants": ["another description", ...]}, ...]}

``parts`` are the six body parts of GAP and STAR (the 2- and 4-part views of GAP are derived from
them by joining sentences), ``purls_parts`` the four of PURLS, ``phases`` the three temporal phases of
PURLS, ``context`` the slots of SkeletonContext and ``variants`` the descriptions a method samples
among. ``contexts`` are SkeletonContext's several context descriptions of one class (Sec. 3.2: where the
action happens, the object used, the object acted on; the project writes :data:`CONTEXTS_PER_CLASS` of
them per class, as the paper generates 10), and ``key_parts`` the body parts that carry the action
(among :data:`PART_KEYS`; the "body part" of the paper's template, from which its key-part prior is
built). Project files must be complete (``require_full=True``); imports of published files fill what
their source provides (``require_full=False``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InvalidData

PART_KEYS = ("head", "hand", "arm", "hip", "leg", "foot")
PURLS_PART_KEYS = ("head", "hands", "torso", "legs")
PHASE_KEYS = ("start", "middle", "end")
CONTEXT_KEYS = ("environment", "used_object", "target_object")
# How many context triples the project writes per class and the describe command asks for (the
# paper's 10 descriptions per class); a complete entry needs at least one.
CONTEXTS_PER_CLASS = 10
# Derived views: GAP's four and two body parts as joins of the six part sentences.
GAP4_PARTS = {"head": ("head",), "hand_arm": ("hand", "arm"), "hip": ("hip",), "leg_foot": ("leg", "foot")}
GAP2_PARTS = {"upper": ("head", "hand", "arm"), "lower": ("hip", "leg", "foot")}
_GROUPS = {"parts": PART_KEYS, "purls_parts": PURLS_PART_KEYS, "phases": PHASE_KEYS, "context": CONTEXT_KEYS}
_DERIVED = {"gap4": GAP4_PARTS, "gap2": GAP2_PARTS}
CLASS_KEYS = ("label", "synonyms", "description", "parts", "purls_parts", "phases", "context",
              "context_sentence", "contexts", "key_parts", "variants")
# Optional: named lists of further texts an imported source has beyond the schema (Neuron's
# coarse/medium/fine spatial and per-phase temporal sets), kept so an import loses nothing.
OPTIONAL_KEYS = ("extra",)


def field_names() -> list[str]:
    """Every field name :meth:`ClassDescription.field` understands."""
    names = ["label", "description", "synonyms", "label+description"]
    for group, keys in _GROUPS.items():
        names += [f"{group}.{k}" for k in keys]
        if group == "parts":
            names += [f"{d}.{k}" for d, parts in _DERIVED.items() for k in parts]
    return names + ["context_sentence"]


def _join(sentences) -> str:
    """Sentences joined into one text, each ending with punctuation."""
    out = []
    for s in sentences:
        s = s.strip()
        if s:
            out.append(s if s[-1] in ".!?" else s + ".")
    return " ".join(out)


def _contexts(value, at: str) -> tuple[dict[str, str], ...]:
    """Check ``contexts``: a list of objects, each with exactly the slots :data:`CONTEXT_KEYS`."""
    if not isinstance(value, (list, tuple)):
        raise InvalidData(f"{at}: field 'contexts' must be a list of objects with keys {list(CONTEXT_KEYS)}")
    out = []
    for i, triple in enumerate(value):
        if not isinstance(triple, dict):
            raise InvalidData(f"{at}: contexts[{i}] must be an object with keys {list(CONTEXT_KEYS)}, "
                              f"got {type(triple).__name__}")
        wrong = sorted(set(triple) ^ set(CONTEXT_KEYS))
        if wrong:
            raise InvalidData(f"{at}: contexts[{i}] has key(s) {sorted(triple)}; each context needs exactly "
                              f"{list(CONTEXT_KEYS)} (\"none\" where there is no object)")
        bad = [k for k in CONTEXT_KEYS if not isinstance(triple[k], str)]
        if bad:
            raise InvalidData(f"{at}: contexts[{i}].{bad[0]} must be a string")
        out.append({k: triple[k] for k in CONTEXT_KEYS})
    return tuple(out)


def _key_parts(value, at: str) -> tuple[str, ...]:
    """Check ``key_parts``: distinct names among :data:`PART_KEYS`."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidData(f"{at}: field 'key_parts' must be a list of body-part names among {list(PART_KEYS)}")
    unknown = [v for v in value if v not in PART_KEYS]
    if unknown:
        raise InvalidData(f"{at}: key_parts has unknown part(s) {unknown}; use names among {list(PART_KEYS)}")
    if len(set(value)) != len(value):
        raise InvalidData(f"{at}: key_parts names a part twice: {list(value)}")
    return tuple(value)


@dataclass(frozen=True)
class ClassDescription:
    """The text of one class (see the module docstring for the meaning of each field)."""

    label: str
    synonyms: tuple[str, ...] = ()
    description: str = ""
    parts: dict[str, str] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    purls_parts: dict[str, str] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    context_sentence: str = ""
    variants: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    contexts: tuple[dict[str, str], ...] = ()
    key_parts: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict, *, require_full: bool = True, where: str = "") -> "ClassDescription":
        """Build and check one class entry; errors name ``where`` (a file), the class and the field."""
        at = f"{where}: " if where else ""
        if not isinstance(d, dict):
            raise InvalidData(f"{at}a class entry must be a JSON object, got {type(d).__name__}")
        label = d.get("label")
        if not isinstance(label, str) or not label.strip():
            raise InvalidData(f"{at}class entry without a 'label' string: {str(d)[:120]}")
        unknown = sorted(set(d) - set(CLASS_KEYS) - set(OPTIONAL_KEYS))
        if unknown:
            raise InvalidData(f"{at}class {label!r}: unknown field(s) {unknown}; the schema has {list(CLASS_KEYS)}")
        for key in ("description", "context_sentence"):
            if not isinstance(d.get(key, ""), str):
                raise InvalidData(f"{at}class {label!r}: field {key!r} must be a string")
        for key in ("synonyms", "variants"):
            value = d.get(key, [])
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise InvalidData(f"{at}class {label!r}: field {key!r} must be a list of strings")
        groups = {}
        for group, keys in _GROUPS.items():
            value = d.get(group, {})
            if not isinstance(value, dict):
                raise InvalidData(f"{at}class {label!r}: field {group!r} must be an object with keys {list(keys)}")
            extra = sorted(set(value) - set(keys))
            if extra:
                raise InvalidData(f"{at}class {label!r}: field {group!r} has unknown key(s) {extra}; "
                                  f"use {list(keys)}")
            bad = [k for k, v in value.items() if not isinstance(v, str)]
            if bad:
                raise InvalidData(f"{at}class {label!r}: {group}.{bad[0]} must be a string")
            groups[group] = {k: value[k] for k in keys if k in value}
        extra = d.get("extra", {})
        if not isinstance(extra, dict) or not all(
                isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v) for v in extra.values()):
            raise InvalidData(f"{at}class {label!r}: field 'extra' must map names to lists of strings")
        groups["extra"] = {str(k): tuple(v) for k, v in extra.items()}
        text = cls(label=label, synonyms=tuple(d.get("synonyms", ())), description=d.get("description", ""),
                   context_sentence=d.get("context_sentence", ""), variants=tuple(d.get("variants", ())),
                   contexts=_contexts(d.get("contexts", []), f"{at}class {label!r}"),
                   key_parts=_key_parts(d.get("key_parts", []), f"{at}class {label!r}"), **groups)
        if require_full:
            text.validate(where)
        return text

    def to_dict(self) -> dict:
        return {"label": self.label, "synonyms": list(self.synonyms), "description": self.description,
                "parts": dict(self.parts), "purls_parts": dict(self.purls_parts), "phases": dict(self.phases),
                "context": dict(self.context), "context_sentence": self.context_sentence,
                "contexts": [dict(c) for c in self.contexts], "key_parts": list(self.key_parts),
                "variants": list(self.variants)} | ({"extra": {k: list(v) for k, v in self.extra.items()}}
                                                     if self.extra else {})

    def missing(self) -> list[str]:
        """Schema fields that are absent or empty (dotted names, e.g. ``parts.hip``)."""
        out = []
        for key in ("synonyms", "variants"):
            values = getattr(self, key)
            if not values or not all(v.strip() for v in values):
                out.append(key)
        out += [k for k in ("description", "context_sentence") if not getattr(self, k).strip()]
        for group, keys in _GROUPS.items():
            out += [f"{group}.{k}" for k in keys if not getattr(self, group).get(k, "").strip()]
        if not self.contexts:
            out.append("contexts")
        out += [f"contexts[{i}].{k}" for i, c in enumerate(self.contexts) for k in CONTEXT_KEYS
                if not c.get(k, "").strip()]
        if not self.key_parts:
            out.append("key_parts")
        return out

    def context_triples(self) -> tuple[dict[str, str], ...]:
        """The class's context triples: ``contexts``, else the one ``context`` when it has every slot
        (a file written before ``contexts`` existed), else none."""
        if self.contexts:
            return self.contexts
        if all(self.context.get(k, "").strip() for k in CONTEXT_KEYS):
            return (dict(self.context),)
        return ()

    def validate(self, where: str = "") -> None:
        """Raise naming the class and field(s) when anything of the schema is missing or empty."""
        missing = self.missing()
        if missing:
            at = f"{where}: " if where else ""
            raise InvalidData(f"{at}class {self.label!r}: missing or empty field(s) {missing}")

    def has(self, name: str) -> bool:
        """Whether :meth:`field` can give text for ``name`` without falling back to the label."""
        try:
            self.field(name, fallback=False)
        except InvalidData:
            return False
        return True

    def field(self, name: str, *, fallback: bool = True) -> str:
        """The text of one field. ``description`` and ``synonyms`` fall back to the label when absent
        (``fallback=False`` raises instead); every other field raises naming the class."""
        if name == "label":
            return self.label
        if name in ("description", "synonyms", "label+description", "context_sentence"):
            value = {"description": self.description, "context_sentence": self.context_sentence,
                     "synonyms": self.synonyms[0] if self.synonyms else "",
                     "label+description": f"{self.label}: {self.description}" if self.description else ""}[name]
            if value.strip():
                return value
            if fallback and name != "context_sentence":
                return self.label
            raise InvalidData(f"class {self.label!r} has no text for field {name!r}; use a description "
                              f"source that provides it")
        group, _, key = name.partition(".")
        if group in _GROUPS and key in _GROUPS[group]:
            value = getattr(self, group).get(key, "")
            if not value.strip():
                raise InvalidData(f"class {self.label!r} has no text for field {name!r}; use a description "
                                  f"source that provides it")
            return value
        if group in _DERIVED and key in _DERIVED[group]:
            return _join(self.field(f"parts.{p}") for p in _DERIVED[group][key])
        raise InvalidData(f"unknown text field {name!r}; use one of {field_names()}")


@dataclass(frozen=True)
class DescriptionSet:
    """The classes of one description file, in file order."""

    dataset: str
    source: str
    classes: tuple[ClassDescription, ...]

    def __len__(self) -> int:
        return len(self.classes)

    def labels(self) -> list[str]:
        return [c.label for c in self.classes]

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "source": self.source, "classes": [c.to_dict() for c in self.classes]}

    @classmethod
    def from_dict(cls, d: dict, *, require_full: bool = True, where: str = "") -> "DescriptionSet":
        at = f"{where}: " if where else ""
        if not isinstance(d, dict):
            raise InvalidData(f"{at}a description file must hold a JSON object with 'dataset', 'source', 'classes'")
        missing = [k for k in ("dataset", "source", "classes") if k not in d]
        if missing:
            raise InvalidData(f"{at}missing top-level field(s) {missing}; expected 'dataset', 'source', 'classes'")
        if not isinstance(d["classes"], list) or not d["classes"]:
            raise InvalidData(f"{at}'classes' must be a non-empty list of class entries")
        classes = tuple(ClassDescription.from_dict(c, require_full=require_full, where=where) for c in d["classes"])
        seen = set()
        for c in classes:
            if c.label in seen:
                raise InvalidData(f"{at}class {c.label!r} appears twice; labels must be unique")
            seen.add(c.label)
        return cls(str(d["dataset"]), str(d["source"]), classes)
