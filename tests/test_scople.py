"""SCoPLe on tiny random towers: dual-stream mixing, frozen towers, per-candidate scoring, settings.

Text towers: a tiny random BERT (2 blocks, width 32, saved like bert-base-uncased) and open_clip's
ViT-B-32 text tower with random weights; nothing is downloaded.
"""
import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import toy_entry
from zssar.data.layouts import NTU25
from zssar.errors import InvalidConfig
from zssar.features import FeatureSet
from zssar.methods.base import make_method
from zssar.text.classtext import ClassText
from zssar.text.descriptions import TextBank
from zssar.text.dual_stream import LanguagePrompts, PromptedText, dual_stream, state_scales
from zssar.text.towers import BertMaskedLMEncoder, ClipTextEncoder

LABELS = ["raise left arm", "wave right hand", "kick ball", "sit down", "stand up", "drink water from cup",
          "clap", "jump high up"]
K, T, V, C = len(LABELS), 4, 25, 8
SEEN, UNSEEN = list(range(6)), [6, 7]
SMALL = dict(epochs=3, hidden=32, attention_dim=8, batch_size=16, prompt_depth=2, text_prompts=2,
             skeleton_prompts=3)


def _bank(labels):
    return TextBank("toy", tuple(replace(toy_entry(c), label=name) for c, name in enumerate(labels)), "test")


