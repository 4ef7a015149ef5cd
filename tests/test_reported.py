"""The papers' reported numbers: the CSV loads, bad files are refused by line, every value is in its
paper, and spot checks of numbers read in the tables by hand."""
import math
import os
from pathlib import Path

import pytest

from zssar.errors import InvalidData
from zssar.reported import COLUMNS, REPORTED, check_against_papers, load_reported, reported_table

PAPERS = Path(os.environ.get("ZSSAR_PAPERS", Path(__file__).resolve().parents[2] / "shared" / "papers"))
HEADER = ",".join(COLUMNS)
GOOD = "STAR,ntu60,55/5,zsl_top1,81.4,star,Table 2,our method"


@pytest.fixture(scope="module")
def rows():
    return load_reported()


def _value(rows, method, dataset, split, metric, paper, table):
    found = [r["value"] for r in rows if (r["method"], r["dataset"], r["split"], r["metric"], r["paper"],
                                          r["table"]) == (method, dataset, split, metric, paper, table)]
    assert len(found) <= 1
    return found[0] if found else None


def test_the_csv_loads_and_validates(rows):
    assert REPORTED.name == "papers.csv" and REPORTED.parent.name == "reported"
    assert len(rows) > 700
    assert {r["paper"] for r in rows} == {"star", "dynapurls", "scople", "skeletoncontext"}  # GAP has no ZSL table
    assert {r["dataset"] for r in rows} == {"ntu60", "ntu120", "pku-mmd"}
    assert all(0 <= r["percent"] <= 100 and r["percent"] == float(r["value"]) for r in rows)


@pytest.mark.parametrize("text, what", [
    ("method,dataset,split,metric,value,paper,table\n" + GOOD.rsplit(",", 1)[0], "line 1: missing column(s) note"),
    (f"{HEADER}\n{GOOD}\nSTAR,ntu60,48/12,zsl_top1,n/a,star,Table 2,", "line 3: value 'n/a'"),
    (f"{HEADER}\n{GOOD}\nSTAR,ntu60,55/5,zsl_top5,90.1,star,Table 2,", "line 3: unknown metric 'zsl_top5'"),
    (f"{HEADER}\nSTAR,ntu61,55/5,zsl_top1,81.4,star,Table 2,", "line 2: unknown dataset 'ntu61'"),
    (f"{HEADER}\nSTAR,ntu60,55/5,zsl_top1,81.4,star,Tab. 2,", "line 2: table 'Tab. 2'"),
    (f"{HEADER}\nSTAR,ntu60,55/5,zsl_top1,81.4,star,Table 2,a,b", "line 2: expected 8 fields"),
    (f"{HEADER}\n{GOOD}\n{GOOD}", "line 3: the same number as line 2"),
])
def test_a_bad_csv_is_refused_naming_the_line(tmp_path, text, what):
    path = tmp_path / "papers.csv"
    path.write_text(text + "\n")
    with pytest.raises(InvalidData, match="papers.csv, " + what.replace("(", r"\(").replace(")", r"\)")):
        load_reported(path)


def test_a_good_small_csv_loads(tmp_path):
    path = tmp_path / "papers.csv"
    path.write_text(f'{HEADER}\n{GOOD}\nSTAR,ntu60,55/5,gzsl_H,69.4,star,Table 2,"Xsub, calibrated"\n')
    rows = load_reported(path)
    assert [(r["value"], r["percent"], r["line"]) for r in rows] == [("81.4", 81.4, 2), ("69.4", 69.4, 3)]
    assert rows[1]["note"] == "Xsub, calibrated"


@pytest.mark.skipif(not PAPERS.is_dir(), reason=f"the paper texts are not at {PAPERS} (set ZSSAR_PAPERS)")
def test_every_value_occurs_in_its_paper(rows):
    missing = check_against_papers(rows, PAPERS)
    assert not missing, [f"line {r['line']}: {r['value']} not in {r['paper']}" for r in missing[:10]]
    # the check is strict: a value the paper does not print is reported, and 81.4 is not found in 81.40
    fake = [{**rows[0], "value": "12.345"}, {**rows[0], "paper": "dynapurls", "value": "81.4"}]
    assert len(check_against_papers(fake, PAPERS)) == 2


