"""Importers for the published LLM description files, read in their own formats.

Each importer maps a file (or the folder of a method's files) into the description schema as far as
the source allows, and keeps everything else it has in ``ClassDescription.extra``, so an import loses
nothing. The result is a :class:`~zssar.text.schema.DescriptionSet` whose ``dataset`` names the
label order the file follows (``ntu120``, ``ntu60``, ``pku-mmd``, ...), which lets
:func:`zssar.text.descriptions.align` match a file's own wording of a label ("brush teeth") to the
dataset's ("brushing teeth") by position.

============  ==========================================  =========================================
source        files                                       fields filled
============  ==========================================  =========================================
``gap``       ``ntu120_label_map.txt``, ``synonym_*.txt``  label, synonyms, description (sentence),
              ``sentence_*.txt``, ``pasta_*.txt``          the six parts (pasta)
``star``      ``*_part_descriptions.txt``                  the six parts
``smie``      ``*_des.txt``                                description (one sentence)
``sa-dvae``   ``*.csv`` (idx,label), ``*_llm.txt``         description (motion phrase / sentence)
``purls``     ``gpt3_desc.xlsx`` (one sheet per dataset)   PURLS parts, phases, description
``neuron``    ``semantics/<ntu|pku>/{spatial,temporal}``   description, variants, phases, extra
``file``      a JSON file in the schema                    whatever it holds
============  ==========================================  =========================================

Where a path is not given, files are looked up under ``$ZSSAR_DESCRIPTIONS`` or, failing that, a
``descriptions`` folder next to ``$ZSSAR_DATA``.

Why this file is long: seven published formats, one short reader each, all sharing the lookup of
their files and the mapping into the schema; split by format they would repeat that shared part.
"""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

from ..config import data_root
from ..errors import DatasetNotFound, InvalidData
from .schema import PART_KEYS, ClassDescription, DescriptionSet

SOURCES = ("gap", "star", "smie", "sa-dvae", "purls", "neuron", "file")
_BY_COUNT = {120: "ntu120", 60: "ntu60", 51: "pku-mmd"}
PURLS_SHEETS = {"NTU-RGB+D": "ntu120", "NW-UCLA": "nw-ucla", "UTD-MHAD": "utd-mhad",
                "Kinetic-skeletons": "kinetics-400", "UWA3DII": "uwa3dii"}
# Where each source keeps the file for a dataset, relative to the descriptions folder.
_DEFAULT_PATHS = {
    "gap": {"ntu60": "gap/text", "ntu120": "gap/text"},
    "star": {"ntu60": "star/text/ntu120_part_descriptions.txt", "ntu120": "star/text/ntu120_part_descriptions.txt",
             "pku-mmd": "star/text/pkuv1_part_descriptions.txt"},
    "smie": {"ntu60": "smie/descriptions/ntu60_des.txt", "ntu120": "smie/descriptions/ntu120_des.txt",
             "pku-mmd": "smie/descriptions/pku_des.txt"},
    "sa-dvae": {"ntu60": "sa-dvae/class_lists/ntu60.csv", "ntu120": "sa-dvae/class_lists/ntu120.csv",
                "pku-mmd": "sa-dvae/class_lists/pku51.csv"},
    "purls": {d: "purls/supplements/gpt3_desc.xlsx" for d in ("ntu60", "ntu120", "nw-ucla", "utd-mhad")},
    "neuron": {"ntu60": "neuron/semantics/ntu", "ntu120": "neuron/semantics/ntu", "pku-mmd": "neuron/semantics/pku"},
}


