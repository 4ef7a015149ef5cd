"""A dataset that comes with class names only borrows the descriptions of the closest described class
of the project's library, says per class from where and how similar, and falls back to label text (with
a warning) where nothing is close; a user's own description file is checked against the dataset."""
import json
import warnings
from dataclasses import replace

import numpy as np
import pytest

from zssar.cli import main
from zssar.data.interchange import save_npz
from zssar.errors import InvalidData
from zssar.text.borrow import BORROW_THRESHOLD, adapt, borrow, display_name, library, matcher
from zssar.text.descriptions import project_descriptions, text_bank_for, text_choice

NAMES = ["drink water", "sit_down", "kick something", "clap hands", "wave", "pick up", "throw", "walk",
         "stand up", "phone call", "jump up", "zzqx 7"]


def _similarity(a: str, b: str) -> float:
    x, y = matcher().encode([a, b])
    return float(np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y))


def test_the_threshold_separates_paraphrases_from_placeholders_and_unrelated_actions():
    # the reasons BORROW_THRESHOLD is 0.6, measured on names only (no accuracy involved)
    assert _similarity("drink", "drink water") > BORROW_THRESHOLD
    assert _similarity("sit down", "sitting down") > BORROW_THRESHOLD
    assert _similarity("drink", "kicking something") < BORROW_THRESHOLD
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, provenance = borrow([f"class {i}" for i in range(40)] + ["x", "foo", "unknown"])
    assert all(p.kind == "label" for p in provenance)
    assert max(p.similarity for p in provenance) < BORROW_THRESHOLD


def test_a_class_borrows_the_closest_described_class_adapted_to_its_name():
    classes, provenance = borrow(["drink", "phone call"], exclude=("kard",))
    drink = provenance[0]
    assert drink.kind == "borrowed" and drink.source == "ntu120:drink water" and drink.similarity > 0.8
    assert classes[0].label == "drink" and classes[0].synonyms[0] == "drink water"
    source = {c.label: c for c in project_descriptions("ntu120").classes}["drink water"]
    assert classes[0].parts == {k: v.replace("drink water", "drink") for k, v in source.parts.items()}
    assert classes[0].contexts == source.contexts  # the whole description set comes along
    adapted = adapt(replace(source, description="To drink water, the person lifts a cup."), "sip")
    assert adapted.description == "To sip, the person lifts a cup."


def test_two_classes_never_borrow_one_description_under_the_mutual_rule():
    # KARD's names without kard.json: "toss paper" and "high throw" both reach UTKinect's "throw"
    names = ["high throw", "toss paper", "two hand wave", "high arm wave", "side kick", "forward kick"]
    with pytest.warns(UserWarning, match="closer to another class"):
        _, mutual = borrow(names, exclude=("kard",))
    _, nearest = borrow(names, exclude=("kard",), rule="nearest")
    sources = [p.source for p in nearest]
    assert sources[0] == sources[1] == "utkinect:throw"  # the collision the rule removes
    by_name = {p.label: p for p in mutual}
    assert by_name["high throw"].kind == "borrowed" and by_name["high throw"].source == "utkinect:throw"
    assert by_name["toss paper"].kind == "label" and by_name["toss paper"].to_dict()["closer"] == "high throw"
    borrowed = [p.source for p in mutual if p.kind == "borrowed"]
    assert len(borrowed) == len(set(borrowed))
    with pytest.raises(ValueError, match="unknown borrowing rule"):
        borrow(names, rule="best")


def test_a_record_names_its_borrowing_rule_and_older_records_read_as_nearest():
    from zssar.records import record_borrow_rule

    assert record_borrow_rule({"text": "borrowed"}) == "nearest"
    assert record_borrow_rule({"text": "borrowed", "borrow_rule": "mutual"}) == "mutual"
    assert record_borrow_rule({"text": "label", "borrow_rule": ""}) == ""


def test_a_dataset_treated_as_names_only_never_borrows_its_own_descriptions():
    names = project_descriptions("kard").labels()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bank = text_bank_for("kard", names, text="borrowed")
    assert all(not row.get("from", "").startswith("kard:") for row in bank.provenance_rows())
    assert {row["text"] for row in bank.provenance_rows()} <= {"borrowed", "label"}
    assert "not from kard.json" in bank.source
    assert not any(name == "kard" for name, _ in library(exclude=("kard",)))
    assert text_choice("kard") == "project" and text_choice("kard", "borrowed") == "borrowed"
    assert text_choice("my-lab") == "borrowed"


def test_display_name_reads_underscores_as_spaces():
    assert display_name("sit_down") == "sit down" and display_name("  wave   hands ") == "wave hands"


@pytest.fixture
def names_only(tiny_data, tmp_path):
    data = replace(tiny_data, class_names=tuple(NAMES), name="my-lab")
    return save_npz(data, tmp_path / "my-lab.npz")


