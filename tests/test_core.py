"""Splits, protocol views and their leak guard, input validation, metrics."""
import numpy as np
import pytest

from zssar.data.protocol import ProtocolConfig, build_protocol
from zssar.data.skeleton import from_arrays
from zssar.data.splits import Split, parse_split
from zssar.errors import DatasetNotFound, InvalidData, InvalidSplit
from zssar.evaluate import calibrated_predict, gzsl_metrics, harmonic_mean, select_gamma


def test_random_split_is_seeded_and_disjoint():
    a, b = parse_split("random:5:seed=3", 30), parse_split("random:5:seed=3", 30)
    assert a == b and len(a.unseen) == 5 and len(a.seen) == 25
    assert not set(a.seen) & set(a.unseen)
    assert parse_split("random:5:seed=4", 30).unseen != a.unseen
    assert parse_split("random:5:3", 30) == a and a.name == "random:5:seed=3"


def test_split_with_class_in_both_lists_is_rejected():
    with pytest.raises(InvalidSplit, match="both seen and unseen"):
        parse_split("seen=0,1,2;unseen=2,3", 5)


@pytest.mark.parametrize("spec, message", [
    ("unseen=1,99", "dataset has 10 classes"),
    ("random:9:seed=0", "at least two classes remain seen"),
    ("banana", "cannot read split"),
    ("unseen=a,b", "must be integers"),
])
def test_bad_split_specs_say_what_is_wrong(spec, message):
    with pytest.raises(InvalidSplit, match=message):
        parse_split(spec, 10)


def test_protocol_views_and_leak_guard(tiny_data):
    split = parse_split("random:3:seed=1", tiny_data.num_classes)
    p = build_protocol(tiny_data, split, ProtocolConfig(seed=0))
    labels = tiny_data.labels
    for view in ("seen_train", "seen_val"):
        assert not np.isin(labels[p.views[view]], split.unseen).any()
    assert set(labels[p.views["unseen_test"]]) == set(split.unseen)
    assert not set(p.views["seen_train"]) & set(p.views["seen_val"])
    train_subjects = set(tiny_data.subjects[p.views["seen_train"]])
    assert not train_subjects & set(tiny_data.subjects[p.views["gzsl_test"]])
    assert len(p.pseudo_unseen) == 3 and set(p.pseudo_unseen) <= set(split.seen)
    # the guard itself fires when a selection view holds an unseen class
    from zssar.data.protocol import assert_no_leak
    poisoned = dict(p.views, seen_val=np.concatenate([p.views["seen_val"], p.views["unseen_test"][:1]]))
    with pytest.raises(InvalidSplit, match="leak"):
        assert_no_leak(type(p)(p.split, p.config, poisoned, p.pseudo_unseen, p.class_names), labels)


def test_from_arrays_rejects_bad_input():
    x = np.zeros((4, 10, 25, 3), dtype=np.float32)
    x[:, :, 0, 1] = 1.0
    with pytest.raises(InvalidData, match="NaN"):
        bad = x.copy()
        bad[1, 2, 3, 0] = np.nan
        from_arrays(bad, [0, 1, 0, 1], ["a", "b"], "ntu25")
    with pytest.raises(InvalidData, match=r"expected \(N, T, V, 3\)"):
        from_arrays(x[..., :2], [0, 1, 0, 1], ["a", "b"], "ntu25")
    with pytest.raises(InvalidData, match="20 joints but layout 'ntu25' has 25"):
        from_arrays(x[:, :, :20], [0, 1, 0, 1], ["a", "b"], "ntu25")
    with pytest.raises(InvalidData, match="labels range"):
        from_arrays(x, [0, 1, 2, 1], ["a", "b"], "ntu25")
    with pytest.raises(InvalidData, match="unknown layout"):
        from_arrays(x, [0, 1, 0, 1], ["a", "b"], "ntu26")
    ok = from_arrays(x, [0, 1, 0, 1], ["a", "b"], "ntu25")
    assert ok.x.shape == (4, 1, 10, 25, 3) and list(ok.lengths) == [10] * 4


def test_unknown_dataset_and_missing_root(monkeypatch):
    from zssar.data.registry import load_dataset, register_dataset

    with pytest.raises(DatasetNotFound, match="unknown dataset 'kardd'.*synthetic"):
        load_dataset("kardd")
    register_dataset("needs_files", folder="somewhere")(lambda path: None)
    monkeypatch.delenv("ZSSAR_DATA", raising=False)
    with pytest.raises(DatasetNotFound, match="set ZSSAR_DATA"):
        load_dataset("needs_files")
    with pytest.raises(DatasetNotFound, match="no needs_files files under"):
        load_dataset("needs_files", root="/nonexistent/folder")


def test_select_gamma_matches_brute_force():
    rng = np.random.default_rng(0)
    candidates, seen, unseen = [0, 1, 2, 3, 4], [0, 1, 2], [3, 4]
    labels = rng.integers(0, 5, size=200)
    scores = rng.normal(size=(200, 5)) + 1.5 * np.eye(5)[labels] + 0.4 * np.isin(candidates, seen)
    chosen = select_gamma(scores, labels, candidates, seen, unseen)
    best = 0.0
    for g in np.linspace(-3, 3, 3001):
        m = gzsl_metrics(calibrated_predict(scores, candidates, seen, g), labels, seen, unseen)
        best = max(best, m["H"])
        assert m["H"] <= chosen["H"] + 1e-9
    got = gzsl_metrics(calibrated_predict(scores, candidates, seen, chosen["gamma"]), labels, seen, unseen)
    assert got["H"] == pytest.approx(chosen["H"]) and chosen["H"] == pytest.approx(best)
    assert chosen["gamma"] > 0  # seen classes were favoured by +0.4, so calibration must push back


def test_harmonic_mean():
    assert harmonic_mean(0.5, 0.5) == 0.5 and harmonic_mean(0.0, 1.0) == 0.0
    assert harmonic_mean(0.8, 0.4) == pytest.approx(2 * 0.32 / 1.2)
