"""The evaluation engine: entropy gate and its exact delta scan, ZSL metrics, aggregation, per class."""
import numpy as np
import pytest

from zssar.evaluate import (confusion, gated_predict, gzsl_metrics, normalised_entropy, per_class_accuracy,
                            select_delta, zsl_metrics)
from zssar.results import aggregate, per_class_table, results_table, summary_table

SEEN, UNSEEN = [0, 1, 2], [3, 4]
CANDIDATES = [0, 1, 2, 3, 4]


def _problem(seed=0, n=120):
    """Scores where seen samples are confident and unseen samples are flat, with some noise."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(CANDIDATES, size=n)
    scores = rng.normal(scale=0.3, size=(n, 5))
    sharp = np.isin(labels, SEEN)
    scores[np.arange(n), labels] += np.where(sharp, 2.5, 0.6)
    return scores, labels


def test_normalised_entropy_bounds_and_extremes():
    flat = np.zeros((1, 7))
    peaked = np.array([[50.0, 0, 0, 0, 0, 0, 0]])
    assert normalised_entropy(flat)[0] == pytest.approx(1.0)
    assert normalised_entropy(peaked)[0] < 1e-6
    e = normalised_entropy(np.random.default_rng(0).normal(size=(50, 7)), temperature=0.3)
    assert np.all((e >= 0) & (e <= 1))


def test_gated_predict_classifies_within_the_gated_side_only():
    scores, labels = _problem()
    e = normalised_entropy(scores)
    delta = float(np.median(e))
    pred = gated_predict(scores, CANDIDATES, SEEN, UNSEEN, delta)
    low = e < delta
    assert np.isin(pred[low], SEEN).all() and np.isin(pred[~low], UNSEEN).all()
    # within a side it is the argmax over that side's columns
    np.testing.assert_array_equal(pred[low], np.argmax(scores[low][:, :3], 1))
    np.testing.assert_array_equal(pred[~low], 3 + np.argmax(scores[~low][:, 3:], 1))


def test_select_delta_matches_brute_force_scan():
    for seed in range(3):
        scores, labels = _problem(seed)
        chosen = select_delta(scores, labels, CANDIDATES, SEEN, UNSEEN)
        grid = np.linspace(-0.01, 1.01, 2001)
        brute = max(gzsl_metrics(gated_predict(scores, CANDIDATES, SEEN, UNSEEN, d), labels, SEEN, UNSEEN)["H"]
                    for d in grid)
        assert chosen["H"] == pytest.approx(brute, abs=1e-9)
        again = gzsl_metrics(gated_predict(scores, CANDIDATES, SEEN, UNSEEN, chosen["delta"]), labels, SEEN,
                             UNSEEN)
        assert again["H"] == pytest.approx(chosen["H"]) and again["S"] == pytest.approx(chosen["S"])
        assert chosen["H"] > 0.5  # the gate separates confident seen from flat unseen samples


def test_select_delta_ignores_candidate_column_order():
    scores, labels = _problem(1)
    perm = np.array([4, 2, 0, 3, 1])
    a = select_delta(scores, labels, CANDIDATES, SEEN, UNSEEN)
    b = select_delta(scores[:, perm], labels, np.array(CANDIDATES)[perm], SEEN, UNSEEN)
    assert a["delta"] == pytest.approx(b["delta"]) and a["H"] == pytest.approx(b["H"])


def test_zsl_metrics_per_sample_and_per_class_differ_on_imbalance():
    labels = np.array([0] * 8 + [1] * 2)
    pred = np.array([0] * 8 + [0, 0])
    m = zsl_metrics(pred, labels)
    assert m["top1"] == pytest.approx(0.8) and m["class_mean"] == pytest.approx(0.5)
    assert per_class_accuracy(pred, labels) == {0: 1.0, 1: 0.0}
    c = confusion(pred, labels, [0, 1])
    np.testing.assert_allclose(c, [[1, 0], [1, 0]])


def _record(method, split, seed, zsl, h, classes=None):
    return {"dataset": "d", "split": {"name": split}, "setting": "cross_subject", "method": method,
            "encoder": "minilm", "seed": seed, "selected": {"gamma": 0.1, "delta": 0.5},
            "metrics": {"zsl_top1": zsl, "zsl_class_mean": zsl, "gzsl_S": h, "gzsl_U": h, "gzsl_H": h,
                        "gzsl_gate_H": h / 2},
            "per_class": {"zsl": classes or {}}}


def test_aggregate_mean_and_std_over_seeds_and_splits():
    records = [_record("a", f"s{sp}", seed, zsl=0.1 * (sp + 1) + 0.01 * seed, h=0.5)
               for sp in range(3) for seed in range(2)] + [_record("b", "s0", 0, zsl=0.9, h=0.2)]
    agg = aggregate(records).set_index("method")
    zsl_a = [0.1 * (sp + 1) + 0.01 * seed for sp in range(3) for seed in range(2)]
    assert agg.loc["a", "ZSL_mean"] == pytest.approx(np.mean(zsl_a))
    assert agg.loc["a", "ZSL_std"] == pytest.approx(np.std(zsl_a, ddof=1))
    assert agg.loc["a", "runs"] == 6 and agg.loc["b", "runs"] == 1 and agg.loc["b", "ZSL_std"] == 0.0
    assert agg.loc["a", "H_gate_mean"] == pytest.approx(0.25)
    by_split = aggregate(records, by=("method", "split"))
    assert len(by_split) == 4
    table = summary_table(records)
    assert table.set_index("method").loc["b", "ZSL"] == "90.0 ± 0.0"
    table = results_table(records)
    assert list(table.columns)[-2:] == ["H_gate %", "delta"]
    assert table.loc[0, "ZSL %"] == round(100 * records[0]["metrics"]["zsl_top1"], 1)


def test_per_class_table_averages_over_runs():
    records = [_record("a", "s0", 0, 0.5, 0.5, {"wave": 1.0, "nod": 0.0}),
               _record("a", "s0", 1, 0.5, 0.5, {"wave": 0.5}),
               _record("b", "s0", 0, 0.5, 0.5, {"wave": 0.0})]
    t = per_class_table(records)
    assert t.loc["wave", "a"] == pytest.approx(0.75) and t.loc["nod", "a"] == 0.0
    assert t.loc["wave", "b"] == 0.0


def test_run_many_writes_one_record_per_split_and_seed(tiny_data, tiny_backbone, tmp_path):
    from zssar.runner import RunConfig
    from zssar.sweep import run_many
    from zssar.results import load_records

    config = RunConfig(dataset="tiny", method="global", backbone=tiny_backbone, cache_dir=str(tmp_path / "c"),
                       method_settings={"epochs": 3})
    out = tmp_path / "runs.jsonl"
    records = run_many(config, seeds=[0, 1], splits=["random:3:seed=1", "random:3:seed=2"], data=tiny_data,
                       results=str(out), show_progress=False)
    assert [(r["split"]["name"], r["seed"]) for r in records] == [
        ("random:3:seed=1", 0), ("random:3:seed=1", 1), ("random:3:seed=2", 0), ("random:3:seed=2", 1)]
    assert load_records(out) == json_roundtrip(records)
    agg = aggregate(records)
    assert agg["runs"].tolist() == [4]
    assert agg["ZSL_mean"][0] == pytest.approx(np.mean([r["metrics"]["zsl_top1"] for r in records]))
    for r in records:  # every run records what it selected on seen data and its per-class accuracy
        assert {"gamma", "delta", "gate_temperature", "method_selected"} <= set(r["selected"])
        assert set(r["per_class"]["zsl"]) == {tiny_data.class_names[c] for c in r["split"]["unseen"]}


def json_roundtrip(obj):
    import json

    from zssar.results import json_default

    return json.loads(json.dumps(obj, default=json_default))


def test_cli_settings_are_parsed_and_checked():
    from zssar.commands.run import parse_settings
    from zssar.errors import InvalidConfig

    assert parse_settings(["epochs=3", "partition=static", "grid={\"bank_size\": [4]}"]) == {
        "epochs": 3, "partition": "static", "grid": {"bank_size": [4]}}
    with pytest.raises(InvalidConfig, match="KEY=VALUE"):
        parse_settings(["epochs"])


def test_run_many_resumes_an_interrupted_sweep_of_several_methods(tiny_backbone, tmp_path, monkeypatch):
    import zssar.sweep as sweep
    from zssar.data.registry import load_dataset
    from zssar.runner import RunConfig
    from zssar.sweep import run_many
    from zssar.results import load_records

    config = RunConfig(dataset="synthetic", backbone=tiny_backbone, cache_dir=str(tmp_path / "c"),
                       method_settings={"epochs": 2})
    out = tmp_path / "runs.jsonl"
    data = load_dataset("synthetic")
    kwargs = dict(seeds=[0], splits=["random:5:seed=1"], methods=["global", "purls"], data=data,
                  results=str(out), resume=True, show_progress=False)
    first = run_many(config, **{**kwargs, "methods": ["global"]})  # the sweep stopped after one run
    calls = []
    real = sweep.run_experiment
    monkeypatch.setattr(sweep, "run_experiment", lambda c, **kw: calls.append(c.method) or real(c, **kw))
    records = run_many(config, **kwargs)
    assert calls == ["purls"]  # only the missing run ran
    assert [r["method"] for r in records] == ["global", "purls"] and records[0] == json_roundtrip(first[0])
    assert [r["method"] for r in load_records(out)] == ["global", "purls"]
    calls.clear()
    run_many(config, **{**kwargs, "seeds": [1], "methods": ["global"]})  # another seed is another run
    assert calls == ["global"]
    calls.clear()
    changed = RunConfig(dataset="synthetic", backbone=tiny_backbone, cache_dir=str(tmp_path / "c"),
                        method_settings={"epochs": 3})
    run_many(changed, **{**kwargs, "methods": ["global"]})  # other settings: not the stored run
    assert calls == ["global"]


def test_load_records_reads_a_folder_and_names_a_damaged_line(tmp_path):
    from zssar.errors import InvalidConfig
    from zssar.results import load_records, split_family

    (tmp_path / "a.jsonl").write_text('{"x": 1}\n\n')
    (tmp_path / "b.jsonl").write_text('{"x": 2}\n{"x": 3\n')
    with pytest.raises(InvalidConfig, match=r"b.jsonl, line 2.*--resume"):
        load_records(tmp_path, required=())
    (tmp_path / "b.jsonl").write_text('{"x": 2}\n')
    assert load_records(tmp_path, required=()) == [{"x": 1}, {"x": 2}]
    # A file of another kind in a results folder is named, not a KeyError in a chapter later.
    with pytest.raises(InvalidConfig, match=r"a.jsonl, line 1: lacks dataset, split, method, seed, metrics"):
        load_records(tmp_path)
    assert split_family({"split": {"name": "random:5:seed=3"}}) == "random:5"
    assert split_family({"split": {"name": "purls:8/2"}}) == "purls:8/2"


def test_paired_differences_are_in_points_and_count_wins_on_shared_runs_only():
    from zssar.results import paired_differences

    records = [_record("a", "random:5:seed=0", 0, 0.50, 0.4), _record("b", "random:5:seed=0", 0, 0.40, 0.4),
               _record("a", "random:5:seed=1", 0, 0.30, 0.4), _record("b", "random:5:seed=1", 0, 0.35, 0.4),
               _record("a", "random:5:seed=2", 0, 0.90, 0.4)]  # no partner: left out
    table = paired_differences(records, "a", "b", metrics=("ZSL",)).set_index("metric")
    label = "a - b (points)"
    assert table.loc["ZSL", label] == pytest.approx(2.5)  # (10 - 5) / 2 points
    assert table.loc["ZSL", "std"] == pytest.approx(round(np.std([10, -5], ddof=1), 1))
    assert (table.loc["ZSL", "wins"], table.loc["ZSL", "pairs"]) == (1, 2)