def test_a_names_only_dataset_records_where_each_class_text_came_from(names_only, tiny_backbone, tmp_path):
    from zssar.data.registry import load_dataset
    from zssar.runner import RunConfig, run_experiment

    data = load_dataset(f"npz:{names_only}")
    config = RunConfig(dataset=f"npz:{names_only}", split="unseen=0,4,8", backbone=tiny_backbone,
                       cache_dir=str(tmp_path / "cache"), method_settings={"epochs": 2})
    with pytest.warns(UserWarning, match=r"keep label-only text: 'zzqx 7' \(closest .* at 0\.\d\d\)"):
        result = run_experiment(config, data=data, show_progress=False)
    record = result.record
    assert record.text == "borrowed" and record.borrow_rule == "mutual"
    rows = {row["class"]: row for row in record.text_provenance}
    assert list(rows) == NAMES
    assert rows["zzqx 7"]["text"] == "label" and rows["zzqx 7"]["similarity"] < BORROW_THRESHOLD
    assert rows["drink water"] == {"class": "drink water", "text": "borrowed", "from": "ntu120:drink water",
                                   "similarity": 1.0}
    assert all(rows[n]["text"] == "borrowed" and rows[n]["similarity"] >= BORROW_THRESHOLD for n in NAMES[:-1])
    assert result.text.bank.classes[-1].description == ""  # label text for the unmatched class
    assert "11 of 12 classes borrow" in record.text_source
    # the same run with label text is another run (its identity differs), with label text everywhere
    from zssar.records import record_identity, run_identity

    labelled = replace(config, text="label")
    assert run_identity(labelled, data)["text"] == "label"
    assert record_identity(record.to_dict())["text"] == "borrowed" == run_identity(config, data)["text"]


def test_zssar_data_and_text_name_each_class_kind_of_text(names_only, capsys):
    assert main(["data", "--dataset", f"npz:{names_only}"]) == 0
    out = capsys.readouterr().out
    assert "class text: borrowed 11, label 1" in out
    assert "drink water: borrowed from ntu120:drink water (similarity 1.00)" in out
    assert "zzqx 7: label only (closest" in out
    assert main(["text", "--dataset", f"npz:{names_only}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kinds"] == {"borrowed": 11, "label": 1}
    assert report["per_class"]["zzqx 7"]["text"]["text"] == "label"


def _file(tmp_path, classes, name="mine.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"dataset": "my-lab", "source": "written by hand", "classes": classes}))
    return path


def test_a_users_own_file_is_used_and_recorded(names_only, tmp_path, capsys):
    entries = [{"label": n, "description": f"the person does {n}"} for n in NAMES]
    path = _file(tmp_path, entries)
    bank = text_bank_for("my-lab", NAMES, path=path)
    assert bank.strings("description")[0] == "the person does drink water"
    assert {row["text"] for row in bank.provenance_rows()} == {"file"}
    assert text_choice("my-lab", descriptions=path).startswith("file:")
    generated = _file(tmp_path, entries, "generated.json")
    generated.write_text(generated.read_text().replace("written by hand", "generated by chat:some-model with x"))
    assert {row["text"] for row in text_bank_for("my-lab", NAMES, path=generated).provenance_rows()} == {"generated"}
    before = text_choice("my-lab", descriptions=path)
    path.write_text(path.read_text().replace("the person", "someone"))
    assert text_choice("my-lab", descriptions=path) != before  # an edited file is another run


@pytest.mark.parametrize("case, expected", [
    ("schema", r"mine\.json: class 'walk': field 'parts' must be an object"),
    ("missing", r"mine\.json: .*no description for class\(es\) \['zzqx 7'\]"),
    ("foreign", r"mine\.json: class\(es\) \['fly away'\] are not classes of dataset 'my-lab'"),
])
def test_a_bad_description_file_is_refused_naming_the_file_class_and_field(case, expected, names_only, tmp_path,
                                                                            capsys):
    entries = [{"label": n, "description": f"the person does {n}"} for n in NAMES]
    if case == "schema":
        entries[7]["parts"] = "legs move"
    elif case == "missing":
        entries = entries[:-1]
    else:
        entries.append({"label": "fly away", "description": "flaps arms"})
    path = _file(tmp_path, entries)
    with pytest.raises(InvalidData, match=expected):
        text_bank_for("my-lab", NAMES, path=path)
    assert main(["run", "--dataset", f"npz:{names_only}", "--descriptions", str(path), "--quiet",
                 "--cache", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "mine.json" in err
    assert not (tmp_path / "c" / "features").exists()  # refused before any training


def test_zssar_run_says_which_class_borrowed_what(names_only, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["run", "--dataset", f"npz:{names_only}", "--split", "unseen=0,4,8", "--epochs", "1",
                     "--frames", "16", "--set", "epochs=2", "--quiet", "--cache", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "class text: borrowed 11, label 1" in out
    assert "drink water: borrowed from ntu120:drink water (similarity 1.00)" in out
    assert "zzqx 7: label only (closest" in out
