"""GAP: its loss, its prompts, GAP pretraining through the cache (frozen or fine-tuned text tower),
the zero-shot method, ``objective`` through the runner and the command line, and its canary."""
import copy
import json
import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from zssar.backbones.pretrain import pretrain
from zssar.backbones.cache import cache_key
from zssar.data.layouts import get_layout
from zssar.data.protocol import build_protocol
from zssar.data.registry import load_dataset
from zssar.data.skeleton import from_arrays
from zssar.data.splits import parse_split
from zssar.errors import InvalidConfig
from zssar.methods.gap_objective import GapConfig, GapObjective, GapPrompts, soft_kl_contrastive
from zssar.runner import RunConfig, class_text_for, run_experiment
from zssar.text.classtext import ClassText
from zssar.text.descriptions import text_bank_for

SPLIT = "random:3:seed=2"
# Fine-tuning runs a tiny random BERT; 2 parts and synonym/label text keep its batches small.
TUNED = dict(partition="2", text="synonyms", text_tower="finetune", text_lr=1e-4)


@pytest.fixture(scope="module")
def small_synthetic():
    """Synthetic classes have synonyms and part descriptions, which GAP's prompts read."""
    return load_dataset("synthetic", num_subjects=4, repetitions=2, frames=24)


@pytest.fixture
def shift_backbone(tiny_backbone):
    return replace(tiny_backbone, name="shiftgcn")


@pytest.fixture(scope="module")
def tiny_bert_folder(tmp_path_factory, small_synthetic):
    """A tiny random BERT saved like bert-base-uncased, its vocabulary the words of the GAP prompts."""
    from test_text_encoders import save_tiny_bert

    bank = text_bank_for("synthetic", small_synthetic.class_names)
    text = ClassText(bank, None)
    strings = GapPrompts(text, small_synthetic.layout, GapConfig(partition="6")).strings()
    words = sorted({w for s in strings for w in re.findall(r"\w+|[^\w\s]", s.lower())})
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), words, layers=2, positions=128)


def _objective(data, protocol, tmp_path, encoder="minilm", **settings):
    text = class_text_for(RunConfig(encoder=encoder, cache_dir=str(tmp_path)), data)
    return GapObjective(settings, text.take(protocol.seen), data.layout)


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
    text = ClassText(bank, None)
    p4 = GapPrompts(text, layout, GapConfig(partition="4", text="both"))
    assert p4.streams == ("global", "head", "hand_arm", "hip", "leg_foot")
    assert p4.fixed["global"] is None  # a synonym is sampled per sample
    assert p4.fixed["hip"][0] == f"{bank.classes[0].label}: {bank.strings('gap4.hip')[0]}"
    p2 = GapPrompts(text, layout, GapConfig(partition="2", text="label"))
    assert p2.streams == ("global", "upper", "lower") and p2.fixed["upper"] == bank.strings("label")
    assert GapPrompts(text, layout, GapConfig(partition="global")).streams == ("global",)
    six = GapPrompts(text, layout, GapConfig(partition="6", text="parts"))
    assert len(six.streams) == 7 and six.fixed["global"] == bank.strings("label")
    # prompts of a subset of classes are those classes' rows, in the subset's order
    sub = GapPrompts(text.take([5, 2]), layout, GapConfig(partition="4"))
    assert sub.fixed["hip"] == [p4.fixed["hip"][5], p4.fixed["hip"][2]]
    label_only = ClassText(text_bank_for("mine", names, text="label"), None)
    with pytest.raises(InvalidConfig, match="GAP part text needs"):
        GapPrompts(label_only, layout, GapConfig(text="both"))
    with pytest.raises(InvalidConfig, match="partition"):
        GapConfig(partition="5")