def descriptions_root(root: str | os.PathLike | None = None) -> Path | None:
    """``root``, else ``$ZSSAR_DESCRIPTIONS``, else ``descriptions/`` beside ``$ZSSAR_DATA``, else None."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("ZSSAR_DESCRIPTIONS"):
        return Path(os.environ["ZSSAR_DESCRIPTIONS"]).expanduser()
    data = data_root()
    return data.resolve().parent / "descriptions" if data is not None else None


def default_path(source: str, dataset: str, root: str | os.PathLike | None = None) -> Path:
    """The usual file of ``source`` for ``dataset`` under the descriptions folder."""
    known = _DEFAULT_PATHS.get(source, {})
    if dataset not in known:
        raise InvalidData(f"source {source!r} has no description file for dataset {dataset!r} "
                          f"(it has {sorted(known) or 'none by default'}); pass path= (--path) to a file")
    base = descriptions_root(root)
    if base is None:
        raise DatasetNotFound(f"where are the published description files? Set ZSSAR_DESCRIPTIONS to the "
                              f"folder that holds '{known[dataset]}' or pass path= (--path)")
    path = base / known[dataset]
    if not path.exists():
        raise DatasetNotFound(f"no {source} descriptions at {path}; set ZSSAR_DESCRIPTIONS to the folder "
                              f"that holds '{known[dataset]}' or pass path= (--path)")
    return path


def import_descriptions(source: str, path: str | os.PathLike | None = None, *, dataset: str | None = None,
                        root: str | os.PathLike | None = None) -> DescriptionSet:
    """Read a published description file of ``source`` (see the module docstring)."""
    if source not in SOURCES:
        raise InvalidData(f"unknown description source {source!r}; use one of {list(SOURCES)}")
    if path is None:
        if source == "file" or dataset is None:
            raise InvalidData(f"source {source!r} needs path= (--path) to its file")
        path = default_path(source, dataset, root)
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetNotFound(f"no {source} description file at {path}")
    if source == "file":
        from .descriptions import load_description_file

        return load_description_file(path, require_full=False)
    if source == "purls":
        return import_purls(path, dataset=dataset)
    return {"gap": import_gap, "star": import_star, "smie": import_smie, "sa-dvae": import_sa_dvae,
            "neuron": import_neuron}[source](path)


# ---------------------------------------------------------------- helpers
def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _dataset_of(path: Path, count: int) -> str:
    """The label order a file follows, from its name or else from its class count."""
    name = path.name.lower()
    for key, dataset in (("ntu120", "ntu120"), ("ntu60", "ntu60"), ("pku", "pku-mmd")):
        if key in name:
            return dataset
    return _BY_COUNT.get(count, path.stem)


def _build(path: Path, source: str, dataset: str, entries: list[dict]) -> DescriptionSet:
    classes = tuple(ClassDescription.from_dict(e, require_full=False, where=str(path)) for e in entries)
    if not classes:
        raise InvalidData(f"{path}: no classes found; is this a {source} description file?")
    return DescriptionSet(dataset, f"{source} ({path.name})", classes)


# ---------------------------------------------------------------- GAP
def _gap_file(folder: Path, kind: str) -> Path | None:
    found = sorted(folder.glob(f"{kind}*.txt"))
    return found[0] if found else None


def _split_label(line: str, sep: str, path: Path, number: int) -> tuple[str, str]:
    label, found, rest = line.partition(sep)
    if not found or not label.strip():
        raise InvalidData(f"{path}, line {number}: expected 'label{sep}text', got {line[:80]!r}")
    return label.strip(), rest.strip()


def import_gap(path: Path) -> DescriptionSet:
    """GAP's text folder (label map, synonyms, sentence and pasta files) or any one of its files.

    ``synonym``: ``label,syn, syn, ...``; ``sentence``: ``label,paragraph``; ``pasta``:
    ``label;head ...; hand ...; arm ...; hip ...; leg ...; foot ...``; ``*label_map.txt``: one label a line.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    files = ({k: _gap_file(folder, k) for k in ("synonym", "sentence", "pasta")} if path.is_dir()
             else {k: path for k in ("synonym", "sentence", "pasta") if path.name.startswith(k)})
    label_map = next(iter(sorted(folder.glob("*label_map.txt"))), None)
    if not any(files.values()) and not (path.is_file() and path.name.endswith("label_map.txt")):
        raise InvalidData(f"{path}: no GAP files (synonym_*.txt, sentence_*.txt, pasta_*.txt) found")
    rows: dict[str, list] = {}
    if files.get("synonym"):
        for i, line in enumerate(_lines(files["synonym"]), 1):
            label, rest = _split_label(line, ",", files["synonym"], i)
            rows.setdefault("synonyms", []).append((label, [s.strip() for s in rest.split(",") if s.strip()]))
    if files.get("sentence"):
        for i, line in enumerate(_lines(files["sentence"]), 1):
            rows.setdefault("description", []).append(_split_label(line, ",", files["sentence"], i))
    if files.get("pasta"):
        for i, line in enumerate(_lines(files["pasta"]), 1):
            label, rest = _split_label(line, ";", files["pasta"], i)
            pieces = [p.strip() for p in rest.split(";")]
            if len(pieces) != len(PART_KEYS):
                raise InvalidData(f"{files['pasta']}, line {i}: expected 6 part texts separated by ';', "
                                  f"got {len(pieces)}")
            rows.setdefault("parts", []).append((label, dict(zip(PART_KEYS, pieces))))
    labels = _lines(label_map) if label_map is not None else [r[0] for r in next(iter(rows.values()))]
    for key, values in rows.items():
        if len(values) != len(labels):
            raise InvalidData(f"{folder}: the {key} file has {len(values)} classes, the labels {len(labels)}")
    entries = []
    for i, label in enumerate(labels):
        entry = {"label": label}
        for key, values in rows.items():
            entry[key] = values[i][1]
        entries.append(entry)
    return _build(folder if path.is_dir() else path, "GAP", _dataset_of(label_map or path, len(entries)),
                  entries)


