"""The benchmark's tables: coverage of the sweep grid, means, pairs with the baseline, timings."""
import numpy as np
import pytest

from zssar import benchmark


def _record(method, split, seed, zsl, dataset="kard", hit=True, seconds=1.0):
    return {"dataset": dataset, "split": {"name": split, "unseen": [1, 2, 3, 4, 5]}, "setting": "cross_subject",
            "method": method, "seed": seed, "encoder": "minilm", "selected": {},
            "metrics": {"zsl_top1": zsl, "gzsl_H": zsl / 2, "gzsl_gate_H": zsl / 3},
            "backbone_cache": {"hit": hit},
            "timings_s": {"pretrain_backbone": 0.0 if hit else 80.0, "select_on_seen_val": seconds,
                          "fit_method": 2 * seconds, "score_test": 0.1},
            "versions": {"machine": {"cpu": "cpu"}, "threads": 1}}


@pytest.fixture
def records():
    out = []
    for k, split in enumerate(benchmark.SWEEP_SPLITS["kard"]):
        for seed in range(3):
            out.append(_record("global", split, seed, 0.30 + 0.01 * k, hit=False))
            if k < 2:  # a method swept on part of the grid only
                out.append(_record("new", split, seed, 0.40 + 0.01 * k + 0.01 * seed))
    return out


def test_coverage_says_which_method_covers_the_grid(records):
    table = benchmark.coverage(records).set_index("method")
    assert table.loc["global", "runs"] == table.loc["global", "grid"] == 15 and table.loc["global", "complete"]
    assert table.loc["new", "runs"] == 6 and not table.loc["new", "complete"]


def test_a_partly_swept_method_is_paired_on_its_own_runs_only(records):
    row = benchmark.versus(records, "global").set_index("method").loc["new"]
    diffs = 100 * np.array([0.40 + 0.01 * k + 0.01 * s - (0.30 + 0.01 * k) for k in range(2) for s in range(3)])
    assert row["ZSL"] == f"+{diffs.mean():.1f} ± {np.std(diffs, ddof=1):.1f} (6/6)"
    table = benchmark.benchmark_table(records).set_index("method")
    assert table.loc["new", "runs"] == 6 and table.loc["global", "runs"] == 15


def test_timings_count_the_backbone_only_where_it_was_trained(records):
    table = benchmark.timing_table(records).set_index("method")
    assert table.loc["global", "backbone (cache miss)"] == 80.0
    assert np.isnan(table.loc["new", "backbone (cache miss)"])  # read from the cache every time
    assert table.loc["new", "fit_method"] == 2.0 and table.loc["new", "machine"] == "cpu x1"


def test_make_benchmark_writes_tables_and_figures(records, tmp_path):
    written = benchmark.write_benchmark(records, tmp_path)
    names = {p.name for p in written}
    assert {"benchmark.csv", "versus_global.md", "shortcuts.csv", "seed_spread.csv", "timings.csv", "coverage.md", "zsl.png",
            "h.png"} <= names
    assert all(p.stat().st_size > 0 for p in written)
    assert (tmp_path / "benchmark.md").read_text().startswith("| dataset | split_family | method |")


def test_no_records_is_a_clear_error(tmp_path):
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    with pytest.raises(SystemExit, match="make sweep"):
        benchmark.main(["--results", str(empty), "--out", str(tmp_path / "out")])


def test_the_shortcut_table_shows_what_picking_by_test_score_adds():
    runs = [_record("m", "random:5:seed=0", 0, 0.2), _record("m", "random:5:seed=0", 1, 0.4),
            _record("m", "random:5:seed=1", 0, 0.3), _record("m", "random:5:seed=1", 1, 0.3)]
    row = benchmark.shortcut_table(runs).iloc[0]
    assert row["honest mean"] == 30.0 and row["best seed per split"] == 35.0 and row["best single run"] == 40.0
    assert row["added by picking seeds"] == 5.0 and row["runs"] == 4