def save_tiny_bert(folder, words, layers: int = 2):
    """A tiny random BERT masked LM with a word-level vocabulary, saved like bert-base-uncased."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    BertTokenizerFast(vocab=str(folder / "vocab.txt")).save_pretrained(folder)  # vocab=: every word its own id
    with torch.random.fork_rng():
        torch.manual_seed(0)
        config = BertConfig(vocab_size=5 + len(words), hidden_size=32, num_hidden_layers=layers,
                            num_attention_heads=4, intermediate_size=64, max_position_embeddings=32)
        BertForMaskedLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    words = sorted({w for t in LABELS + ["throw a stone"] for w in t.split()})
    encoder = BertMaskedLMEncoder(save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), words), device="cpu")
    assert (encoder.tower().tokenize(["kick ball"]).ids[0, 1:3] > 4).all()  # real word ids, not [UNK]
    return encoder


@pytest.fixture(scope="module")
def clip():
    import open_clip

    torch.manual_seed(0)
    return ClipTextEncoder("clip-vit-b-32", model=open_clip.create_model("ViT-B-32", pretrained=None), device="cpu")


@pytest.fixture(scope="module")
def toy(bert):
    """Class c lights up a class pattern on its own joints; the text is the class label."""
    rng = np.random.default_rng(0)
    pattern, joints = rng.normal(size=(K, C)), [rng.choice(V, size=5, replace=False) for _ in range(K)]
    y = np.repeat(np.arange(K), 10)
    tokens = rng.normal(scale=0.3, size=(len(y), T, V, C))
    for i, c in enumerate(y):
        tokens[i][:, joints[c]] += pattern[c]
    feats = FeatureSet(tokens.mean((1, 2)).astype(np.float32), tokens.astype(np.float32),
                       tuple(str(i) for i in range(len(y))), NTU25)
    return feats, y, ClassText(_bank(LABELS), bert)


def _fit(toy, **settings):
    feats, y, text = toy
    train = np.flatnonzero(np.isin(y, SEEN) & (np.arange(len(y)) % 3 != 0))
    val = np.flatnonzero(np.isin(y, SEEN) & (np.arange(len(y)) % 3 == 0))
    method = make_method("scople", **{**SMALL, **settings})
    return method.fit(feats.subset(train), y[train], text.take(SEEN), val=(feats.subset(val), y[val]), seed=0)


@pytest.fixture(scope="module")
def fitted(toy):
    return _fit(toy)


def _random_prompts(tower, layers, count=3):
    g = torch.Generator().manual_seed(1)
    return {i: torch.randn(count, tower.width, generator=g) * 0.5 for i in layers}


@pytest.mark.parametrize("which", ["bert", "clip"])
def test_alpha_zero_is_the_plain_tower_and_alpha_one_the_prompted_stream(which, request):
    tower = request.getfixturevalue(which).tower().eval()
    batch = tower.tokenize(LABELS[:4])
    prompts = _random_prompts(tower, [0, 1])
    with torch.no_grad():
        plain = tower(batch).embedding
        prompted = tower(batch, prompts=prompts).embedding
        zero = dual_stream(tower, batch, prompts, torch.zeros(tower.num_layers)).embedding
        one = dual_stream(tower, batch, prompts, torch.ones(tower.num_layers)).embedding
        half = dual_stream(tower, batch, prompts, torch.full((tower.num_layers,), 0.5)).embedding
    torch.testing.assert_close(zero, plain, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(one, prompted, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(prompted, plain, atol=1e-4)  # the prompts change the output
    assert not torch.allclose(half, plain, atol=1e-5) and not torch.allclose(half, prompted, atol=1e-5)
    with pytest.raises(InvalidConfig, match="one per block"):
        dual_stream(tower, batch, prompts, torch.zeros(tower.num_layers + 1))


@pytest.mark.parametrize("mode", ["coop", "deep", "dual"])
def test_each_language_prompting_changes_the_embedding_and_gets_gradients(mode, bert):
    tower = copy.deepcopy(bert.tower()).eval()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        prompts = LanguagePrompts(mode, tower.width, tower.num_layers, state_scales(tower, tower.tokenize(LABELS)),
                                  num_prompts=2, depth=2)
    encoder = PromptedText(tower, prompts)
    encoder.prepare(LABELS)
    emb = encoder.train_rows([0, 2, 5])
    emb.sum().backward()
    plain = torch.from_numpy(bert.encode([LABELS[i] for i in (0, 2, 5)]))
    assert not torch.allclose(emb.detach(), plain, atol=1e-3)
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in prompts.theta)
    has_alphas = prompts.alpha_logits is not None and prompts.alpha_logits.grad.abs().sum() > 0
    assert has_alphas == (mode == "dual")
    assert all(p.grad is None for p in tower.parameters())  # the tower is frozen
    assert prompts.layers == ((0,) if mode == "coop" else (0, 1))
    # the same texts at scoring (no padding, each as if alone) match the training rows
    torch.testing.assert_close(encoder.embed([LABELS[i] for i in (0, 2, 5)]), emb.detach(), atol=1e-5, rtol=1e-5)


def test_fit_trains_prompts_and_alphas_and_leaves_every_tower_weight_as_it_was(toy, fitted, bert):
    before = {k: v.clone() for k, v in bert.tower().state_dict().items()}
    method = _fit(toy)
    trained_tower = method.text_encoder.tower
    assert trained_tower is not bert.tower()  # a copy of the run's tower
    for name, value in trained_tower.state_dict().items():
        torch.testing.assert_close(value, before[name], atol=0, rtol=0)
    for name, value in bert.tower().state_dict().items():
        torch.testing.assert_close(value, before[name], atol=0, rtol=0)
    assert not any(p.requires_grad for p in trained_tower.parameters())
    assert len(method.alphas()) == 2 and not np.allclose(method.alphas(), 0.5)  # alphas moved
    assert method.history[-1]["train_loss"] < method.history[0]["train_loss"]
    feats, y, text = toy
    held_out = np.flatnonzero(np.isin(y, SEEN) & (np.arange(len(y)) % 3 == 0))
    pred = np.argmax(method.scores(feats.subset(held_out), text.take(SEEN)).values, 1)
    assert np.mean(pred == y[held_out]) > 1 / len(SEEN)


def test_scoring_a_candidate_needs_only_its_own_text(toy, fitted, bert):
    feats, _, text = toy
    full = fitted.scores(feats, text).values
    np.testing.assert_allclose(fitted.scores(feats, text.take([7])).values, full[:, [7]], atol=1e-5)
    np.testing.assert_allclose(fitted.scores(feats, text.take([6, 1])).values, full[:, [6, 1]], atol=1e-5)
    other = ClassText(_bank(LABELS[:7] + ["throw a stone"]), bert)  # class 7 says something else
    changed = fitted.scores(feats, other).values
    np.testing.assert_allclose(changed[:, :7], full[:, :7], atol=1e-5)
    assert not np.allclose(changed[:, 7], full[:, 7], atol=1e-4)


def test_candidate_permutation_permutes_columns(toy, fitted):
    feats, _, text = toy
    perm = np.random.default_rng(1).permutation(K)
    np.testing.assert_allclose(fitted.scores(feats, text.take(perm)).values, fitted.scores(feats, text).values[:, perm],
                               atol=1e-5)


def test_same_seed_same_weights_other_seed_other_weights(toy, fitted):
    assert _fit(toy).state_digest() == fitted.state_digest()
    feats, y, text = toy
    train = np.flatnonzero(np.isin(y, SEEN))
    other = make_method("scople", **SMALL).fit(feats.subset(train), y[train], text.take(SEEN), seed=1)
    assert other.state_digest() != fitted.state_digest()


def test_sampler_weights_are_a_distribution_over_joints_and_prompts(toy, fitted):
    feats, _, text = toy
    w = fitted.sampler_weights(feats.subset([0, 1]), text.take(UNSEEN))
    assert w.shape == (2, 2, V + 3)
    np.testing.assert_allclose(w.sum(-1), 1, atol=1e-5)
    assert fitted.row_names(NTU25)[-3:] == ["P1", "P2", "P3"]
    uniform = _fit(toy, epochs=1, skeleton_prompt="joints").sampler_weights(feats.subset([0]), text.take(UNSEEN))
    np.testing.assert_allclose(uniform, 1 / (V + 3))


@pytest.mark.parametrize("text_prompt,skeleton_prompt", [("coop", "none"), ("deep", "none"), ("dual", "none"),
                                                         ("deep", "joints+sampler"), ("dual", "joints"),
                                                         ("none", "joints+sampler")])
def test_every_table_row_is_a_setting_that_fits_and_scores(toy, text_prompt, skeleton_prompt):
    feats, _, text = toy
    method = _fit(toy, epochs=1, text_prompt=text_prompt, skeleton_prompt=skeleton_prompt)
    assert method.needs.tower == (text_prompt != "none")
    assert method.scores(feats.subset([0, 1, 2]), text.take(UNSEEN)).values.shape == (3, 2)
    assert (method.alphas() is not None) == (text_prompt == "dual")


def test_the_clip_tower_path_with_random_weights(clip):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(K), 4)
    tokens = rng.normal(size=(len(y), T, V, C)).astype(np.float32)
    feats = FeatureSet(tokens.mean((1, 2)), tokens, tuple(map(str, range(len(y)))), NTU25)
    text = ClassText(_bank(LABELS), clip)
    seen = np.flatnonzero(np.isin(y, SEEN))
    method = make_method("scople", **{**SMALL, "epochs": 1})
    method.fit(feats.subset(seen), y[seen], text.take(SEEN), seed=0)
    assert len(method.alphas()) == 12  # one per block of CLIP's text tower
    out = method.scores(feats, text.take(UNSEEN))
    assert out.values.shape == (len(y), 2) and np.isfinite(out.values).all()
    np.testing.assert_allclose(method.scores(feats, text.take([7])).values, out.values[:, [1]], atol=1e-5)


def test_settings_are_checked_with_messages_that_say_what_to_do(toy):
    with pytest.raises(InvalidConfig, match="text_prompt must be one of"):
        make_method("scople", text_prompt="maple")
    with pytest.raises(InvalidConfig, match="skeleton_prompt must be one of"):
        make_method("scople", skeleton_prompt="parts")
    with pytest.raises(InvalidConfig, match="global method with text_field='label'"):
        make_method("scople", text_prompt="none", skeleton_prompt="none")
    with pytest.raises(InvalidConfig, match="alpha_init"):
        make_method("scople", alpha_init=0.0)
    with pytest.raises(InvalidConfig, match="prompt_depth 5 but the .* tower has 2 blocks"):
        _fit(toy, prompt_depth=5)
    with pytest.raises(InvalidConfig, match="has no setting"):
        make_method("scople", depth=2)
    with pytest.raises(RuntimeError, match="fit the method"):
        make_method("scople").scores(toy[0], toy[2])
