"""End to end on tiny data: determinism, the feature cache, the leak canary, the command line."""
import json
from dataclasses import replace

import numpy as np
import pytest

from zssar.data.protocol import build_protocol
from zssar.data.skeleton import from_arrays
from zssar.data.splits import parse_split
from zssar.runner import RunConfig, run_experiment

SPLIT = "random:3:seed=1"


def _config(tmp_path, backbone, **kw):
    return RunConfig(dataset="tiny", split=SPLIT, backbone=backbone, cache_dir=str(tmp_path / "cache"),
                     method_settings={"epochs": 5}, **kw)


def _permute_unseen_test_labels(data, seed=0):
    """Same samples, but the labels of the unseen test samples shuffled among themselves."""
    split = parse_split(SPLIT, data.num_classes)
    test_idx = build_protocol(data, split).views["unseen_test"]
    labels = data.labels.copy()
    labels[test_idx] = np.random.default_rng(seed).permutation(labels[test_idx])
    assert (labels != data.labels).any()
    return from_arrays(data.x, labels, data.class_names, data.layout, subjects=data.subjects,
                       views=data.views, lengths=data.lengths, sample_ids=data.sample_ids, name=data.name)


def test_leak_canary_everything_before_metrics_is_identical(tiny_data, tiny_backbone, tmp_path):
    a = run_experiment(_config(tmp_path / "a", tiny_backbone), data=tiny_data, show_progress=False)
    b = run_experiment(_config(tmp_path / "b", tiny_backbone), data=_permute_unseen_test_labels(tiny_data),
                       show_progress=False)
    assert a.record["backbone_cache"]["key"] != b.record["backbone_cache"]["key"]  # retrained from scratch
    np.testing.assert_array_equal(a.pretrained.features.pooled, b.pretrained.features.pooled)
    assert a.record["selected"] == b.record["selected"]
    assert a.method.state_digest() == b.method.state_digest()
    for name in a.predictions:
        np.testing.assert_array_equal(a.predictions[name], b.predictions[name])
        np.testing.assert_array_equal(a.scores.get(name, 0), b.scores.get(name, 0))


def test_same_seed_same_numbers_and_cache_reuse(tiny_data, tiny_backbone, tmp_path):
    first = run_experiment(_config(tmp_path / "a", tiny_backbone), data=tiny_data, show_progress=False)
    fresh = run_experiment(_config(tmp_path / "b", tiny_backbone), data=tiny_data, show_progress=False)
    cached = run_experiment(_config(tmp_path / "a", tiny_backbone), data=tiny_data, show_progress=False)
    assert not first.pretrained.cache_hit and not fresh.pretrained.cache_hit and cached.pretrained.cache_hit
    for other in (fresh, cached):  # trained again from scratch, or read back from the cache
        np.testing.assert_array_equal(first.pretrained.features.tokens, other.pretrained.features.tokens)
        assert first.record["metrics"] == other.record["metrics"]
        assert first.record["selected"] == other.record["selected"]
    reseeded = run_experiment(_config(tmp_path / "a", tiny_backbone, seed=1), data=tiny_data,
                              show_progress=False)
    assert not reseeded.pretrained.cache_hit
    assert reseeded.method.state_digest() != first.method.state_digest()
    m = first.record["metrics"]
    assert set(m) >= {"zsl_top1", "gzsl_S", "gzsl_U", "gzsl_H", "seen_top1"}
    assert all(0.0 <= v <= 1.0 for v in m.values())


def test_damaged_cache_entry_is_rebuilt_not_used(tiny_data, tiny_backbone, tmp_path):
    from zssar.backbones.pretrain import pretrain

    protocol = build_protocol(tiny_data, parse_split(SPLIT, tiny_data.num_classes))
    first = pretrain(tiny_data, protocol, tiny_backbone, cache_dir=tmp_path, show_progress=False)
    entry = tmp_path / "features" / first.key / "features.npz"
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    again = pretrain(tiny_data, protocol, tiny_backbone, cache_dir=tmp_path, show_progress=False)
    assert not again.cache_hit
    np.testing.assert_array_equal(first.features.pooled, again.features.pooled)
    assert pretrain(tiny_data, protocol, tiny_backbone, cache_dir=tmp_path, show_progress=False).cache_hit


def test_backbone_training_never_reads_unseen_class_samples(tiny_data, tiny_backbone, tmp_path):
    """Replace every unseen-class skeleton by noise: the training history and the seen samples'
    features must not change at all, only the features of the altered samples."""
    from zssar.backbones.pretrain import pretrain

    split = parse_split(SPLIT, tiny_data.num_classes)
    unseen = np.isin(tiny_data.labels, split.unseen)
    x = tiny_data.x.copy()
    x[unseen] = np.random.default_rng(5).normal(size=x[unseen].shape)
    altered = from_arrays(x, tiny_data.labels, tiny_data.class_names, tiny_data.layout,
                          subjects=tiny_data.subjects, lengths=tiny_data.lengths, name=tiny_data.name)
    runs = [pretrain(d, build_protocol(d, split), tiny_backbone, cache_dir=tmp_path, show_progress=False)
            for d in (tiny_data, altered)]
    assert runs[0].key != runs[1].key and runs[0].history == runs[1].history
    np.testing.assert_array_equal(runs[0].features.pooled[~unseen], runs[1].features.pooled[~unseen])
    assert not np.allclose(runs[0].features.pooled[unseen], runs[1].features.pooled[unseen])


def test_cli_run_json_and_errors(tmp_path, capsys, monkeypatch):
    from zssar.cli import main

    args = ["run", "--dataset", "synthetic", "--split", "random:5:seed=0", "--seed", "0", "--epochs", "1",
            "--cache", str(tmp_path), "--json", "--quiet", "--results", str(tmp_path / "r.jsonl")]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)["records"][0]
    assert record["dataset"] == "synthetic" and "embedded synthetic" in record["data_source"]
    assert record["metrics"]["zsl_top1"] >= 0 and "gamma" in record["selected"]
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 1
    assert main(["run", "--dataset", "nope", "--quiet"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert main(["run", "--split", "seen=0,1;unseen=1", "--quiet", "--cache", str(tmp_path)]) == 2
    assert "both seen and unseen" in capsys.readouterr().err


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, zssar; print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
