"""The global baseline's label weight: a test-time lean of each class vector towards its bare label,
chosen on seen_val only."""
from dataclasses import replace

import numpy as np
import pytest

from test_pipeline import _config, _permute_unseen_test_labels
from zssar.comparison import text_study_rows
from zssar.errors import InvalidConfig
from zssar.data.layouts import NTU25
from zssar.features import FeatureSet
from zssar.methods.base import make_method
from zssar.records import record_identity
from zssar.results import STUDY_METRICS
from zssar.runner import run_experiment

from helpers import class_text_from_vectors

GRID = [0.0, 0.5, 1.0]


def _toy(seed=0, k=4, dim=8, n=40):
    rng = np.random.default_rng(seed)
    text = class_text_from_vectors({"label+description": rng.normal(size=(k, dim)),
                                    "label": rng.normal(size=(k, dim))})
    labels = np.repeat(np.arange(k), n // k)
    pooled = rng.normal(size=(n, 6)).astype(np.float32) + labels[:, None].astype(np.float32)
    return FeatureSet(pooled, np.zeros((n, 1, 25, 1), np.float32), tuple(map(str, range(n))), NTU25), labels, text


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_the_weight_mixes_unit_field_and_label_vectors_at_scoring_only():
    features, labels, text = _toy()
    plain = make_method("global", epochs=3).fit(features, labels, text, seed=0)
    weighted = make_method("global", epochs=3, label_weights=GRID).fit(features, labels, text, seed=0)
    assert plain.state_digest() == weighted.state_digest()  # what is learnt does not depend on the weight
    base = plain.scores(features, text).values
    weighted.apply_selected(label_weight=0.0)
    np.testing.assert_array_equal(weighted.scores(features, text).values, base)
    import torch

    with torch.no_grad():
        z = _unit(plain.net((torch.from_numpy(features.pooled) - plain.mean) / plain.std).numpy())
    field, label = _unit(text.embeddings("label+description")), _unit(text.embeddings("label"))
    for w in (0.5, 1.0):
        weighted.apply_selected(label_weight=w)
        expect = z @ _unit((1 - w) * field + w * label).T
        np.testing.assert_allclose(weighted.scores(features, text).values, expect, atol=1e-5)


def test_label_weights_are_checked_and_name_a_run():
    with pytest.raises(InvalidConfig, match=r"label_weights must be one or more numbers in \[0, 1\]"):
        make_method("global", label_weights=[0.0, 1.5])
    with pytest.raises(InvalidConfig, match="label_weights"):
        make_method("global", label_weights=[])
    assert make_method("global").selectable() == {}
    assert make_method("global", label_weights=GRID).selectable() == {"label_weight": tuple(GRID)}
    # a record from before the setting (no label_weights) is the default run, not the weighted one
    old = {"dataset": "kard", "samples": 1, "split": {"name": "s"}, "setting": "x", "method": "global",
           "method_settings": {"epochs": 60}, "seed": 0, "encoder": "minilm",
           "backbone": {"name": "stgcn"}, "text": "borrowed", "borrow_rule": "mutual"}
    weighted = dict(old, method_settings={"epochs": 60, "label_weights": GRID})
    default = dict(old, method_settings={"epochs": 60, "label_weights": [0.0]})
    assert record_identity(old) == record_identity(default) != record_identity(weighted)
    rows = text_study_rows([dict(r, metrics=dict.fromkeys(STUDY_METRICS["zero-shot"], 0.5))
                            for r in (old, weighted)])
    assert [r["condition"] for r in rows] == ["borrowed", "borrowed + label weight"]


def test_the_weight_is_chosen_on_seen_val_never_on_test(tiny_data, tiny_backbone, tmp_path):
    config = replace(_config(tmp_path / "a", tiny_backbone), method_settings={"epochs": 5, "label_weights": GRID})
    a = run_experiment(config, data=tiny_data, show_progress=False)
    b = run_experiment(config, data=_permute_unseen_test_labels(tiny_data), show_progress=False)
    chosen = a.record["selected"]["method_selected"]
    assert set(chosen) == {"label_weight"} and chosen["label_weight"] in GRID
    assert [row["label_weight"] for row in a.record["selected"]["method_grid"]] == GRID
    assert a.record["selected"] == b.record["selected"]  # the unseen test labels play no part
    assert a.method.label_weight == chosen["label_weight"]  # the final model scores with the choice
