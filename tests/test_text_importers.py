"""Importers of the published description files: small hand-made files, then the real files.

The real files are found through ``ZSSAR_DESCRIPTIONS`` or a ``descriptions`` folder beside
``$ZSSAR_DATA``; those tests skip with the reason when neither is there. "Without loss" is checked
word by word: every word of a source file, less the format's own markers (part names, column
headers, indices), occurs as often in the imported text as in the file.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from zssar.classnames import CLASS_NAMES
from zssar.errors import InvalidData
from zssar.text.descriptions import text_bank_for
from zssar.text.importers import descriptions_root, import_descriptions, purls_workbook

# ---------------------------------------------------------------- small hand-made files


def test_star_line_with_a_semicolon_inside_a_part(tmp_path):
    f = tmp_path / "ntu120_part_descriptions.txt"
    f.write_text("wave; Head: looks; Hand: open; palm out; Arm: lifts; Hip: still; Leg: still; Foot: flat.\n")
    (c,) = import_descriptions("star", f).classes
    assert c.label == "wave" and c.parts["hand"] == "open; palm out" and c.parts["foot"] == "flat."


def test_star_missing_part_is_an_error(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("wave; Head: looks; Hand: open; Arm: lifts; Hip: still; Leg: still\n")
    with pytest.raises(InvalidData, match="line 1.*Foot"):
        import_descriptions("star", f)


def test_gap_folder_combines_its_files(tmp_path):
    (tmp_path / "my_label_map.txt").write_text("wave\nsit down\n")
    (tmp_path / "synonym_x.txt").write_text("wave,greet, hail\nsit down,take a seat\n")
    (tmp_path / "sentence_x.txt").write_text("wave,A man waves, smiling.\nsit down,He sits.\n")
    (tmp_path / "pasta_x.txt").write_text("wave;h1; h2; a; hi; l; f.\nsit down;h;ha;a;hip bends;legs bend;feet\n")
    got = import_descriptions("gap", tmp_path)
    assert got.labels() == ["wave", "sit down"]
    wave = got.classes[0]
    assert wave.synonyms == ("greet", "hail") and wave.description == "A man waves, smiling."
    assert got.classes[1].parts["leg"] == "legs bend"


def test_gap_pasta_with_wrong_part_count(tmp_path):
    (tmp_path / "pasta_x.txt").write_text("wave;h1; h2; a\n")
    with pytest.raises(InvalidData, match="6 part texts"):
        import_descriptions("gap", tmp_path)


def test_smie_quotes_and_bad_line(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text('"Drink water" is drinking.\n\u201cPickup\u201d is lifting.\n')
    assert import_descriptions("smie", f).labels() == ["Drink water", "Pickup"]
    f.write_text("Drink water is drinking.\n")
    with pytest.raises(InvalidData, match="line 1"):
        import_descriptions("smie", f)


def test_neuron_folder_keeps_all_sixty(tmp_path):
    for name in ("spatial/spatial_cg", "spatial/spatial_mg", "spatial/spatial_fg",
                 "temporal/temporal_fp", "temporal/temporal_sp", "temporal/temporal_tp"):
        p = tmp_path / "ntu" / f"{name}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"wave": [f"{p.stem} {i}" for i in range(10)]}))
    (c,) = import_descriptions("neuron", tmp_path / "ntu").classes
    assert c.phases["middle"] == "temporal_sp 0" and c.description == "spatial_fg 0"
    assert len(c.variants) == 10 and sum(len(v) for v in c.extra.values()) == 60


def test_unknown_source_and_missing_path():
    with pytest.raises(InvalidData, match="unknown description source"):
        import_descriptions("gpt", "x")
    with pytest.raises(InvalidData, match="needs path"):
        import_descriptions("file")


# ---------------------------------------------------------------- the real files


@pytest.fixture(scope="module")
def root() -> Path:
    folder = descriptions_root()
    if folder is None or not folder.is_dir():
        pytest.skip("published description files not found: set ZSSAR_DESCRIPTIONS, or ZSSAR_DATA with a "
                    "'descriptions' folder beside it")
    return folder


def _words(text: str) -> Counter:
    return Counter(re.findall(r"[a-z0-9]+", text.lower().replace("\u2019", "'")))


def _imported_words(descriptions) -> Counter:
    """Words of the imported text; where a source keeps ``extra`` lists, the variants and phases
    repeat texts held there, so only the labels and those lists are counted."""
    words = Counter()
    for c in descriptions.classes:
        if c.extra:
            words += _words(c.label) + _words(" ".join(t for v in c.extra.values() for t in v))
        else:
            words += _words(json.dumps(c.to_dict(), ensure_ascii=False))
    return words


def _assert_lossless(source_words: Counter, descriptions, markers=()):
    imported = _imported_words(descriptions)
    lost = {w: n for w, n in (source_words - imported).items() if w not in markers and not w.isdigit()}
    assert not lost, f"words of the source missing from the import: {dict(list(lost.items())[:10])}"


_SCHEMA_WORDS = {"label", "synonyms", "description", "parts", "purls_parts", "phases", "context",
                 "context_sentence", "variants", "head", "hand", "arm", "hip", "leg", "foot", "hands", "torso",
                 "legs", "start", "middle", "end", "environment", "used_object", "target_object"}


@pytest.mark.realdata
def test_gap_real(root):
    got = import_descriptions("gap", root / "gap" / "text")
    assert len(got) == 120 and got.dataset == "ntu120"
    assert all(c.synonyms and c.description and len(c.parts) == 6 for c in got.classes)
    text = "\n".join((root / "gap" / "text" / f).read_text() for f in
                   ("ntu120_label_map.txt", "synonym_openai_t01.txt", "sentence_openai_t01.txt",
                    "pasta_openai_t01.txt"))
    # labels repeat at the start of each of the three files: count them three more times
    labels = sum((_words(c.label) for c in got.classes), Counter())
    _assert_lossless(_words(text) - labels - labels - labels, got)


@pytest.mark.realdata
@pytest.mark.parametrize("name, count, dataset", [("ntu120_part_descriptions.txt", 120, "ntu120"),
                                                   ("pkuv1_part_descriptions.txt", 51, "pku-mmd")])
def test_star_real(root, name, count, dataset):
    path = root / "star" / "text" / name
    got = import_descriptions("star", path)
    assert (len(got), got.dataset) == (count, dataset)
    assert all(len(c.parts) == 6 and all(c.parts.values()) for c in got.classes)
    _assert_lossless(_words(path.read_text()), got, markers=_SCHEMA_WORDS)


@pytest.mark.realdata
@pytest.mark.parametrize("path, count", [("smie/descriptions/ntu60_des.txt", 60),
                                         ("smie/descriptions/ntu120_des.txt", 120),
                                         ("smie/descriptions/pku_des.txt", 51),
                                         ("sa-dvae/class_lists/ntu60_llm.txt", 60),
                                         ("sa-dvae/class_lists/ntu120_llm.txt", 120)])
def test_sentence_files_real(root, path, count):
    source = "smie" if path.startswith("smie") else "sa-dvae"
    got = import_descriptions(source, root / path)
    assert len(got) == count and all(c.description for c in got.classes)
    labels = sum((_words(c.label) for c in got.classes), Counter())
    _assert_lossless(_words((root / path).read_text()) - labels, got)


@pytest.mark.realdata
@pytest.mark.parametrize("name, count", [("ntu60.csv", 60), ("ntu120.csv", 120), ("pku51.csv", 51)])
def test_sa_dvae_csv_real(root, name, count):
    path = root / "sa-dvae" / "class_lists" / name
    got = import_descriptions("sa-dvae", path)
    assert len(got) == count
    _assert_lossless(_words(path.read_text()), got, markers={"idx"} | _SCHEMA_WORDS)


@pytest.mark.realdata
def test_purls_real(root):
    path = root / "purls" / "supplements" / "gpt3_desc.xlsx"
    sheets = purls_workbook(path)
    assert {k: len(v) for k, v in sheets.items()} == {"ntu120": 120, "nw-ucla": 10, "utd-mhad": 27,
                                                       "kinetics-400": 400, "uwa3dii": 30}
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    for sheet in book.worksheets:
        cells = " ".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None)
        got = [s for s in sheets.values() if sheet.title in s.source][0]
        assert all(len(c.purls_parts) == 4 and len(c.phases) == 3 and c.description for c in got.classes)
        _assert_lossless(_words(cells), got, markers=_SCHEMA_WORDS | {"action", "labels", "global", "desc"})
    book.close()


@pytest.mark.realdata
@pytest.mark.parametrize("folder, count", [("ntu", 120), ("pku", 51)])
def test_neuron_real(root, folder, count):
    path = root / "neuron" / "semantics" / folder
    got = import_descriptions("neuron", path)
    assert len(got) == count
    for c in got.classes:
        assert len(c.extra) == 6 and all(len(v) == 10 for v in c.extra.values()), c.label
        assert len(c.variants) == 10 and len(c.phases) == 3
    text = " ".join(p.read_text() for p in sorted(path.rglob("*.json")))
    labels = sum((_words(c.label) for c in got.classes), Counter())
    _assert_lossless(_words(text) - labels - labels - labels - labels - labels, got)


@pytest.mark.realdata
@pytest.mark.parametrize("source, dataset", [("gap", "ntu60"), ("star", "pku-mmd"), ("smie", "ntu120"),
                                             ("sa-dvae", "ntu60"), ("purls", "nw-ucla"), ("neuron", "pku-mmd")])
def test_text_bank_from_published_source(root, source, dataset):
    names = CLASS_NAMES[dataset]
    bank = text_bank_for(dataset, names, source=source, path=None)
    assert len(bank) == len(names) and bank.source
    field = {"gap": "gap4.hand_arm", "star": "parts.hip", "purls": "purls_parts.torso",
             "neuron": "phases.end"}.get(source, "description")
    assert bank.has_field(field) and all(s.strip() for s in bank.strings(field))
