"""The leak canary, for every registered method: permuting the unseen test samples' labels changes
nothing before the metrics (backbone features, trained weights, every setting selected on seen data,
scores and predictions of all test views)."""
import numpy as np
import pytest

from zssar.data.protocol import build_protocol
from zssar.data.registry import load_dataset
from zssar.data.skeleton import from_arrays
from zssar.data.splits import parse_split
from zssar.errors import InvalidConfig
from zssar.experiment import RunConfig, run_experiment
from zssar.methods.base import make_method, method_names

SPLIT = "random:3:seed=2"
# Small but complete settings for the methods this file knows; any other method runs with
# epochs=2 if it has that setting, else with its defaults.
FAST = {
    "global": {"epochs": 5},
    "purls": {"epochs": 3, "hidden": 32, "attention_dim": 16},
    "dynapurls": {"epochs": 3, "hidden": 32, "attention_dim": 16, "refine_batch": 4,
                  "grid": {"bank_size": [4, 8], "refine_lr": [0.0, 0.01]}},
}


def _fast_settings(name: str) -> dict:
    if name in FAST:
        return FAST[name]
    try:
        make_method(name, epochs=2)
        return {"epochs": 2}
    except InvalidConfig:
        return {}


@pytest.fixture(scope="module")
def canary_data():
    """A small synthetic set (it has the descriptions every method reads) and the same set with
    the unseen test samples' labels shuffled among themselves."""
    data = load_dataset("synthetic", num_subjects=4, repetitions=2, frames=24)
    test_idx = build_protocol(data, parse_split(SPLIT, data.num_classes)).views["unseen_test"]
    labels = data.labels.copy()
    labels[test_idx] = np.random.default_rng(0).permutation(labels[test_idx])
    assert (labels != data.labels).any()
    permuted = from_arrays(data.x, labels, data.class_names, data.layout, subjects=data.subjects,
                           views=data.views, lengths=data.lengths, sample_ids=data.sample_ids, name=data.name)
    return data, permuted


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("canary-cache")  # shared: each backbone trains once for all methods


@pytest.mark.parametrize("method", method_names())
def test_leak_canary(method, canary_data, cache, tiny_backbone):
    data, permuted = canary_data
    config = RunConfig(dataset="synthetic", split=SPLIT, method=method, backbone=tiny_backbone,
                       cache_dir=str(cache), method_settings=_fast_settings(method))
    a = run_experiment(config, data=data, show_progress=False)
    b = run_experiment(config, data=permuted, show_progress=False)
    assert a.record["backbone_cache"]["key"] != b.record["backbone_cache"]["key"]  # trained apart
    np.testing.assert_array_equal(a.pretrained.features.tokens, b.pretrained.features.tokens)
    assert a.record["selected"] == b.record["selected"]
    assert a.method.state_digest() == b.method.state_digest()
    assert set(a.predictions) == set(b.predictions) and {"zsl", "gzsl", "gzsl_gated"} <= set(a.predictions)
    for name in a.predictions:
        np.testing.assert_array_equal(a.predictions[name], b.predictions[name])
    for name in a.scores:
        np.testing.assert_array_equal(a.scores[name], b.scores[name])
