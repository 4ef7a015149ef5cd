"""The leak canary, for every registered method and every path that reads a test view.

* Test labels: the unseen AND seen test samples' labels are permuted within their views. The run
  retrains from scratch (another cache key) and nothing before the metrics may change: backbone
  features, trained weights, every setting chosen on seen data, scores and predictions of every test
  view, and the rows of the after-the-fact analyses (rescore, ablate) built on the run.
* Unseen text: the unseen classes' descriptions are replaced. Unseen text enters at scoring only, so
  every trained weight, every seen_val choice and the seen test view stay exactly the same.
* Only the runner reads test labels: no other module, script or notebook of the project indexes a
  test view.
"""
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers import toy_entry
from zssar.analyses import ablate, rescore
from zssar.data.protocol import TEST_VIEWS, build_protocol
from zssar.data.registry import load_dataset
from zssar.data.skeleton import from_arrays
from zssar.data.splits import parse_split
from zssar.errors import InvalidConfig
from zssar.methods.base import make_method, method_names
from zssar.runner import RunConfig, run_experiment
from zssar.text.descriptions import text_bank_for

ROOT = Path(__file__).resolve().parent.parent
SPLIT = "random:3:seed=2"
# Small but complete settings for the methods this file knows; any other method runs with
# epochs=2 if it has that setting, else with its defaults.
FAST = {
    "global": {"epochs": 5},
    "purls": {"epochs": 3, "hidden": 32, "attention_dim": 16},
    "dynapurls": {"epochs": 3, "hidden": 32, "attention_dim": 16, "refine_batch": 4,
                  "grid": {"bank_size": [4, 8], "refine_lr": [0.0, 0.01]}},
    "star": {"epochs": 2, "attributes": 8, "prompt_dim": 16, "hidden": 32},
    "scople": {"epochs": 2, "batch_size": 128},
    "skeletoncontext": {"epochs": 2, "contexts_per_class": 3, "head_epochs": 5, "width": 32, "hidden": 64, "heads": 2},
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
    """A small synthetic set (it has the descriptions every method reads) and the same set with the
    unseen and the seen test samples' labels shuffled within their views."""
    data = load_dataset("synthetic", num_subjects=4, repetitions=2, frames=24)
    views = build_protocol(data, parse_split(SPLIT, data.num_classes)).views
    labels = data.labels.copy()
    rng = np.random.default_rng(0)
    for name in ("unseen_test", "seen_test"):
        labels[views[name]] = rng.permutation(labels[views[name]])
        assert (labels[views[name]] != data.labels[views[name]]).any()
    permuted = from_arrays(data.x, labels, data.class_names, data.layout, subjects=data.subjects,
                           views=data.views, lengths=data.lengths, sample_ids=data.sample_ids, name=data.name)
    return data, permuted


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("canary-cache")  # shared: each backbone trains once for all methods


def _config(method, cache):
    return RunConfig(dataset="synthetic", split=SPLIT, method=method, backbone=_tiny(), cache_dir=str(cache),
                     method_settings=_fast_settings(method))


def _tiny():
    from zssar.backbones.config import BackboneConfig

    return BackboneConfig(channels=(8, 16), strides=(1, 2), epochs=2, frames=16, batch_size=16)


@pytest.mark.parametrize("method", method_names())
def test_permuted_test_labels_change_nothing_before_the_metrics(method, canary_data, cache):
    data, permuted = canary_data
    config = _config(method, cache)
    a = run_experiment(config, data=data, show_progress=False)
    b = run_experiment(config, data=permuted, show_progress=False)
    assert a.record["backbone_cache"]["key"] != b.record["backbone_cache"]["key"]  # trained apart, from scratch
    np.testing.assert_array_equal(a.pretrained.features.tokens, b.pretrained.features.tokens)
    assert a.record["selected"] == b.record["selected"]
    # a streaming gate is chosen (and recorded) only for a method that adapts along the test stream
    assert (a.record["selected"]["stream_delta"] is not None) == (a.traces.get("gzsl") is not None)
    assert a.method.state_digest() == b.method.state_digest()
    assert set(a.predictions) == set(b.predictions) and {"zsl", "gzsl", "gzsl_gated", "seen"} <= set(a.predictions)
    for name in a.predictions:
        np.testing.assert_array_equal(a.predictions[name], b.predictions[name])
    for name in a.scores:
        np.testing.assert_array_equal(a.scores[name], b.scores[name])
    assert not np.array_equal(a.truths["zsl"], b.truths["zsl"])  # the labels did differ
    # the analyses built on a run predict the same on both, and only their metrics read the labels
    for analyse in (lambda r: rescore(r), lambda r: ablate(r, method, _fast_settings(method))):
        first, second = analyse(a), analyse(b)
        np.testing.assert_array_equal(first["predictions"], second["predictions"])


@pytest.mark.parametrize("method", method_names())
def test_unseen_text_enters_at_scoring_only(method, canary_data, cache):
    data, _ = canary_data
    config = _config(method, cache)
    bank = text_bank_for(data.name, data.class_names)
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))
    entries = list(bank.classes)
    for c in protocol.unseen:
        entries[c] = toy_entry(c)  # every field of every unseen class says something else
    changed = replace(bank, classes=tuple(entries))
    a = run_experiment(config, data=data, bank=bank, show_progress=False)
    b = run_experiment(config, data=data, bank=changed, show_progress=False)
    assert a.method.state_digest() == b.method.state_digest()
    assert a.record["selected"] == b.record["selected"]
    np.testing.assert_array_equal(a.scores["seen"], b.scores["seen"])
    np.testing.assert_array_equal(a.predictions["seen"], b.predictions["seen"])
    assert not np.array_equal(a.scores["zsl"], b.scores["zsl"])  # the unseen text is read at scoring


TEST_VIEW = re.compile(r"""views\s*\[\s*["'](%s)["']\s*\]|\.(%s)\b""" % ("|".join(TEST_VIEWS), "|".join(TEST_VIEWS)))
# The runner reads test views; the protocol defines them; nothing else of the project may index them.
ALLOWED = {"zssar/runner.py", "zssar/data/protocol.py"}


def _project_code():
    for path in sorted((ROOT / "zssar").rglob("*.py")) + sorted((ROOT / "scripts").glob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield path.relative_to(ROOT).as_posix(), "\n".join("".join(c["source"]) for c in cells
                                                           if c["cell_type"] == "code")


def test_only_the_runner_indexes_test_views():
    offenders = [f"{name}: {m.group(0)}" for name, code in _project_code() if name not in ALLOWED
                 for m in TEST_VIEW.finditer(code)]
    assert not offenders, "take test samples and labels from the RunResult instead: " + "; ".join(offenders)


def test_the_scan_finds_what_it_looks_for():
    assert TEST_VIEW.search('idx = protocol.views["unseen_test"]') and TEST_VIEW.search("p.views['gzsl_test']")
    assert not TEST_VIEW.search('result.samples["zsl"]')
