"""The description schema, the TextBank fields and loading the project's description files."""
from __future__ import annotations

import json

import pytest

from zssar.classnames import CLASS_NAMES
from zssar.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASSES
from zssar.errors import InvalidData
from zssar.text.descriptions import TextBank, align, load_description_file, text_bank_for
from zssar.text.schema import ClassDescription, DescriptionSet, field_names

EXPECTED = {"synthetic": len(SYNTHETIC_CLASSES), "kard": 18, "utkinect": 10, "nw-ucla": 10, "ntu60": 60,
            "ntu120": 120, "pku-mmd": 51}
METHOD_FIELDS = (["label", "description", "synonyms", "label+description", "context_sentence"]
                 + [f"parts.{k}" for k in ("head", "hand", "arm", "hip", "leg", "foot")]
                 + [f"gap4.{k}" for k in ("head", "hand_arm", "hip", "leg_foot")]
                 + ["gap2.upper", "gap2.lower"]
                 + [f"purls_parts.{k}" for k in ("head", "hands", "torso", "legs")]
                 + [f"phases.{k}" for k in ("start", "middle", "end")]
                 + [f"context.{k}" for k in ("environment", "used_object", "target_object")])


def _entry(label="wave", **over):
    d = {"label": label, "synonyms": ["greet"], "description": "The hand moves side to side.",
         "parts": {k: f"{k} sentence." for k in ("head", "hand", "arm", "hip", "leg", "foot")},
         "purls_parts": {k: f"{k} text" for k in ("head", "hands", "torso", "legs")},
         "phases": {k: f"{k} phase" for k in ("start", "middle", "end")},
         "context": {"environment": "a room", "used_object": "none", "target_object": "a friend"},
         "context_sentence": "A person waves in a room.", "variants": ["one", "two"],
         "contexts": [{"environment": "a street", "used_object": "none", "target_object": "a taxi"},
                      {"environment": "a beach", "used_object": "a towel", "target_object": "the lifeguard"}],
         "key_parts": ["hand", "arm"]}
    d.update(over)
    return d


def test_field_names_are_the_ones_methods_use():
    assert set(METHOD_FIELDS) == set(field_names())


def test_derived_part_views_join_the_six_parts():
    c = ClassDescription.from_dict(_entry())
    assert c.field("gap4.hand_arm") == "hand sentence. arm sentence."
    assert c.field("gap2.upper") == "head sentence. hand sentence. arm sentence."
    assert c.field("gap2.lower") == "hip sentence. leg sentence. foot sentence."
    assert c.field("purls_parts.hands") == "hands text"
    assert c.field("context.target_object") == "a friend"


@pytest.mark.parametrize("field, broken", [
    ("parts", {"head": "x"}), ("context_sentence", ""), ("synonyms", []), ("phases", {"start": "a", "end": "b"}),
    ("variants", ["  "]), ("purls_parts", {"head": "a", "hands": "b", "torso": "c"}), ("contexts", []),
    ("key_parts", []), ("contexts", [{"environment": "a room", "used_object": " ", "target_object": "x"}]),
])
def test_missing_field_error_names_class_and_field(field, broken):
    with pytest.raises(InvalidData, match=r"'wave'.*" + field.split(".")[0]):
        ClassDescription.from_dict(_entry(**{field: broken}))
    ClassDescription.from_dict(_entry(**{field: broken}), require_full=False)  # partial imports are allowed


@pytest.mark.parametrize("bad, message", [
    ({"parts": {"hed": "x"}}, "unknown key"), ({"colour": "red"}, "unknown field"),
    ({"synonyms": "greet"}, "list of strings"), ({"context": "a room"}, "must be an object"),
    ({"contexts": [{"environment": "a room"}]}, r"contexts\[0\] has key"), ({"contexts": "a room"}, "list of objects"),
    ({"contexts": ["a room / none / x"]}, r"contexts\[0\] must be an object"),
    ({"key_parts": ["tail"]}, "unknown part"), ({"key_parts": ["hand", "hand"]}, "twice"),
    ({"key_parts": "hand"}, "list of body-part names"),
])
def test_malformed_entries_are_rejected(bad, message):
    with pytest.raises(InvalidData, match=message):
        ClassDescription.from_dict(_entry(**bad), require_full=False)