# ---------------------------------------------------------------- STAR
_STAR_PART = re.compile(r";\s*(Head|Hand|Arm|Hip|Leg|Foot)\s*:\s*", re.IGNORECASE)


def import_star(path: Path) -> DescriptionSet:
    """STAR's part descriptions: ``label; Head: ...; Hand: ...; Arm: ...; Hip: ...; Leg: ...; Foot: ...``."""
    entries = []
    for i, line in enumerate(_lines(path), 1):
        pieces = _STAR_PART.split(line)  # label, name, text, name, text, ...
        parts = {name.lower(): text.strip() for name, text in zip(pieces[1::2], pieces[2::2])}
        if sorted(parts) != sorted(PART_KEYS):
            raise InvalidData(f"{path}, line {i}: expected the parts Head, Hand, Arm, Hip, Leg, Foot, "
                              f"found {sorted(parts)}")
        entries.append({"label": pieces[0].strip(), "parts": parts})
    return _build(path, "STAR", _dataset_of(path, len(entries)), entries)


# ---------------------------------------------------------------- SMIE and SA-DVAE
_QUOTED = re.compile(r'^["\u201c\u201d]([^"\u201c\u201d]+)["\u201c\u201d]')


def _quoted_sentences(path: Path, source: str) -> DescriptionSet:
    entries = []
    for i, line in enumerate(_lines(path), 1):
        match = _QUOTED.match(line)
        if not match:
            raise InvalidData(f"{path}, line {i}: expected '\"Label\" is ...', got {line[:80]!r}")
        entries.append({"label": match.group(1).strip(), "description": line})
    return _build(path, source, _dataset_of(path, len(entries)), entries)


def import_smie(path: Path) -> DescriptionSet:
    """SMIE's one-sentence descriptions: ``"Drink water" refers to ...`` (the whole line is kept)."""
    return _quoted_sentences(Path(path), "SMIE")


def import_sa_dvae(path: Path) -> DescriptionSet:
    """SA-DVAE's class lists: ``idx,label`` csv files and ``*_llm.txt`` sentences (SMIE's format).

    The NTU csv files hold a motion phrase per class instead of its name ("fist and move the hand up
    to the head then look up"): that phrase becomes the description and the label is the dataset's
    official name at that position.
    """
    path = Path(path)
    if path.suffix == ".txt":
        return _quoted_sentences(path, "SA-DVAE")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"idx", "label"} <= set(rows[0]):
        raise InvalidData(f"{path}: expected a csv with the columns idx,label")
    rows.sort(key=lambda r: int(r["idx"]))
    texts = [r["label"].strip() for r in rows]
    dataset = _dataset_of(path, len(texts))
    from ..classnames import CLASS_NAMES

    official = CLASS_NAMES.get(dataset, ())
    if len(official) == len(texts) and sum(t in official for t in texts) < len(texts) / 2:
        entries = [{"label": name, "description": text} for name, text in zip(official, texts)]
    else:
        entries = [{"label": text} for text in texts]
    return _build(path, "SA-DVAE", dataset, entries)


# ---------------------------------------------------------------- PURLS
_PURLS_COLUMNS = ("Action Labels", "Head", "Hands", "Torso", "Legs", "Start", "Middle", "End", "Global Desc")


