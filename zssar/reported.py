"""The papers' own zero-shot numbers, as data, labelled as reported.

``results/reported/papers.csv`` holds one number per line, copied by hand from the result tables of
the papers in ``shared/papers/`` (GAP has no zero-shot table, so no line): the method as the paper
names its row, dataset, split, metric, the value exactly as printed (percent), the paper, the table,
and a note (backbone, protocol, "our method", or why a printed number looks wrong). These numbers
are never compared with ours as if they came from the same protocol: each paper selects, trains and
splits its own way (chapter 12 says how); the benchmark prints them beside our rows, with their source.

Splits: ``55/5``, ``48/12`` (NTU-60), ``110/10``, ``96/24`` (NTU-120), ``46/5``, ``39/12`` (PKU-MMD)
are the fixed splits, evaluated on the cross-subject test samples; STAR's cross-view and cross-setup
columns are ``55/5 xview`` ... ``96/24 xset``. ``random 55/5``, ``random 110/10``, ``random 46/5``
are means over three random splits (``random 55/5 (STAR)``: STAR's own re-splits); ``40/20`` ...
``40/80`` are PURLS's extra splits as SCoPLe's supplement reports them; ``96/24 similar-class ...``
are SkeletonContext's clusters of confusable classes.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from .errors import InvalidConfig, InvalidData

REPORTED = Path(__file__).resolve().parent.parent / "results" / "reported" / "papers.csv"
COLUMNS = ("method", "dataset", "split", "metric", "value", "paper", "table", "note")
DATASETS = ("ntu60", "ntu120", "pku-mmd")
METRICS = {"zsl_top1": "ZSL %", "gzsl_S": "S %", "gzsl_U": "U %", "gzsl_H": "H %"}  # metric -> table column
# paper key -> its text file in the papers folder (SCoPLe: only the supplementary material is there)
PAPER_FILES = {"gap": "gap.txt", "star": "star.txt", "scople": "scople_supplementary.txt",
               "dynapurls": "dynapurls.txt", "skeletoncontext": "skeletoncontext.txt"}
_VALUE = re.compile(r"\d{1,3}(\.\d+)?")  # a percentage as papers print it: 81.7, 45.0, 53.91
_TABLE = re.compile(r"(Supp\. )?Table \d+")


def load_reported(path: str | Path | None = None) -> list[dict]:
    """The reported numbers, one dict per line of the CSV (the repository's
    ``results/reported/papers.csv`` by default): the CSV's columns as strings (``value`` as printed),
    plus ``percent`` (the value as a float) and ``line`` (its line in the file).

    Raises :class:`~zssar.errors.InvalidData` naming the file and line of the first thing wrong: a
    missing or unknown column, an empty field, an unknown dataset, metric or paper, a value that is
    not a percentage, a table that is not ``Table N``, or the same number given twice."""
    path = Path(path) if path is not None else REPORTED
    if not path.is_file():
        raise InvalidConfig(f"no reported-results file at {path}; pass the path of a papers.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        unknown = [c for c in header if c not in COLUMNS]
        if missing or unknown:
            what = "; ".join(x for x in (missing and f"missing column(s) {', '.join(missing)}",
                                         unknown and f"unknown column(s) {', '.join(unknown)}") if x)
            raise InvalidData(f"{path}, line 1: {what}; the header must be {','.join(COLUMNS)}")
        rows, seen = [], {}
        for row in reader:
            number = reader.line_num
            if None in row or None in row.values():  # more fields than the header, or fewer
                raise InvalidData(f"{path}, line {number}: expected {len(COLUMNS)} fields ({','.join(COLUMNS)}); "
                                  "a field with a comma needs double quotes")
            row = {k: v.strip() for k, v in row.items()}
            _check_row(row, f"{path}, line {number}")
            key = tuple(row[c] for c in ("method", "dataset", "split", "metric", "paper", "table"))
            if key in seen:
                raise InvalidData(f"{path}, line {number}: the same number as line {seen[key]} "
                                  f"({row['method']}, {row['dataset']} {row['split']}, {row['metric']}, "
                                  f"{row['paper']} {row['table']})")
            seen[key] = number
            rows.append({**row, "percent": float(row["value"]), "line": number})
    return rows


def _check_row(row: dict, where: str) -> None:
    for column in ("method", "dataset", "split", "metric", "value", "paper", "table"):
        if not row[column]:
            raise InvalidData(f"{where}: empty {column}")
    choices = {"dataset": DATASETS, "metric": tuple(METRICS), "paper": tuple(PAPER_FILES)}
    for column, allowed in choices.items():
        if row[column] not in allowed:
            raise InvalidData(f"{where}: unknown {column} {row[column]!r}; expected one of {', '.join(allowed)}")
    if not _VALUE.fullmatch(row["value"]) or float(row["value"]) > 100:
        raise InvalidData(f"{where}: value {row['value']!r} is not a percentage as printed (e.g. 81.7); "
                          "leave a number the paper does not give out rather than writing '-'")
    if not _TABLE.fullmatch(row["table"]):
        raise InvalidData(f"{where}: table {row['table']!r} is not 'Table N' (or 'Supp. Table N')")


def reported_table(rows: list[dict], dataset: str, split: str):
    """The reported numbers of one dataset and split: one row per (method, paper) with columns
    ``method``, ``paper``, ``ZSL %``, ``S %``, ``U %``, ``H %`` (NaN where the paper gives none),
    ``source`` ("dynapurls Table 3", or "scople Supp. Table 3, Supp. Table 4" when tables agree) and
    ``note``. Where two tables of one paper print different values for the same number, that
    method and paper get one row per table. Rows keep the order of the file; no row, empty frame."""
    import numpy as np
    import pandas as pd

    if dataset not in DATASETS:
        raise InvalidConfig(f"unknown dataset {dataset!r}; reported numbers exist for {', '.join(DATASETS)}")
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["dataset"] == dataset and row["split"] == split:
            groups.setdefault((row["method"], row["paper"]), []).append(row)
    out = []
    for (method, paper), members in groups.items():
        values: dict[str, set] = {}
        for row in members:
            values.setdefault(row["metric"], set()).add(row["value"])
        tables = list(dict.fromkeys(row["table"] for row in members))
        parts = [tables] if all(len(v) == 1 for v in values.values()) else [[t] for t in tables]
        for part in parts:
            chosen = [row for row in members if row["table"] in part]
            cells = {METRICS[row["metric"]]: float(row["value"]) for row in chosen}
            notes = list(dict.fromkeys(row["note"] for row in chosen if row["note"]))
            out.append({"method": method, "paper": paper,
                        **{column: cells.get(column, np.nan) for column in METRICS.values()},
                        "source": f"{paper} {', '.join(part)}", "note": "; ".join(notes)})
    return pd.DataFrame(out, columns=["method", "paper", *METRICS.values(), "source", "note"])


def check_against_papers(rows: list[dict], papers_dir: str | Path) -> list[dict]:
    """The rows whose value, as printed, does not occur as a number in their paper's text file
    (``papers_dir/<paper>.txt``, SCoPLe's ``scople_supplementary.txt``): a copying slip shows up here.
    A number counts as found when it stands alone (``81.4`` is not found inside ``81.40`` or ``181.4``).
    Raises :class:`~zssar.errors.InvalidConfig` when a paper's file is missing."""
    papers_dir = Path(papers_dir)
    numbers: dict[str, set] = {}
    missing = []
    for row in rows:
        paper = row["paper"]
        if paper not in numbers:
            file = papers_dir / PAPER_FILES[paper]
            if not file.is_file():
                raise InvalidConfig(f"no text of paper {paper!r} at {file}; set ZSSAR_PAPERS or pass papers_dir=")
            numbers[paper] = set(re.findall(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])", file.read_text()))
        if row["value"] not in numbers[paper]:
            missing.append(row)
    return missing


# The methods of this project under the names the papers print (the global baseline is the "CLIP"
# baseline of SCoPLe's Table 1: one pooled feature aligned to one text embedding per class).
PAPER_NAMES = {"global": "CLIP", "purls": "PURLS", "dynapurls": "DynaPURLS", "star": "STAR", "scople": "SCoPLe",
               "skeletoncontext": "SkeletonContext", "cada_vae": "CADA-VAE", "synse": "SynSE", "smie": "SMIE",
               "sadvae": "SA-DVAE"}


MAIN_SPLITS = (("ntu60", "55/5"), ("ntu60", "48/12"), ("ntu120", "110/10"), ("ntu120", "96/24"),
               ("pku-mmd", "46/5"), ("pku-mmd", "39/12"))  # the cross-subject splits most papers report


def beside_records(rows: list[dict], records: list[dict], metric: str = "zsl_top1", splits=MAIN_SPLITS):
    """Our methods' mean ``metric`` per dataset of the records beside what the papers report for the
    same method on ``splits`` (each distinct value with the papers that print it, ``-`` where none
    does). One row per method of the records; columns ``method``, ``paper name``, one ``ours:
    <dataset>`` column per dataset of the records, one ``reported: <dataset> <split>`` column per
    split. The two sides are different datasets: the papers report NTU RGB+D and PKU-MMD, the sweep
    runs what a CPU can, so the table places a method, it does not compare numbers."""
    import numpy as np
    import pandas as pd

    ours_sets = list(dict.fromkeys(r["dataset"] for r in records))
    reported = [r for r in rows if r["metric"] == metric]
    columns = [tuple(c) for c in splits]
    out = []
    for method in dict.fromkeys(r["method"] for r in records):
        name = PAPER_NAMES.get(method, method)
        row = {"method": method, "paper name": name}
        for ds in ours_sets:
            values = [r["metrics"][metric] for r in records if r["method"] == method and r["dataset"] == ds]
            row[f"ours: {ds}"] = f"{100 * np.mean(values):.1f} ({len(values)} runs)" if values else "-"
        for ds, split in columns:
            papers: dict[float, list[dict]] = {}  # one value printed to one or two decimals is one number
            for r in reported:
                if r["method"] == name and (r["dataset"], r["split"]) == (ds, split):
                    papers.setdefault(round(float(r["value"]), 1), []).append(r)
            row[f"reported: {ds} {split}"] = "; ".join(
                f"{max((r['value'] for r in p), key=len)} ({', '.join(dict.fromkeys(r['paper'] for r in p))})"
                for p in papers.values()) or "-"
        out.append(row)
    return pd.DataFrame(out)
