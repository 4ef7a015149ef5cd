"""Held-out calibration: gamma, delta and the method's settings chosen on the features of a second
backbone that never saw the pseudo-unseen classes (RunConfig(calibration="held_out"))."""
import json
from dataclasses import replace

import numpy as np
import pytest

from zssar.backbones.pretrain import pretrain
from zssar.data.protocol import calibration_protocol
from zssar.data.registry import load_dataset
from zssar.errors import InvalidConfig
from zssar.records import record_identity, run_identity
from zssar.results import json_default
from zssar.runner import RunConfig, protocol_for, run_experiment

SPLIT = "random:3:seed=2"


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", num_subjects=4, repetitions=2, frames=24)


def test_the_calibration_protocol_trains_on_pseudo_seen_classes_only(data):
    protocol = protocol_for(RunConfig(split=SPLIT), data)
    held = calibration_protocol(protocol, data.labels)
    assert protocol.pseudo_unseen and held.seen == protocol.pseudo_seen
    assert set(held.split.unseen) == set(protocol.unseen) | set(protocol.pseudo_unseen)
    for name in ("seen_train", "seen_val"):
        kept = held.views[name]
        assert set(kept) <= set(protocol.views[name])
        assert set(data.labels[kept]) == set(protocol.pseudo_seen)  # every pseudo-seen class, nothing else
        dropped = np.setdiff1d(protocol.views[name], kept)
        assert set(data.labels[dropped]) == set(protocol.pseudo_unseen)
    for name in ("seen_test", "unseen_test", "gzsl_test"):
        np.testing.assert_array_equal(held.views[name], protocol.views[name])


def test_held_out_calibration_uses_a_second_backbone(data, tiny_backbone, tmp_path):
    base = RunConfig(split=SPLIT, backbone=tiny_backbone, cache_dir=str(tmp_path), method_settings={"epochs": 5})
    shared = run_experiment(base, data=data, show_progress=False)
    held = run_experiment(replace(base, calibration="held_out"), data=data,
                          show_progress=False)
    info = held.record["calibration"]
    assert shared.record["calibration"] == {"backbone": "shared"}
    assert info["backbone"] == "held_out" and info["backbone_cache"]["key"] != held.record["backbone_cache"]["key"]
    # The run's own backbone, the fitted method and the ZSL scores are the same; only the choices differ.
    assert held.record["backbone_cache"]["key"] == shared.record["backbone_cache"]["key"]
    assert held.method.state_digest() == shared.method.state_digest()
    np.testing.assert_array_equal(held.scores["zsl"], shared.scores["zsl"])
    assert held.record["selected"]["gamma"] != shared.record["selected"]["gamma"]
    # The calibration backbone is the one of the calibration protocol, cached and never trained on a
    # pseudo-unseen class.
    protocol = protocol_for(base, data)
    again = pretrain(data, calibration_protocol(protocol, data.labels), tiny_backbone, seed=0,
                     cache_dir=str(tmp_path), show_progress=False)
    assert again.cache_hit and again.key == info["backbone_cache"]["key"]
    assert set(again.meta["seen_classes"]) == set(protocol.pseudo_seen)
    # A rerun is told apart from the shared run, and records written before the option read as shared.
    shared.record, held.record = _stored(shared.record), _stored(held.record)
    assert run_identity(base, data) == record_identity(shared.record)
    assert run_identity(replace(base, calibration="held_out"), data) == \
        record_identity(held.record) != record_identity(shared.record)
    old = {k: v for k, v in shared.record.items() if k != "calibration"}  # a record written before the option
    assert record_identity(old) == record_identity(shared.record)


def _stored(record):
    return json.loads(json.dumps(record, default=json_default))  # as a results file gives it back


def test_held_out_calibration_passes_the_leak_canary(data, tiny_backbone, tmp_path):
    from zssar.data.skeleton import from_arrays

    protocol = protocol_for(RunConfig(split=SPLIT), data)
    labels = data.labels.copy()
    rng = np.random.default_rng(0)
    for view in ("unseen_test", "seen_test"):  # both test views' labels shuffled
        test_idx = protocol.views[view]
        labels[test_idx] = rng.permutation(labels[test_idx])
    permuted = from_arrays(data.x, labels, data.class_names, data.layout, subjects=data.subjects,
                           views=data.views, lengths=data.lengths, sample_ids=data.sample_ids, name=data.name)
    config = RunConfig(split=SPLIT, backbone=tiny_backbone, cache_dir=str(tmp_path), calibration="held_out",
                       method_settings={"epochs": 5})
    a = run_experiment(config, data=data, show_progress=False)
    b = run_experiment(config, data=permuted, show_progress=False)
    assert a.record["calibration"]["backbone_cache"]["key"] != b.record["calibration"]["backbone_cache"]["key"]
    assert a.record["selected"] == b.record["selected"]
    assert a.method.state_digest() == b.method.state_digest()
    for name in a.predictions:
        np.testing.assert_array_equal(a.predictions[name], b.predictions[name])


def test_an_unknown_calibration_is_refused(capsys):
    with pytest.raises(InvalidConfig, match="calibration 'heldout'.*shared.*held_out"):
        RunConfig(calibration="heldout")
    from zssar.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "--calibration", "later", "--json"])
    assert exc.value.code == 2 and "held_out" in capsys.readouterr().err
