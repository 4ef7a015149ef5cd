"""GAP: its loss, its prompts, GAP pretraining through the cache (frozen or fine-tuned text tower),
the zero-shot method, ``objective`` through the runner and the command line, and its canary."""
import copy
import json
import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from zssar.backbones.gap_objective import AlignedFeatures, GapConfig, GapPrompts, soft_kl_contrastive
from zssar.backbones.pretrain import cache_key, gap_prompts, pretrain
from zssar.data.layouts import get_layout
from zssar.data.protocol import build_protocol
from zssar.data.registry import load_dataset
from zssar.data.skeleton import from_arrays
from zssar.data.splits import parse_split
from zssar.errors import InvalidConfig
from zssar.experiment import RunConfig, run_experiment
from zssar.text.descriptions import text_bank_for

SPLIT = "random:3:seed=2"
# Fine-tuning runs a tiny random BERT; 2 parts and synonym/label text keep its batches small.
TUNED = GapConfig(partition="2", text="synonyms", encoder="bert-base-uncased", text_tower="finetune", text_lr=1e-4)


@pytest.fixture(scope="module")
def small_synthetic():
    """Synthetic classes have synonyms and part descriptions, which GAP's prompts read."""
    return load_dataset("synthetic", num_subjects=4, repetitions=2, frames=24)


@pytest.fixture
def gap_backbone(tiny_backbone):
    return replace(tiny_backbone, name="shiftgcn", objective="gap", gap=GapConfig(partition="4"))


@pytest.fixture(scope="module")
def tiny_bert_folder(tmp_path_factory, small_synthetic):
    """A tiny random BERT saved like bert-base-uncased, its vocabulary the words of the GAP prompts."""
    from test_text_encoders import save_tiny_bert

    bank = text_bank_for("synthetic", small_synthetic.class_names)
    strings = GapPrompts(bank, small_synthetic.layout, GapConfig(partition="6")).strings()
    words = sorted({w for s in strings for w in re.findall(r"\w+|[^\w\s]", s.lower())})
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), words, layers=2, positions=128)


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


@pytest.mark.parametrize("variant", ["gap", "ce", "gap-finetune"])
def test_leak_canary(variant, small_synthetic, gap_backbone, tiny_bert_folder, tmp_path, monkeypatch):
    """Method gap through run_experiment with ``RunConfig.objective``: GAP-trained heads (frozen or
    fine-tuned text tower) from the cache, or heads fitted on a cross-entropy backbone's features.
    The backbone config says the other objective, so the run's ``objective`` must win."""
    objective = variant.split("-")[0]
    backbone = gap_backbone
    if variant == "gap-finetune":
        monkeypatch.setenv("ZSSAR_BERT_PATH", str(tiny_bert_folder))
        backbone = replace(gap_backbone, gap=TUNED)
    config = RunConfig(dataset="synthetic", split=SPLIT, method="gap", cache_dir=str(tmp_path),
                       backbone=replace(backbone, objective="ce" if objective == "gap" else "gap"),
                       objective=objective, method_settings={"epochs": 3})
    a = run_experiment(config, data=small_synthetic, show_progress=False)
    b = run_experiment(config, data=_permuted(small_synthetic), show_progress=False)
    assert a.record["objective"] == a.record["backbone"]["objective"] == objective
    protocol = build_protocol(small_synthetic, parse_split(SPLIT, small_synthetic.num_classes))
    keys = {o: cache_key(small_synthetic, protocol, replace(backbone, objective=o), 0,
                         gap_prompts(small_synthetic, replace(backbone, objective=o))) for o in ("ce", "gap")}
    assert a.record["backbone_cache"]["key"] == keys[objective] and keys["gap"] != keys["ce"]
    assert a.record["backbone_cache"]["key"] != b.record["backbone_cache"]["key"]
    assert isinstance(a.pretrained.features, AlignedFeatures) == (objective == "gap")
    np.testing.assert_array_equal(a.pretrained.features.tokens, b.pretrained.features.tokens)
    if objective == "gap":
        np.testing.assert_array_equal(a.pretrained.features.class_text, b.pretrained.features.class_text)
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