def test_the_leak_table_sets_the_test_set_choice_beside_the_seen_val_one():
    rows = [{"dataset": "kard", "split": f"random:5:seed={k}", "seed": 0, "method": "m",
             "H_seen_val_gamma": 0.2 + 0.1 * k, "H_test_gamma": 0.3 + 0.1 * k,
             "H_gate_seen_val_delta": 0.1, "H_gate_test_delta": 0.15} for k in range(2)]
    row = benchmark.leak_table(rows).iloc[0]
    assert (row["H, gamma on seen-val"], row["H, gamma on test"], row["added"]) == (25.0, 35.0, 10.0)
    assert row["added (gate)"] == 5.0 and row["runs"] == 2


def test_seed_spread_separates_the_seed_from_the_split():
    runs = [_record("m", f"random:5:seed={k}", seed, 0.1 * k + (0.2 if seed == 0 else 0.0))
            for k in range(3) for seed in range(3)]
    row = benchmark.seed_spread(runs).iloc[0]
    assert row["seed std (within a split)"] == round(float(np.std([20, 0, 0], ddof=1)), 1)
    means = [np.mean([10 * k + 20, 10 * k, 10 * k]) for k in range(3)]
    assert row["split std (of split means)"] == round(float(np.std(means, ddof=1)), 1)
    assert (row["splits"], row["runs"]) == (3, 9)


def test_leak_rows_come_from_beside_the_results_given(tmp_path):
    import json

    (tmp_path / "leak_study").mkdir()
    row = {"dataset": "kard", "split": "random:5:seed=0", "seed": 0, "method": "m",
           "H_seen_val_gamma": 0.2, "H_test_gamma": 0.3}
    (tmp_path / "leak_study" / "kard.jsonl").write_text(json.dumps(row) + "\n")
    (tmp_path / "kard.jsonl").write_text("")
    assert benchmark.leak_rows(tmp_path) == [row] == benchmark.leak_rows(tmp_path / "kard.jsonl")
    assert benchmark.leak_rows(tmp_path / "leak_study") == []  # no leak_study folder below it


def test_significance_pairs_runs_and_splits_and_corrects_over_methods(records):
    more = records + [_record("worse", r["split"]["name"], r["seed"], r["metrics"]["zsl_top1"] - 0.05 - 0.001 * i)
                      for i, r in enumerate(records) if r["method"] == "global"]
    table = benchmark.significance(more).set_index(["level", "method"])
    assert table.loc[("runs", "worse"), "pairs"] == 15 and table.loc[("splits", "worse"), "pairs"] == 5
    assert table.loc[("runs", "new"), "pairs"] == 6  # on its own runs only
    assert table.loc[("runs", "worse"), "median (points)"] < 0
    assert table.loc[("runs", "worse"), "p"] < 0.01  # 15 of 15 pairs lower
    assert table.loc[("splits", "worse"), "p"] == 0.062  # the floor for 5 pairs (0.0625, rounded)
    assert (table["p_holm"] >= table["p"]).all() and (table["p_holm"] <= 1).all()


def test_mean_ranks_use_the_runs_every_method_has(records):
    more = records + [_record("worse", r["split"]["name"], r["seed"], 0.0) for r in records if r["method"] == "global"]
    table = benchmark.mean_ranks(more).set_index("method")
    assert table.loc["new", "mean rank"] == 1.0 and table.loc["global", "mean rank"] == 2.0
    assert table.loc["worse", "mean rank"] == 3.0 and (table["runs"] == 6).all()


def test_the_verdict_says_separated_only_when_the_mean_beats_the_spread(records):
    lines = benchmark.verdict_lines(records, "new")
    assert lines == ["kard random:5: new is above the baseline by more than the spread (+11.0 ± 0.9 points of ZSL, "
                     "6/6 pairs won)"]
    noisy = [dict(r, metrics=dict(r["metrics"], zsl_top1=r["metrics"]["zsl_top1"] + (0.3 if r["seed"] else -0.3)))
             if r["method"] == "new" else r for r in records]
    assert "does not separate" in benchmark.verdict_lines(noisy, "new")[0]
