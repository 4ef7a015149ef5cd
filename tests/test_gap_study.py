"""The GAP study script (scripts/gap_study.py): which rows it plans, that it resumes without
recomputing, and the study tables of zssar.results it prints."""
import importlib.util
import json
from pathlib import Path

import pytest

from zssar.errors import InvalidConfig
from zssar.results import STUDY_KEYS, load_records, study_paired, study_paired_grid, study_summary

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gap_study.py"


@pytest.fixture
def study():
    spec = importlib.util.spec_from_file_location("gap_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows_of(part, condition, values, splits=("none",)):
    return [{"part": part, "dataset": "kard", "split": split, "condition": condition, "seed": seed,
             **({"seen_test_top1": v} if part != "zero-shot" else {"zsl_top1": v})}
            for split in splits for seed, v in enumerate(values)]


def test_study_summary_is_mean_and_sample_std_in_percent():
    rows = rows_of("supervised", "ce", [0.90, 0.92, 0.94]) + rows_of("supervised", "gap", [0.95, 0.91, 0.96])
    table = study_summary(rows, "supervised").set_index("condition")
    assert table.loc["ce", "seen_test_top1"] == "92.0 ± 2.0"
    assert table.loc["gap", "seen_test_top1"] == "94.0 ± 2.6"
    assert table.loc["ce", "runs"] == 3 and table.loc["ce", "splits"] == 1
    paired = study_paired(rows, "supervised", "gap", "ce").iloc[0]
    assert (paired["gap - ce"], paired["wins"], paired["pairs"]) == (2.0, 2, 3)
    with pytest.raises(InvalidConfig, match="unknown study part"):
        study_summary(rows, "supervized")


def test_zero_shot_pairs_only_the_same_split_and_seed():
    gap = rows_of("zero-shot", "gap", [0.5, 0.6], splits=("a", "b"))
    base = rows_of("zero-shot", "global", [0.4, 0.6], splits=("a",))
    paired = study_paired(gap + base, "zero-shot", "gap", "global", metrics=("zsl_top1",)).iloc[0]
    assert paired["pairs"] == 2 and paired["wins"] == 1 and paired["gap - global"] == 5.0
    assert study_summary(gap, "zero-shot", by=("condition",)).iloc[0]["splits"] == 2


def test_paired_comparisons_gather_into_one_narrow_table():
    gap = rows_of("zero-shot", "gap", [0.5, 0.6], splits=("a", "b"))
    base = rows_of("zero-shot", "global", [0.4, 0.6], splits=("a", "b"))
    grid = study_paired_grid(gap + base, "zero-shot", {"GAP vs baseline": ("gap", "global"),
                                                        "absent": ("gap", "nothing")}, ("zsl_top1",))
    assert list(grid.columns) == ["comparison", "dataset", "zsl_top1"]
    assert grid["comparison"].tolist() == ["GAP vs baseline"]  # a comparison without rows is left out
    assert grid.loc[0, "zsl_top1"] == "+5.0 ± 5.8 (2/4)"


def test_ablation_rows_change_one_setting_and_skip_the_reference(study):
    args = study.argparse.Namespace(seeds=[0], splits=["random:5:seed=0"], skip_supervised=False, ablation=True,
                                    epochs=60, batch_size=16, partition="4", text="both", text_tower="frozen",
                                    calibration="shared")
    plan = list(study.planned(args))
    ablation = {condition: variant for part, _, condition, _, variant, _ in plan if part == "ablation"}
    assert set(ablation) == {"gap partition=global", "gap partition=2", "gap partition=6",
                             "gap text=label", "gap text=synonyms", "gap text=parts"}
    ids = [study.row_id(part, "kard", "default", split, c, seed, args, v) for part, split, c, seed, v, _ in plan]
    assert len(set(ids)) == len(ids)
    # Rows written before the ablation existed keep their identity (a rerun skips them).
    zero_shot = [c for part, _, c, _, _, _ in plan if part == "zero-shot"]
    assert zero_shot == ["gap (objective gap)", "global (objective ce)"]
    args.calibration = "held_out"  # its own rows, the shared ones untouched
    assert [c for part, _, c, _, _, _ in study.planned(args) if part == "zero-shot"] == \
        ["gap (objective gap, held-out calibration)", "global (objective ce, held-out calibration)"]
    assert ids[1] == json.dumps(["supervised", "kard", "default", "none", "gap", 0, 60, 16, "4", "both", "frozen"])
    assert json.loads(study.row_id("ablation", "kard", "default", "none", "gap text=label", 0, args,
                                   ablation["gap text=label"]))[-3:] == ["4", "label", "frozen"]


def test_a_rerun_skips_the_rows_already_written(study, monkeypatch, tmp_path, capsys):
    import zssar.data.registry as registry

    calls = []

    def fake_supervised(data, args, objective, seed, variant=None):
        calls.append((objective, seed, variant))
        return {"seen_test_top1": 0.9 + 0.01 * seed + (0.02 if objective == "gap" else 0.0), "seconds": 0.0}

    monkeypatch.setattr(study, "supervised_row", fake_supervised)
    real_load = registry.load_dataset
    monkeypatch.setattr(registry, "load_dataset",
                        lambda name, root=None: real_load(name, num_subjects=2, repetitions=1, frames=8))
    out = tmp_path / "study.jsonl"
    argv = ["--dataset", "synthetic", "--seeds", "0", "1", "--splits", "--out", str(out), "--quiet"]
    rows = study.main(argv)
    assert len(calls) == 4 and len(rows) == 4
    assert [r["condition"] for r in rows] == ["ce", "gap", "ce", "gap"]
    assert rows[1]["gap"] == {"partition": "4", "text": "both", "text_tower": "frozen"}
    calls.clear()
    again = study.main(argv)
    assert calls == [] and again == rows
    assert load_records(out, STUDY_KEYS) == rows
    with pytest.raises(InvalidConfig, match="lacks method, metrics"):
        load_records(out)  # study rows are not run records
    printed = capsys.readouterr().out
    assert "skip (already in" in printed and "gap - ce" in printed
    calls.clear()
    study.main([*argv, "--ablation"])  # only the six new rows are computed
    assert len(calls) == 12 and all(objective == "gap" and variant for objective, _, variant in calls)



def test_the_book_ships_the_gap_study(study):
    """results/gap_study/ (read by chapter 05) holds 3 seeds of every row the Makefile's study plans."""
    from zssar.results import BOOK_RESULTS

    rows = load_records(BOOK_RESULTS / "gap_study", STUDY_KEYS)
    assert len({r["id"] for r in rows}) == len(rows), "a study row is recorded twice"
    groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["part"], r["split"], r["condition"]), set()).add(r["seed"])
    assert all(seeds == {0, 1, 2} for seeds in groups.values()), groups
    for dataset in ("kard", "nw-ucla"):
        assert {(dataset, "supervised", "none", c) for c in ("ce", "gap")} <= set(groups)
        splits = {s for d, part, s, _ in groups if d == dataset and part == "zero-shot"}
        assert splits, f"no zero-shot rows for {dataset}"
        for split in splits:  # each GAP row has its baseline on the same split
            conditions = {c for d, part, s, c in groups if (d, part, s) == (dataset, "zero-shot", split)}
            assert {"gap (objective gap)", "global (objective ce)"} <= conditions
    ablation = {c for d, part, _, c in groups if (d, part) == ("kard", "ablation")}
    assert ablation == set(study.ABLATION) - {"gap partition=4", "gap text=both"}