def test_gap_pretraining_keeps_its_heads_with_the_features(small_synthetic, shift_backbone, tmp_path):
    data = small_synthetic
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))
    plain = pretrain(data, protocol, shift_backbone, cache_dir=tmp_path, show_progress=False)
    objective = _objective(data, protocol, tmp_path, partition="4")
    gap = pretrain(data, protocol, shift_backbone, cache_dir=tmp_path, show_progress=False, objective=objective)
    assert plain.features.objective is None and gap.key != plain.key
    state = gap.features.objective
    assert state.name == "gap" and state.settings["partition"] == "4"
    assert [k for k in state.weights if k.endswith("weight")] == [f"heads.{i}.weight" for i in range(5)]
    assert state.weights["heads.0.weight"].shape == (384, shift_backbone.channels[-1])
    assert gap.features.layout is data.layout
    again = pretrain(data, protocol, shift_backbone, cache_dir=tmp_path, show_progress=False,
                     objective=_objective(data, protocol, tmp_path, partition="4"))
    assert again.cache_hit and again.features.objective.name == "gap"
    for k, v in state.weights.items():
        np.testing.assert_array_equal(again.features.objective.weights[k], v)
    sub = again.features.subset([3, 1])
    assert sub.objective is again.features.objective and len(sub) == 2
    stored = torch.load(tmp_path / "features" / gap.key / "model.pt", weights_only=True)
    assert any(k.startswith("objective.heads.") for k in stored) and any(k.startswith("backbone.") for k in stored)
    # the objective reads the seen classes' text only: another unseen class text, the same key
    bank = text_bank_for("synthetic", data.class_names)
    entries = list(bank.classes)
    for c in protocol.unseen:
        entries[c] = replace(entries[c], description="something else entirely")
    other = ClassText(replace(bank, classes=tuple(entries)), objective.text.encoder)
    assert cache_key(data, protocol, shift_backbone, 0, GapObjective({"partition": "4"}, other.take(protocol.seen),
                                                                    data.layout)) == gap.key


def _permuted(data):
    test_idx = build_protocol(data, parse_split(SPLIT, data.num_classes)).views["unseen_test"]
    labels = data.labels.copy()
    labels[test_idx] = np.random.default_rng(0).permutation(labels[test_idx])
    assert (labels != data.labels).any()
    return from_arrays(data.x, labels, data.class_names, data.layout, subjects=data.subjects,
                       views=data.views, lengths=data.lengths, sample_ids=data.sample_ids, name=data.name)


@pytest.mark.parametrize("variant", ["gap", "ce", "gap-finetune"])
def test_leak_canary(variant, small_synthetic, shift_backbone, tiny_bert_folder, tmp_path, monkeypatch):
    """Method gap through run_experiment with ``RunConfig.objective``: GAP-trained heads (frozen or
    fine-tuned text tower) from the features, or heads fitted on a cross-entropy backbone's features."""
    objective = variant.split("-")[0]
    settings, encoder = {"partition": "4"}, "minilm"
    if variant == "gap-finetune":
        monkeypatch.setenv("ZSSAR_BERT_PATH", str(tiny_bert_folder))
        settings, encoder = TUNED, "bert-base-uncased"
    method_settings = {"epochs": 3, "partition": settings["partition"], "text": settings.get("text", "both")}
    config = RunConfig(dataset="synthetic", split=SPLIT, method="gap", cache_dir=str(tmp_path), encoder=encoder,
                       backbone=shift_backbone, objective=objective,
                       objective_settings=settings if objective == "gap" else {}, method_settings=method_settings)
    a = run_experiment(config, data=small_synthetic, show_progress=False)
    b = run_experiment(config, data=_permuted(small_synthetic), show_progress=False)
    assert a.record["objective"] == objective
    assert (a.record["objective_settings"].get("text_tower") == "finetune") == (variant == "gap-finetune")
    assert a.record["backbone_cache"]["key"] != b.record["backbone_cache"]["key"]
    assert (a.pretrained.features.objective is not None) == (objective == "gap")
    np.testing.assert_array_equal(a.pretrained.features.tokens, b.pretrained.features.tokens)
    assert a.record["selected"] == b.record["selected"]
    assert a.method.state_digest() == b.method.state_digest() != "unfitted"
    for name in a.predictions:
        np.testing.assert_array_equal(a.predictions[name], b.predictions[name])
    for name in a.scores:
        np.testing.assert_array_equal(a.scores[name], b.scores[name])
    assert 0.0 <= a.record["metrics"]["zsl_top1"] <= 1.0