def test_cache_key_counts_text_tower_and_text_lr(small_synthetic, gap_backbone):
    data = small_synthetic
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))

    def key(gap):
        config = replace(gap_backbone, gap=gap)
        return cache_key(data, protocol, config, 0, gap_prompts(data, config))

    frozen = key(GapConfig())
    assert key(GapConfig(text_lr=1e-3)) == frozen  # a frozen tower trains no text weights
    tuned = key(GapConfig(text_tower="finetune"))
    assert tuned != frozen and key(GapConfig(text_tower="finetune", text_lr=1e-4)) != tuned
    assert GapConfig().text_lr == 1e-5
    with pytest.raises(InvalidConfig, match="text_tower 'adapter'"):
        GapConfig(text_tower="adapter")
    with pytest.raises(InvalidConfig, match="text_lr"):
        GapConfig(text_tower="finetune", text_lr=0)


def test_finetune_trains_the_text_tower_and_stores_its_text_of_every_class(small_synthetic, gap_backbone,
                                                                         tiny_bert_folder, tmp_path, monkeypatch):
    from torch import nn

    from zssar.backbones.gap_objective import embed_with_tuned_tower
    from zssar.text.encoders import get_encoder

    monkeypatch.setenv("ZSSAR_BERT_PATH", str(tiny_bert_folder))
    data = small_synthetic
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))
    frozen_config = replace(gap_backbone, gap=replace(TUNED, text_tower="frozen"))
    frozen = pretrain(data, protocol, frozen_config, cache_dir=tmp_path, show_progress=False)
    tuned = pretrain(data, protocol, replace(gap_backbone, gap=TUNED), cache_dir=tmp_path, show_progress=False)
    assert tuned.key != frozen.key and tuned.meta["config"]["gap"]["text_tower"] == "finetune"

    encoder = get_encoder("bert-base-uncased", device="cpu")
    pretrained_weights = encoder.tower().state_dict()
    prompts = GapPrompts(text_bank_for("synthetic", data.class_names), data.layout, TUNED)
    prompts.embed(encoder)
    pretrained_text = prompts.class_text()
    # Frozen: no text weights are trained or stored; every class's text is the pretrained tower's.
    stored = torch.load(tmp_path / "features" / frozen.key / "model.pt", weights_only=True)
    assert not any(k.startswith("text.") for k in stored)
    np.testing.assert_allclose(frozen.features.class_text, pretrained_text, atol=1e-6)
    # Fine-tuned: the tower's weights moved, and are kept in the cache entry.
    stored = torch.load(tmp_path / "features" / tuned.key / "model.pt", weights_only=True)
    tuned_weights = {k[len("text."):]: v for k, v in stored.items() if k.startswith("text.")}
    assert set(tuned_weights) == set(pretrained_weights)
    moved = [k for k, v in pretrained_weights.items() if not torch.equal(v, tuned_weights[k])]
    assert len(moved) > len(pretrained_weights) // 2, f"only {moved} changed"
    # The stored text of every class (the unseen ones too) is the tuned tower's embedding of its prompts.
    tower = copy.deepcopy(encoder.tower())
    tower.load_state_dict(tuned_weights)
    embed_with_tuned_tower(nn.ModuleDict({"text": tower}), prompts)
    np.testing.assert_allclose(tuned.features.class_text, prompts.class_text(), atol=1e-5)
    unseen = list(protocol.unseen)
    assert not np.allclose(tuned.features.class_text[unseen], pretrained_text[unseen], atol=1e-3)
    # The encoder the prompts came from keeps its pretrained weights.
    for k, v in get_encoder("bert-base-uncased", device="cpu").tower().state_dict().items():
        assert torch.equal(v, pretrained_weights[k])
    again = pretrain(data, protocol, replace(gap_backbone, gap=TUNED), cache_dir=tmp_path, show_progress=False)
    assert again.cache_hit
    np.testing.assert_array_equal(again.features.class_text, tuned.features.class_text)


def test_cli_run_objective_gap(small_synthetic, tmp_path, capsys):
    from zssar.cli import main
    from zssar.data.interchange import save_npz

    path = save_npz(small_synthetic, tmp_path / "small.npz")
    args = ["run", "--dataset", f"npz:{path}", "--split", SPLIT, "--method", "gap", "--epochs", "1",
            "--cache", str(tmp_path / "cache"), "--json", "--quiet"]
    assert main(args + ["--objective", "gap"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["objective"] == record["backbone"]["objective"] == "gap" and record["method"] == "gap"
    key = record["backbone_cache"]["key"]
    assert (tmp_path / "cache" / "features" / key / "meta.json").exists()
    meta = json.loads((tmp_path / "cache" / "features" / key / "meta.json").read_text())
    assert meta["config"]["objective"] == "gap"
    with pytest.raises(SystemExit) as exit_info:
        main(args + ["--objective", "softmax"])
    assert exit_info.value.code == 2 and "invalid choice: 'softmax'" in capsys.readouterr().err
