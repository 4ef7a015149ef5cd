"""SkeletonContext: the prompt and its schedule, the network, the losses, scoring, and its language models.

Tiny models throughout: a tiny random BERT saved like bert-base-uncased (its vocabulary the words of the
toy classes' text), random token maps in the NTU layout. One test trains the tied head on the shipped
MiniLM tower, on a few prompts.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from zssar.data.layouts import NTU25
from zssar.errors import InvalidConfig, InvalidData
from zssar.features import FeatureSet
from zssar.methods import skeletoncontext as sc
from zssar.methods.base import make_method
from zssar.methods.context_prompt import (PromptBuilder, draw_masks, draw_own_contexts, masked_count, masking_ratio,
                                          parse_slots, slot_examples, slot_phrase)
from zssar.methods.skeletoncontext_net import SkeletonContextNet
from zssar.text import mlm
from zssar.text.classtext import ClassText
from zssar.text.descriptions import TextBank
from zssar.text.encoders import CachedEncoder
from zssar.text.schema import ClassDescription, PART_KEYS
from zssar.text.towers import BertMaskedLMEncoder
from zssar.utils import one_thread

PLACES = ["kitchen", "office", "garden", "street", "beach", "school", "museum", "station"]
OBJECTS = ["glass", "pen", "ball", "phone", "book", "box", "cup", "rope"]
TARGETS = ["mouth", "paper", "goal", "ear", "shelf", "floor", "table", "friend"]
KEY_PARTS = [("hand", "arm"), ("head",), ("leg", "foot"), ("hip",), ("hand",), ("arm", "leg")]
FAST = dict(epochs=2, width=16, hidden=16, heads=2, contexts_per_class=3, head_epochs=3, negatives=16, batch_size=16)


def _entry(c: int) -> ClassDescription:
    """Class c with three context triples of its own words (no word is shared between classes)."""
    contexts = tuple({"environment": f"the {PLACES[(c + j) % 8]}", "used_object": f"a {OBJECTS[c]}",
                      "target_object": f"the {TARGETS[(c + 2 * j) % 8]}"} for j in range(3))
    return ClassDescription(label=f"action {c}", description=f"a person moves the {OBJECTS[c]} slowly",
                            contexts=contexts, key_parts=KEY_PARTS[c % len(KEY_PARTS)])


ENTRIES = tuple(_entry(c) for c in range(6))


@pytest.fixture(scope="module")
def tiny_bert_folder(tmp_path_factory):
    from test_text_encoders import save_tiny_bert

    words = set()
    for e in ENTRIES:
        for text in sc.context_texts(e, 10) + [e.field("label+description")]:
            words |= set(re.findall(r"\w+|[^\w\s]", text.lower()))
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), sorted(words), layers=2, positions=128)


@pytest.fixture
def text(tiny_bert_folder, tmp_path):
    encoder = CachedEncoder(BertMaskedLMEncoder(path=tiny_bert_folder, device="cpu"), tmp_path / "cache")
    return ClassText(TextBank("toy", ENTRIES, "test"), encoder)


def _features(n_per=8, classes=6, t=4, v=25, c=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per)
    centres = rng.normal(size=(classes, 1, v, c))
    tokens = (centres[y] + 0.5 * rng.normal(size=(len(y), t, v, c))).astype(np.float32)
    return FeatureSet(tokens.mean((1, 2)), tokens, tuple(f"s{i}" for i in range(len(y))), NTU25), y


@pytest.fixture(scope="module")
def fitted(tiny_bert_folder, tmp_path_factory):
    encoder = CachedEncoder(BertMaskedLMEncoder(path=tiny_bert_folder, device="cpu"),
                            tmp_path_factory.mktemp("cache"))
    text = ClassText(TextBank("toy", ENTRIES, "test"), encoder)
    feats, y = _features()
    seen = [0, 1, 2, 3]
    keep = np.isin(y, seen)
    method = make_method("skeletoncontext", **FAST).fit(feats.subset(np.flatnonzero(keep)), y[keep], text.take(seen))
    return method, text, feats, y


# ---------------------------------------------------------------- the prompt
def test_prompt_has_fixed_slots_and_drops_articles(text):
    builder = PromptBuilder(text.tower().tokenizer, width=3)
    tok = builder.tokenizer
    ids, att = builder.masked_prompt()
    words = tok.convert_ids_to_tokens(ids)
    assert words[0] == "[CLS]" and words[-1] == "[SEP]" and words.count("[MASK]") == 9 and att.all()
    assert "environment" in words and "target" in words and builder.positions.shape == (3, 3)
    assert slot_phrase("The Kitchen") == "kitchen" and slot_phrase("a glass of milk") == "glass of milk"
    assert slot_phrase("none") == "none"
    targets = builder.targets(ENTRIES[0].contexts[0])
    assert tok.convert_ids_to_tokens(targets[1]) == ["glass", "[PAD]", "[PAD]"]
    shown, shown_att = builder.prompt(targets, [True, False, True])
    assert list(shown[builder.positions[1]]) == list(targets[1]) and list(shown_att[builder.positions[1]]) == [1, 0, 0]
    assert builder.decode(targets[1]) == "glass"
    assert parse_slots("target_object, environment") == ("environment", "target_object")
    with pytest.raises(InvalidConfig, match="subset"):
        parse_slots("weather")


def test_progressive_masking_schedule():
    assert [masking_ratio(t, 10) for t in (0, 5, 10, 25)] == [0.0, 0.5, 1.0, 1.0]
    assert masking_ratio(0, 0) == 1.0  # without PPM: every slot from the start
    assert [masked_count(r, 3) for r in (0.0, 0.2, 0.34, 0.5, 0.67, 1.0)] == [1, 1, 2, 2, 3, 3]
    gen = torch.Generator().manual_seed(0)
    for ratio in (0.0, 0.5, 1.0):
        masks = draw_masks(ratio, 3, 200, gen)
        assert (masks.sum(1) == masked_count(ratio, 3)).all()
    early = draw_masks(0.0, 3, 600, gen)
    assert (early.float().mean(0) - 1 / 3).abs().max() < 0.08  # which slot is masked is drawn at random


def test_target_contexts_come_from_the_samples_own_class(fitted, monkeypatch):
    method, text, feats, y = fitted
    seen = [0, 1, 2, 3]
    builder = PromptBuilder(method.lm.tokenizer, method.slot_names, method.slot_width)
    own = {k: {tuple(builder.targets(t).ravel()) for t in ENTRIES[c].contexts} for k, c in enumerate(seen)}
    drawn, checked = [], []
    real_draw, real_loss = sc.draw_own_contexts, sc.masked_slot_loss
    monkeypatch.setattr(sc, "draw_own_contexts",
                        lambda pos, counts, gen: drawn.append(pos) or real_draw(pos, counts, gen))

    def loss(lm, h, positions, masks, targets, negatives, gen):
        checked.extend(zip(drawn[-1].tolist(), targets.reshape(len(targets), -1).tolist()))
        return real_loss(lm, h, positions, masks, targets, negatives, gen)

    monkeypatch.setattr(sc, "masked_slot_loss", loss)
    keep = np.flatnonzero(np.isin(y, seen))
    make_method("skeletoncontext", **FAST).fit(feats.subset(keep), y[keep], text.take(seen))
    assert len(checked) == 2 * len(keep)  # every training sample, every epoch
    assert all(tuple(t) in own[k] for k, t in checked)
    counts = torch.tensor([3, 1, 2])
    idx = draw_own_contexts(torch.tensor([0, 1, 2] * 100), counts, torch.Generator().manual_seed(1))
    assert (idx < counts[torch.tensor([0, 1, 2] * 100)]).all() and set(idx[::3].tolist()) == {0, 1, 2}


# ---------------------------------------------------------------- the network and the losses
def test_network_shapes():
    net = SkeletonContextNet(12, 32, 20, width=16, hidden=8, heads=2).eval()
    tokens = torch.randn(5, 4, 25, 12)
    states, pad = torch.randn(5, 7, 32), torch.zeros(5, 7, dtype=torch.bool)
    pad[:, 5] = True
    f_diff = net.joints(tokens)
    assert f_diff.shape == (5, 25, 12)
    assert net.context_features(f_diff, states, pad).shape == (5, 25, 16)
    h = net.context_tokens(f_diff, states, pad)
    assert h.shape == (5, 7, 32) and torch.equal(h, states)  # Up starts at zero: the LM's own states
    k = net.joint_importance(tokens)
    assert k.shape == (5, 4, 25) and torch.allclose(k.sum(-1), torch.ones(5, 4))
    e_c, e_p = net.embed(tokens, states, pad, kpd=True)
    assert e_c.shape == e_p.shape == (5, 20) and torch.allclose(e_c.norm(dim=-1), torch.ones(5))
    plain = SkeletonContextNet(12, 1, 20, dje=False, context_prompt=False)
    assert torch.equal(plain.joints(tokens), tokens.mean(1))
    assert plain.context_features(f_diff, None, None).shape[-1] == 128


class _ToyLM:
    """A masked-LM head over 10 word pieces: logits = states[:, :10]."""

    vocab_size = 10

    def logits(self, states, vocab=None):
        out = states[..., :10]
        return out if vocab is None else out[..., vocab]


def test_mlm_loss_reads_the_masked_slots_only():
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(2, 9, 10)
    positions = torch.tensor([[1, 2], [4, 5], [7, 8]])
    masks = torch.tensor([[True, False, False], [False, True, True]])
    targets = torch.randint(0, 10, (2, 3, 2), generator=gen)
    base = sc.masked_slot_loss(_ToyLM(), h, positions, masks, targets, 0, gen)
    other = targets.clone()
    other[0, 1:], other[1, 0] = (other[0, 1:] + 1) % 10, (other[1, 0] + 3) % 10  # unmasked slots only
    assert torch.equal(sc.masked_slot_loss(_ToyLM(), h, positions, masks, other, 0, gen), base)
    h2 = h.clone()
    h2[0, 4:] += 5.0  # states at sample 0's unmasked slots
    assert torch.equal(sc.masked_slot_loss(_ToyLM(), h2, positions, masks, targets, 0, gen), base)
    moved = targets.clone()
    moved[0, 0, 0] = (moved[0, 0, 0] + 1) % 10  # a masked slot
    assert not torch.equal(sc.masked_slot_loss(_ToyLM(), h, positions, masks, moved, 0, gen), base)
    chosen = masks[:, :, None].expand(-1, -1, 2)
    expected = torch.nn.functional.cross_entropy(h[:, positions][chosen], targets[chosen])
    assert torch.allclose(base, expected)


def test_key_part_prior_from_key_parts():
    prior = sc.key_part_prior(ENTRIES[:3], NTU25)
    groups = NTU25.part_groups("gap6")
    for row, entry in zip(prior, ENTRIES[:3]):
        joints = sorted({j for p in entry.key_parts for j in groups[p]})
        assert np.flatnonzero(row).tolist() == joints and np.isclose(row.sum(), 1.0)
        assert np.allclose(row[joints], 1 / len(joints))
    with pytest.raises(InvalidData, match="no key_parts"):
        sc.key_part_prior([ClassDescription(label="x")], NTU25)
    assert set(PART_KEYS) == set(groups)


# ---------------------------------------------------------------- scoring
def test_scores_read_only_each_candidates_own_text(fitted, tiny_bert_folder, tmp_path):
    method, text, feats, _ = fitted
    full = method.scores(feats, text.take([4, 5, 0])).values
    assert full.shape == (len(feats), 3)
    np.testing.assert_allclose(method.scores(feats, text.take([5])).values[:, 0], full[:, 1], rtol=1e-5, atol=1e-6)
    changed = list(ENTRIES)
    changed[4] = _entry(2)  # another candidate's text changes; class 5's column must not
    other = ClassText(TextBank("toy", tuple(changed), "test"), text.encoder)
    again = method.scores(feats, other.take([4, 5, 0])).values
    np.testing.assert_allclose(again[:, 1:], full[:, 1:], rtol=1e-5, atol=1e-6)
    assert not np.allclose(again[:, 0], full[:, 0])


def test_candidate_permutation_permutes_columns(fitted):
    method, text, feats, _ = fitted
    a = method.scores(feats, text.take([0, 1, 2, 3, 4, 5])).values
    order = [3, 5, 0, 4, 2, 1]
    np.testing.assert_allclose(method.scores(feats, text.take(order)).values, a[:, order], rtol=1e-5, atol=1e-6)


def test_branches_and_their_weight(fitted):
    method, text, feats, _ = fitted
    branches = method.branch_scores(feats, text.take([4, 5]))
    combined = method.scores(feats, text.take([4, 5])).values
    w = method.branch_weight
    np.testing.assert_allclose(combined, w * branches["context"] + (1 - w) * branches["part"], rtol=1e-5, atol=1e-6)
    assert method.selectable() == {"branch_weight": sc.WEIGHT_GRID}
    single = make_method("skeletoncontext", branch="part")
    assert single.selectable() == {}
    with pytest.raises(InvalidConfig, match="branch must be"):
        make_method("skeletoncontext", branch="either")


def test_deterministic_and_seed_dependent(fitted):
    method, text, feats, y = fitted
    keep = np.flatnonzero(np.isin(y, [0, 1, 2, 3]))
    again = make_method("skeletoncontext", **FAST).fit(feats.subset(keep), y[keep], text.take([0, 1, 2, 3]))
    assert again.state_digest() == method.state_digest()
    np.testing.assert_array_equal(again.scores(feats, text.take([4, 5])).values,
                                  method.scores(feats, text.take([4, 5])).values)
    other = make_method("skeletoncontext", **FAST).fit(feats.subset(keep), y[keep], text.take([0, 1, 2, 3]), seed=1)
    assert other.state_digest() != method.state_digest()


def test_reconstruction_and_joint_maps(fitted):
    method, text, feats, _ = fitted
    words = method.reconstruct(feats.subset([0, 1]))
    assert len(words) == 2 and set(words[0]) == {"environment", "used_object", "target_object"}
    assert all(w.strip() and "[PAD]" not in w for row in words for w in row.values())
    maps = method.joint_importance(feats.subset([0, 1, 2]))
    assert maps.shape == (3, 4, 25) and np.allclose(maps.sum(-1), 1, atol=1e-5)
    assert "tied masked-LM head trained here" in method.language_model


# ---------------------------------------------------------------- language models
def test_bert_path_uses_berts_own_masked_lm_head(text, tmp_path):
    bert = text.masked_lm()
    lm = mlm.pretrained_masked_lm(bert)
    ids, att = PromptBuilder(lm.tokenizer).masked_prompt()
    states = lm.states(torch.from_numpy(ids)[None], torch.from_numpy(att)[None])
    with torch.no_grad():
        np.testing.assert_allclose(lm.logits(states).numpy(), bert.mlm_logits(states).numpy(), rtol=1e-5, atol=1e-5)
    method = make_method("skeletoncontext", mlm_head="pretrained", **FAST)
    assert method.needs.masked_lm and not method.needs.tower
    feats, y = _features()
    keep = np.flatnonzero(y < 4)
    method.fit(feats.subset(keep), y[keep], text.take([0, 1, 2, 3]))
    assert "pretrained masked-LM head" in method.language_model and not method.lm.head_weights()
    assert method.scores(feats, text.take([4, 5])).values.shape == (len(feats), 2)
    assert len(method.reconstruct(feats.subset([0]))) == 1


def test_pretrained_head_needs_bert():
    from helpers import class_text_from_vectors

    text = class_text_from_vectors({"label": np.eye(3)})
    with pytest.raises(InvalidConfig, match="bert-base-uncased"):
        text.masked_lm()
    method = make_method("skeletoncontext")
    assert method.needs.tower and not method.needs.masked_lm
    assert not make_method("skeletoncontext", context_prompt=False).needs.tower


def _head_examples(tower):
    builder = PromptBuilder(tower.tokenizer)
    return builder, slot_examples(builder, [e.contexts for e in ENTRIES])


def test_tied_head_is_trained_cached_and_rebuilt_when_damaged(text, tmp_path, monkeypatch):
    tower = text.tower()
    builder, examples = _head_examples(tower)
    lm = mlm.tied_masked_lm(tower, examples, epochs=60, negatives=0, cache_dir=tmp_path, encoder_name="tiny")
    stored = list((tmp_path / "mlm").glob("*.pt"))
    assert len(stored) == 1 and "tied masked-LM head trained here" in lm.label
    untrained = mlm.TiedMLMHead(tower.width, lm.vocab_size)
    before = mlm.MaskedLM(tower, untrained.transform, lm.vocab_weight, untrained.bias, "")
    trained_accuracy = mlm.slot_accuracy(lm, examples, cache_dir=tmp_path)
    assert trained_accuracy > mlm.slot_accuracy(before, examples, cache_dir=tmp_path) + 0.2
    assert torch.equal(lm.vocab_weight, tower.bert.embeddings.word_embeddings.weight)  # tied
    trained = [p.clone() for p in lm.head.parameters()]

    def no_training(*args, **kwargs):
        raise AssertionError("the cached head should have been read")

    monkeypatch.setattr(mlm, "_train_head", no_training)
    again = mlm.tied_masked_lm(tower, examples, epochs=60, negatives=0, cache_dir=tmp_path, encoder_name="tiny")
    assert all(torch.equal(a, b) for a, b in zip(trained, again.head.parameters()))
    monkeypatch.undo()
    stored[0].write_bytes(b"not a checkpoint")  # damaged: trained again and written again
    rebuilt = mlm.tied_masked_lm(tower, examples, epochs=60, negatives=0, cache_dir=tmp_path, encoder_name="tiny")
    assert all(torch.equal(a, b) for a, b in zip(trained, rebuilt.head.parameters()))
    assert mlm._read_head(stored[0], tower.width, lm.vocab_size) is not None
    other = mlm.tied_masked_lm(tower, examples[:-3], epochs=60, negatives=0, cache_dir=tmp_path, encoder_name="tiny")
    assert len(list((tmp_path / "mlm").glob("*.pt"))) == 2 and other.head is not None  # other text, other key


def test_token_states_are_cached_per_row_and_rebuilt_when_damaged(text, tmp_path, two_threads):
    tower = text.tower()
    _, examples = _head_examples(tower)
    rows = [e.ids for e in examples[:5]], [e.attention for e in examples[:5]]
    first = mlm.token_states(tower, *rows, cache_dir=tmp_path)
    files = sorted((tmp_path / "mlm").rglob("*.npy"))
    assert len(files) == len({e.ids.tobytes() + e.attention.tobytes() for e in examples[:5]})
    with one_thread():
        alone = mlm.MaskedLM(tower, None, torch.zeros(0), torch.zeros(0), "").states(
            torch.from_numpy(rows[0][2])[None], torch.from_numpy(rows[1][2])[None])[0].numpy()
    np.testing.assert_array_equal(first[2], alone)  # as if run alone
    files[0].write_bytes(b"\x93NUMPY broken")
    again = mlm.token_states(tower, *rows, cache_dir=tmp_path)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert np.load(files[0]).shape == first[0].shape


def test_minilm_tied_head_learns_slot_words(tmp_path):
    """The offline default: the shipped MiniLM tower with a head tied to its word embeddings."""
    from zssar.text.encoders import MiniLMEncoder

    tower = MiniLMEncoder(device="cpu").tower()
    builder, examples = _head_examples(tower)
    lm = mlm.tied_masked_lm(tower, examples, epochs=30, batch_size=16, negatives=256, cache_dir=tmp_path,
                            encoder_name="minilm")
    assert lm.vocab_size == 30522 and lm.width == 384
    untrained = mlm.TiedMLMHead(tower.width, lm.vocab_size)
    before = mlm.MaskedLM(tower, untrained.transform, lm.vocab_weight, untrained.bias, "")
    words = dict(ignore=(builder.pad_id,), cache_dir=tmp_path)
    assert mlm.slot_accuracy(lm, examples, **words) > mlm.slot_accuracy(before, examples, **words) + 0.1
    (stored,) = (tmp_path / "mlm").glob("*.pt")
    stored.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])  # a truncated entry
    rebuilt = mlm.tied_masked_lm(tower, examples, epochs=30, batch_size=16, negatives=256, cache_dir=tmp_path,
                                 encoder_name="minilm")
    assert all(torch.equal(a, b) for a, b in zip(lm.head.parameters(), rebuilt.head.parameters()))
    assert mlm._read_head(stored, tower.width, lm.vocab_size) is not None  # written again, whole


def test_run_with_bert_and_its_head_end_to_end(tiny_bert_folder, tmp_path, monkeypatch):
    from zssar.backbones.config import BackboneConfig
    from zssar.data.registry import load_dataset
    from zssar.runner import RunConfig, run_experiment

    monkeypatch.setenv("ZSSAR_BERT_PATH", str(tiny_bert_folder))
    data = load_dataset("synthetic", num_subjects=4, repetitions=2, frames=24)
    tiny = BackboneConfig(channels=(8, 16), strides=(1, 2), epochs=1, frames=16, batch_size=16)
    config = RunConfig(split="random:3:seed=2", method="skeletoncontext", encoder="bert-base-uncased", backbone=tiny,
                       cache_dir=str(tmp_path), method_settings={**FAST, "mlm_head": "pretrained"})
    result = run_experiment(config, data=data, show_progress=False)
    assert result.record["method_settings"]["mlm_head"] == "pretrained"
    assert result.record["encoder"] == "bert-base-uncased"
    assert "pretrained masked-LM head" in result.method.language_model
    assert 0 <= result.record["metrics"]["zsl_top1"] <= 1
    refused = RunConfig(split="random:3:seed=2", method="skeletoncontext", backbone=tiny, cache_dir=str(tmp_path),
                        method_settings={"mlm_head": "pretrained"})
    with pytest.raises(InvalidConfig, match="bert-base-uncased"):  # minilm has no masked-LM head of its own
        run_experiment(refused, data=data, show_progress=False)


def test_held_out_slot_accuracy_for_both_heads(text):
    seen = text.take([0, 1, 2, 3])
    for head in ("tied-trained-here", "pretrained"):
        out = sc.held_out_slot_accuracy(seen, held_out=1, mlm_head=head, head_epochs=3, negatives=16)
        assert 0 <= out["held_out_slot_accuracy"] <= 1 and 0 <= out["majority"] <= 1
        assert out["classes"] == 4 and out["slot_words"] >= 4 * 3  # one held-out triple, three slots, each a word
    with pytest.raises(InvalidConfig, match="more than 3"):
        sc.held_out_slot_accuracy(seen, held_out=3)