def test_contexts_and_key_parts_round_trip_and_fall_back():
    c = ClassDescription.from_dict(_entry())
    assert c.context_triples()[1] == {"environment": "a beach", "used_object": "a towel",
                                      "target_object": "the lifeguard"}
    assert c.key_parts == ("hand", "arm")
    assert ClassDescription.from_dict(c.to_dict()) == c
    older = ClassDescription.from_dict(_entry(contexts=[], key_parts=[]), require_full=False)
    assert older.context_triples() == ({"environment": "a room", "used_object": "none", "target_object": "a friend"},)
    assert ClassDescription(label="x").context_triples() == ()


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_every_class_has_ten_context_triples_and_key_parts(dataset):
    from zssar.text.schema import CONTEXTS_PER_CLASS, PART_KEYS

    names = SYNTHETIC_CLASSES if dataset == "synthetic" else CLASS_NAMES[dataset]
    for c in text_bank_for(dataset, names).classes:
        assert len(c.context_triples()) == CONTEXTS_PER_CLASS == 10, c.label
        assert c.key_parts and set(c.key_parts) <= set(PART_KEYS), c.label


def test_file_level_errors(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"dataset": "x", "classes": [_entry()]}))
    with pytest.raises(InvalidData, match="source"):
        load_description_file(path)
    path.write_text(json.dumps({"dataset": "x", "source": "s", "classes": [_entry(), _entry()]}))
    with pytest.raises(InvalidData, match="twice"):
        load_description_file(path)
    path.write_text("{not json")
    with pytest.raises(InvalidData, match="not valid JSON"):
        load_description_file(path)


def test_partial_class_raises_on_absent_field_and_falls_back_for_description():
    c = ClassDescription.from_dict({"label": "wave", "synonyms": []}, require_full=False)
    assert c.field("description") == "wave" and c.field("synonyms") == "wave"
    assert not c.has("description")
    with pytest.raises(InvalidData, match="'wave'.*parts.hip"):
        c.field("parts.hip")
    with pytest.raises(InvalidData, match="unknown text field"):
        c.field("parts.tail")


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_every_supported_class_has_a_complete_description(dataset):
    names = SYNTHETIC_CLASSES if dataset == "synthetic" else CLASS_NAMES[dataset]
    bank = text_bank_for(dataset, names)
    assert len(bank) == EXPECTED[dataset]
    assert [c.label for c in bank.classes] == list(names)
    for c in bank.classes:
        c.validate()
    for name in METHOD_FIELDS:
        strings = bank.strings(name)
        assert len(strings) == len(names) and all(s.strip() for s in strings), name
    assert all(len(bank.variants(i)) >= 2 and len(bank.synonyms(i)) >= 2 for i in range(len(bank)))


def test_bank_follows_the_order_of_the_class_names():
    names = list(reversed(SYNTHETIC_CLASSES[:5]))
    bank = text_bank_for("synthetic", names)
    assert bank.strings("label") == names


def test_label_text_is_label_only_and_says_so():
    bank = text_bank_for("my-lab-data", ["lift box", "wave"], text="label")
    assert bank.strings("description") == ["lift box", "wave"]
    assert "class names only" in bank.source and "my-lab-data" in bank.source
    assert [row["text"] for row in bank.provenance_rows()] == ["label", "label"]
    assert not bank.has_field("parts.head") and bank.coverage()["label"] == 2
    with pytest.raises(InvalidData, match="'lift box'.*parts.head"):
        bank.strings("parts.head")


def test_missing_class_is_named():
    with pytest.raises(InvalidData, match="no description for class.*'fly away'"):
        text_bank_for("synthetic", ["nod head", "fly away"])


def test_align_by_official_position_when_labels_are_worded_differently():
    names = CLASS_NAMES["utkinect"]
    worded = DescriptionSet("utkinect", "test", tuple(ClassDescription(label=f"{n} (own wording)") for n in names))
    aligned = align(worded, ["throw", "walk"])
    assert [c.label for c in aligned] == ["throw (own wording)", "walk (own wording)"]


def test_explicit_project_style_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"dataset": "mine", "source": "my lab", "classes": [_entry("lift box")]}))
    bank = text_bank_for("mine", ["lift box"], path=path)
    assert isinstance(bank, TextBank) and bank.source == "my lab"
    assert bank.strings("gap4.leg_foot") == ["leg sentence. foot sentence."]
