"""GAP: its loss, its prompts, GAP pretraining through the cache, the zero-shot method and its canary."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from zssar.backbones.gap_objective import AlignedFeatures, GapConfig, GapPrompts, soft_kl_contrastive
from zssar.backbones.pretrain import pretrain
from zssar.data.layouts import get_layout
from zssar.data.protocol import build_protocol
from zssar.data.registry import load_dataset
from zssar.data.skeleton import from_arrays
from zssar.data.splits import parse_split
from zssar.errors import InvalidConfig
from zssar.experiment import RunConfig, run_experiment
from zssar.text.descriptions import text_bank_for

SPLIT = "random:3:seed=2"


@pytest.fixture(scope="module")
def small_synthetic():
    """Synthetic classes have synonyms and part descriptions, which GAP's prompts read."""
    return load_dataset("synthetic", num_subjects=4, repetitions=2, frames=24)


@pytest.fixture
def gap_backbone(tiny_backbone):
    return replace(tiny_backbone, name="shiftgcn", objective="gap", gap=GapConfig(partition="4"))


def test_soft_targets_make_every_same_class_pair_positive():
    text = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    labels = torch.tensor([0, 0, 1, 2])
    matched = soft_kl_contrastive(text[labels], text[labels], labels, temperature=0.01)
    # Two samples of class 0 with identical text: each half-matches the other, as the target says.
    assert float(matched) < 1e-3
    shuffled = soft_kl_contrastive(text[labels], text[torch.tensor([2, 2, 0, 1])], labels, temperature=0.01)
    assert float(shuffled) > 1.0


def test_prompts_per_partition_and_text_type():
    layout = get_layout("ntu25")
    names = load_dataset("synthetic", num_subjects=2, repetitions=1, frames=8).class_names
    bank = text_bank_for("synthetic", names)
    p4 = GapPrompts(bank, layout, GapConfig(partition="4", text="both"))
    assert p4.streams == ("global", "head", "hand_arm", "hip", "leg_foot")
    assert p4.fixed["global"] is None  # a synonym is sampled per sample
    assert p4.fixed["hip"][0] == f"{bank.classes[0].label}: {bank.strings('gap4.hip')[0]}"
    p2 = GapPrompts(bank, layout, GapConfig(partition="2", text="label"))
    assert p2.streams == ("global", "upper", "lower") and p2.fixed["upper"] == bank.strings("label")
    assert GapPrompts(bank, layout, GapConfig(partition="global")).streams == ("global",)
    six = GapPrompts(bank, layout, GapConfig(partition="6", text="parts"))
    assert len(six.streams) == 7 and six.fixed["global"] == bank.strings("label")
    label_only = text_bank_for("mine", names)
    with pytest.raises(InvalidConfig, match="GAP part text needs"):
        GapPrompts(label_only, layout, GapConfig(text="both"))
    with pytest.raises(InvalidConfig, match="partition"):
        GapConfig(partition="5")


def test_gap_pretraining_stores_heads_projections_and_prompts(small_synthetic, gap_backbone, tmp_path):
    data = small_synthetic
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))
    plain = pretrain(data, protocol, replace(gap_backbone, objective="ce"), cache_dir=tmp_path,
                     show_progress=False)
    gap = pretrain(data, protocol, gap_backbone, cache_dir=tmp_path, show_progress=False)
    assert not isinstance(plain.features, AlignedFeatures) and gap.key != plain.key
    feats = gap.features
    assert isinstance(feats, AlignedFeatures) and feats.streams[0] == "global" and len(feats.streams) == 5
    assert feats.aligned.shape == (len(data), 5, 384) and feats.class_text.shape == (data.num_classes, 5, 384)
    again = pretrain(data, protocol, gap_backbone, cache_dir=tmp_path, show_progress=False)
    assert again.cache_hit and isinstance(again.features, AlignedFeatures)
    np.testing.assert_array_equal(again.features.aligned, feats.aligned)
    sub = again.features.subset([3, 1])
    assert isinstance(sub, AlignedFeatures) and sub.aligned.shape[0] == 2
    heads = torch.load(tmp_path / "features" / gap.key / "model.pt", weights_only=True)
    assert any(k.startswith("heads.") for k in heads) and any(k.startswith("backbone.") for k in heads)
    same_through_argument = pretrain(data, protocol, replace(gap_backbone, objective="ce"), cache_dir=tmp_path,
                                     show_progress=False, objective="gap")
    assert same_through_argument.cache_hit and same_through_argument.key == gap.key


def _permuted(data):
    test_idx = build_protocol(data, parse_split(SPLIT, data.num_classes)).views["unseen_test"]
    labels = data.labels.copy()
    labels[test_idx] = np.random.default_rng(0).permutation(labels[test_idx])
    assert (labels != data.labels).any()
    return from_arrays(data.x, labels, data.class_names, data.layout, subjects=data.subjects,
                       views=data.views, lengths=data.lengths, sample_ids=data.sample_ids, name=data.name)


@pytest.mark.parametrize("objective", ["gap", "ce"])
@pytest.mark.parametrize("method", ["gap"])
def test_leak_canary(method, objective, small_synthetic, gap_backbone, tmp_path):
    """Through run_experiment: with GAP-trained heads from the cache, or heads fitted on frozen features."""
    config = RunConfig(dataset="synthetic", split=SPLIT, method=method, cache_dir=str(tmp_path),
                       backbone=replace(gap_backbone, objective=objective), method_settings={"epochs": 3})
    a = run_experiment(config, data=small_synthetic, show_progress=False)
    b = run_experiment(config, data=_permuted(small_synthetic), show_progress=False)
    assert a.record["backbone_cache"]["key"] != b.record["backbone_cache"]["key"]
    assert isinstance(a.pretrained.features, AlignedFeatures) == (objective == "gap")
    np.testing.assert_array_equal(a.pretrained.features.tokens, b.pretrained.features.tokens)
    assert a.record["selected"] == b.record["selected"]
    assert a.method.state_digest() == b.method.state_digest() != "unfitted"
    for name in a.predictions:
        np.testing.assert_array_equal(a.predictions[name], b.predictions[name])
    for name in a.scores:
        np.testing.assert_array_equal(a.scores[name], b.scores[name])
    assert 0.0 <= a.record["metrics"]["zsl_top1"] <= 1.0


def test_gap_method_scores_with_its_stored_prompts(small_synthetic, gap_backbone, tmp_path):
    from zssar.methods.base import ClassEmbeddings, make_method

    data = small_synthetic
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))
    feats = pretrain(data, protocol, gap_backbone, cache_dir=tmp_path, show_progress=False).features
    method = make_method("gap", part_weight=0.0)
    seen = ClassEmbeddings(protocol.seen, {})
    method.fit(feats.subset(protocol.views["seen_train"]), data.labels[protocol.views["seen_train"]], seen)
    scores = method.scores(feats.subset([0, 1]), ClassEmbeddings(protocol.unseen, {}))
    g = feats.aligned[[0, 1], 0] / np.linalg.norm(feats.aligned[[0, 1], 0], axis=-1, keepdims=True)
    np.testing.assert_allclose(scores, g @ feats.class_text[list(protocol.unseen), 0].T, rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidConfig, match="part_weight"):
        make_method("gap", part_weight=-1)