def test_gap_method_scores_with_the_heads_trained_with_the_backbone(small_synthetic, shift_backbone, tmp_path):
    from zssar.methods.base import make_method

    data = small_synthetic
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))
    objective = _objective(data, protocol, tmp_path, partition="4")
    feats = pretrain(data, protocol, shift_backbone, cache_dir=tmp_path, show_progress=False,
                     objective=objective).features
    text = class_text_for(RunConfig(cache_dir=str(tmp_path)), data)
    method = make_method("gap", part_weight=0.0)
    train = protocol.views["seen_train"]
    method.fit(feats.subset(train), data.labels[train], text.take(protocol.seen))
    scores = method.scores(feats.subset([0, 1]), text.take(protocol.unseen)).values
    # by hand: the global head on the pooled feature against the mean of each unseen class's synonyms
    w, bias = feats.objective.weights["heads.0.weight"], feats.objective.weights["heads.0.bias"]
    g = feats.pooled[[0, 1]] @ w.T + bias
    g /= np.linalg.norm(g, axis=-1, keepdims=True)
    prompts = GapPrompts(text.take(protocol.unseen), data.layout, GapConfig(partition="4"))
    prompts.embed(text.encode)
    np.testing.assert_allclose(scores, g @ prompts.class_text()[:, 0].T, rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidConfig, match="part_weight"):
        make_method("gap", part_weight=-1)
    with pytest.raises(InvalidConfig, match="partition '4'.*--set partition=4"):
        make_method("gap", partition="6").fit(feats.subset(train), data.labels[train], text.take(protocol.seen))


def test_cache_key_counts_text_tower_and_text_lr(small_synthetic, shift_backbone, tmp_path):
    data = small_synthetic
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))

    def key(**settings):
        return cache_key(data, protocol, shift_backbone, 0, _objective(data, protocol, tmp_path, **settings))

    frozen = key()
    assert key(text_lr=1e-3) == frozen  # a frozen tower trains no text weights
    tuned = key(text_tower="finetune")
    assert tuned != frozen and key(text_tower="finetune", text_lr=1e-4) != tuned
    assert key(partition="6") != frozen
    assert GapConfig().text_lr == 1e-5
    with pytest.raises(InvalidConfig, match="text_tower 'adapter'"):
        GapConfig(text_tower="adapter")
    with pytest.raises(InvalidConfig, match="text_lr"):
        GapConfig(text_tower="finetune", text_lr=0)