@pytest.mark.parametrize("method, dataset, split, metric, paper, table, value", [
    ("STAR", "ntu60", "55/5", "zsl_top1", "star", "Table 2", "81.4"),
    ("STAR", "ntu60", "48/12 xview", "zsl_top1", "star", "Table 2", "42.5"),
    ("STAR", "ntu120", "110/10 xset", "gzsl_S", "star", "Table 3", "59.3"),
    ("STAR", "ntu120", "110/10 xset", "gzsl_H", "star", "Table 3", "59.4"),
    ("JPoSE", "ntu120", "96/24 xset", "gzsl_S", "star", "Table 3", "79.3"),
    ("STAR", "pku-mmd", "39/12", "gzsl_H", "star", "Table 4", "55.4"),
    ("DynaPURLS", "ntu60", "48/12", "zsl_top1", "dynapurls", "Table 3", "71.80"),
    ("DynaPURLS", "ntu120", "96/24", "gzsl_H", "dynapurls", "Table 3", "64.36"),
    ("PURLS", "ntu60", "48/12", "gzsl_S", "dynapurls", "Table 3", "81.60"),
    ("DynaPURLS", "ntu120", "random 110/10", "zsl_top1", "dynapurls", "Table 4", "90.04"),
    ("SCoPLe", "ntu120", "110/10", "zsl_top1", "scople", "Supp. Table 3", "74.53"),
    ("SCoPLe", "ntu60", "30/30", "zsl_top1", "scople", "Supp. Table 2", "18.17"),
    ("SA-DVAE", "ntu60", "random 55/5", "zsl_top1", "scople", "Supp. Table 5", "84.2"),
    ("SkeletonContext", "ntu60", "55/5", "zsl_top1", "skeletoncontext", "Table 2", "89.6"),
    ("SkeletonContext", "ntu120", "96/24", "gzsl_H", "skeletoncontext", "Table 1", "56.1"),
    ("Neuron", "pku-mmd", "random 46/5", "gzsl_H", "skeletoncontext", "Table 3", "69.2"),
    # numbers the tables leave out stay out: SMIE has no GZSL, SkeletonContext's ScoPLe 110/10 row is garbled
    ("SMIE", "ntu60", "55/5", "gzsl_H", "star", "Table 2", None),
    ("SCoPLe", "ntu120", "110/10", "gzsl_S", "skeletoncontext", "Table 1", None),
])
def test_spot_checks_read_in_the_tables(rows, method, dataset, split, metric, paper, table, value):
    assert _value(rows, method, dataset, split, metric, paper, table) == value


def test_reported_table_one_row_per_method_and_paper(rows):
    table = reported_table(rows, "ntu60", "55/5")
    assert list(table.columns) == ["method", "paper", "ZSL %", "S %", "U %", "H %", "source", "note"]
    star = table[(table.method == "STAR") & (table.paper == "star")].iloc[0]
    assert (star["ZSL %"], star["S %"], star["U %"], star["H %"], star["source"]) == (81.4, 69.0, 69.9, 69.4,
                                                                                       "star Table 2")
    smie = table[(table.method == "SMIE") & (table.paper == "star")].iloc[0]
    assert smie["ZSL %"] == 77.9 and math.isnan(smie["H %"])
    # tables that agree are one row naming both; a paper that prints two values for one number gets a row per table
    scople = table[(table.method == "SCoPLe") & (table.paper == "scople")]
    assert list(scople.source) == ["scople Supp. Table 2, Supp. Table 3"]
    conflicting = reported_table(rows, "ntu120", "110/10")
    scople = conflicting[(conflicting.method == "SCoPLe") & (conflicting.paper == "scople")]
    assert sorted(zip(scople.source, scople["ZSL %"])) == [("scople Supp. Table 2", 63.51),
                                                           ("scople Supp. Table 3", 74.53)]
    assert reported_table(rows, "ntu60", "no such split").empty


def test_our_methods_sit_beside_the_papers_numbers_for_the_same_method():
    from zssar.reported import beside_records

    rows = load_reported()
    records = [{"dataset": "kard", "method": m, "metrics": {"zsl_top1": v}}
               for m, v in (("star", 0.30), ("star", 0.40), ("global", 0.25), ("purls", 0.3), ("mine", 0.5))]
    table = beside_records(rows, records).set_index("method")
    assert table.loc["star", "ours: kard"] == "35.0 (2 runs)"
    assert table.loc["global", "paper name"] == "CLIP"  # SCoPLe's Table 1 name for the global baseline
    # STAR's 81.4 on NTU-60 55/5 is printed by three papers, once
    assert table.loc["star", "reported: ntu60 55/5"].startswith("81.4") and "dynapurls" in table.loc["star", "reported: ntu60 55/5"]
    assert table.loc["mine", "reported: ntu60 55/5"] == "-"  # no paper reports a method of the user's
    printed = {round(float(r["value"]), 1) for r in rows if r["method"] == "PURLS" and r["dataset"] == "ntu120"
               and r["split"] == "110/10" and r["metric"] == "zsl_top1"}
    cell = table.loc["purls", "reported: ntu120 110/10"]
    assert len(printed) == 2 and cell.count(";") == 1  # two tables of DynaPURLS disagree; both are shown