def purls_workbook(path: Path) -> dict[str, DescriptionSet]:
    """Every sheet of the PURLS workbook, keyed by dataset (``ntu120``, ``nw-ucla``, ``utd-mhad``, ...)."""
    try:
        import openpyxl
    except ImportError:
        raise InvalidData("reading the PURLS workbook needs openpyxl: pip install openpyxl") from None
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out = {}
    try:
        for sheet in book.worksheets:
            rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
            header = tuple(str(v).strip() for v in rows[0][: len(_PURLS_COLUMNS)]) if rows else ()
            if header != _PURLS_COLUMNS:
                raise InvalidData(f"{path}, sheet {sheet.title!r}: expected the columns {list(_PURLS_COLUMNS)}")
            text = [[("" if v is None else str(v).strip()) for v in r[: len(_PURLS_COLUMNS)]] for r in rows[1:]]
            entries = [{"label": r[0], "purls_parts": dict(zip(("head", "hands", "torso", "legs"), r[1:5])),
                        "phases": dict(zip(("start", "middle", "end"), r[5:8])), "description": r[8]}
                       for r in text]
            dataset = PURLS_SHEETS.get(sheet.title, sheet.title.lower())
            out[dataset] = DescriptionSet(dataset, f"PURLS ({path.name}, sheet {sheet.title})", tuple(
                ClassDescription.from_dict(e, require_full=False, where=f"{path}:{sheet.title}") for e in entries))
    finally:
        book.close()
    return out


def import_purls(path: Path, dataset: str | None = None) -> DescriptionSet:
    """The PURLS sheet for ``dataset`` (NTU 60 reads the NTU 120 sheet; its first 60 rows are NTU 60)."""
    sheets = purls_workbook(Path(path))
    key = "ntu120" if dataset in (None, "ntu60") else dataset
    if key not in sheets:
        raise InvalidData(f"{path}: no PURLS sheet for dataset {dataset!r}; it has {sorted(sheets)}")
    return sheets[key]


# ---------------------------------------------------------------- Neuron
_NEURON_FILES = ("spatial/spatial_cg", "spatial/spatial_mg", "spatial/spatial_fg",
                 "temporal/temporal_fp", "temporal/temporal_sp", "temporal/temporal_tp")


def import_neuron(path: Path) -> DescriptionSet:
    """Neuron's semantics folder for one dataset (``semantics/ntu`` or ``semantics/pku``).

    Each class has ten coarse, medium and fine spatial descriptions and ten for each of three temporal
    phases. The first fine-grained one is the description, all fine ones the variants, the first of
    each phase the phases; all sixty are kept in ``extra`` under the file names.
    """
    path = Path(path)
    if path.is_file():  # one file: its lists become the variants
        data = _json_lists(path)
        entries = [{"label": k, "description": v[0], "variants": v, "extra": {path.stem: v}} for k, v in data.items()]
        return _build(path, "Neuron", _dataset_of(path.parent.parent, len(entries)), entries)
    files = {name.split("/")[1]: path / f"{name}.json" for name in _NEURON_FILES}
    absent = [str(p) for p in files.values() if not p.is_file()]
    if absent:
        raise InvalidData(f"{path}: not a Neuron semantics folder; missing {absent}")
    data = {key: _json_lists(p) for key, p in files.items()}
    labels = list(data["spatial_fg"])
    for key, d in data.items():
        if list(d) != labels:
            raise InvalidData(f"{files[key]}: its classes differ from those of {files['spatial_fg']}")
    entries = [{"label": label, "description": data["spatial_fg"][label][0], "variants": data["spatial_fg"][label],
                "phases": {phase: data[f"temporal_{key}"][label][0]
                           for phase, key in (("start", "fp"), ("middle", "sp"), ("end", "tp"))},
                "extra": {key: d[label] for key, d in data.items()}} for label in labels]
    dataset = {"ntu": _BY_COUNT.get(len(labels), "ntu120"), "pku": "pku-mmd"}.get(path.name, path.name)
    return _build(path, "Neuron", dataset, entries)


def _json_lists(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidData(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not all(
            isinstance(v, list) and v and all(isinstance(s, str) for s in v) for v in data.values()):
        raise InvalidData(f"{path}: expected {{class label: [description, ...]}}")
    return {k.strip(): [s.strip() for s in v] for k, v in data.items()}