def test_finetune_trains_the_text_tower_and_scores_every_class_with_it(small_synthetic, shift_backbone,
                                                                       tiny_bert_folder, tmp_path, monkeypatch):
    from zssar.methods.base import make_method
    from zssar.text.encoders import get_encoder

    monkeypatch.setenv("ZSSAR_BERT_PATH", str(tiny_bert_folder))
    data = small_synthetic
    protocol = build_protocol(data, parse_split(SPLIT, data.num_classes))
    frozen = pretrain(data, protocol, shift_backbone, cache_dir=tmp_path, show_progress=False,
                      objective=_objective(data, protocol, tmp_path, "bert-base-uncased",
                                           **{**TUNED, "text_tower": "frozen"}))
    tuned = pretrain(data, protocol, shift_backbone, cache_dir=tmp_path, show_progress=False,
                     objective=_objective(data, protocol, tmp_path, "bert-base-uncased", **TUNED))
    assert tuned.key != frozen.key and tuned.meta["objective"]["settings"]["text_tower"] == "finetune"

    encoder = get_encoder("bert-base-uncased", device="cpu")
    pretrained_weights = encoder.tower().state_dict()
    # Frozen: no text weights are trained or kept with the features.
    assert not any(k.startswith("text.") for k in frozen.features.objective.weights)
    # Fine-tuned: the tower's weights moved, and are kept with the features and in the cache entry.
    tuned_weights = {k[len("text."):]: v for k, v in tuned.features.objective.weights.items() if k.startswith("text.")}
    assert set(tuned_weights) == set(pretrained_weights)
    moved = [k for k, v in pretrained_weights.items() if not np.array_equal(v.numpy(), tuned_weights[k])]
    assert len(moved) > len(pretrained_weights) // 2, f"only {moved} changed"
    stored = torch.load(tmp_path / "features" / tuned.key / "model.pt", weights_only=True)
    assert any(k.startswith("objective.text.") for k in stored)
    # The method embeds every candidate's prompts (the unseen ones too) with the tuned tower, at scoring.
    text = class_text_for(RunConfig(encoder="bert-base-uncased", cache_dir=str(tmp_path)), data)
    method = make_method("gap", partition="2", text="synonyms")
    train = protocol.views["seen_train"]
    method.fit(tuned.features.subset(train), data.labels[train], text.take(protocol.seen))
    tower = copy.deepcopy(encoder.tower())
    tower.load_state_dict({k: torch.from_numpy(v) for k, v in tuned_weights.items()})
    unseen = text.take(protocol.unseen)
    tuned_prompts = GapPrompts(unseen, data.layout, GapConfig(**TUNED))
    tuned_prompts.embed(lambda s: torch.nn.functional.normalize(tower.eval()(s).embedding, dim=-1).detach().numpy())
    frozen_prompts = GapPrompts(unseen, data.layout, GapConfig(**TUNED))
    frozen_prompts.embed(unseen.encode)
    np.testing.assert_allclose(method._encoder(unseen)(tuned_prompts.flat_synonyms), tuned_prompts.synonym_vectors,
                               atol=1e-5)
    assert not np.allclose(tuned_prompts.class_text(), frozen_prompts.class_text(), atol=1e-3)
    # The encoder the prompts came from keeps its pretrained weights.
    for k, v in get_encoder("bert-base-uncased", device="cpu").tower().state_dict().items():
        assert torch.equal(v, pretrained_weights[k])
    again = pretrain(data, protocol, shift_backbone, cache_dir=tmp_path, show_progress=False,
                     objective=_objective(data, protocol, tmp_path, "bert-base-uncased", **TUNED))
    assert again.cache_hit
    for k, v in tuned.features.objective.weights.items():
        np.testing.assert_array_equal(again.features.objective.weights[k], v)


def test_cli_run_objective_gap(small_synthetic, tmp_path, capsys):
    from zssar.cli import main
    from zssar.data.interchange import save_npz

    path = save_npz(small_synthetic, tmp_path / "small.npz")
    args = ["run", "--dataset", f"npz:{path}", "--split", SPLIT, "--method", "gap", "--epochs", "1",
            "--cache", str(tmp_path / "cache"), "--json", "--quiet"]
    assert main(args + ["--objective", "gap", "--objective-set", "weight=0.5"]) == 0
    record = json.loads(capsys.readouterr().out)["records"][0]
    assert record["objective"] == "gap" and record["method"] == "gap"
    assert record["objective_settings"]["weight"] == 0.5 and record["objective_settings"]["partition"] == "4"
    key = record["backbone_cache"]["key"]
    meta = json.loads((tmp_path / "cache" / "features" / key / "meta.json").read_text())
    assert meta["objective"]["name"] == "gap"
    with pytest.raises(SystemExit) as exit_info:
        main(args + ["--objective", "softmax"])
    assert exit_info.value.code == 2 and "invalid choice: 'softmax'" in capsys.readouterr().err
