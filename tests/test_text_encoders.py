"""Text encoders and the deep-prompt interface.

MiniLM runs with its shipped weights; CLIP (open_clip ViT-B-32) and BERT (a tiny config) run with
random weights, so nothing is downloaded.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from zssar.errors import CheckpointNotFound, InvalidConfig
from zssar.text.encoders import CachedEncoder, MiniLMEncoder, get_encoder
from zssar.text.towers import BertMaskedLMEncoder, ClipTextEncoder

TEXTS = ["drink water", "a person kicks a ball with the right foot", "wave both hands above the head"]


def _cos(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def minilm():
    return MiniLMEncoder(device="cpu")


@pytest.fixture(scope="module")
def clip():
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    return ClipTextEncoder("clip-vit-b-32", model=model, device="cpu")


@pytest.fixture(scope="module")
def tiny_bert_folder(tmp_path_factory):
    words = sorted({w for t in TEXTS for w in t.split()} | {"a", "the", "person"})
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), words, layers=3, positions=64)


def save_tiny_bert(folder, words, layers: int, positions: int):
    """A tiny random BERT masked LM and its word-level vocabulary saved like bert-base-uncased."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(folder / "vocab.txt"))  # vocab_file= is ignored by transformers 5
    assert tokenizer.convert_tokens_to_ids(words[:1]) == [5], "the tiny vocabulary was not read"
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=5 + len(words), hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=positions)
    BertForMaskedLM(config).save_pretrained(folder)
    return folder


def test_minilm_puts_drink_water_near_its_description(minilm):
    from zssar.classnames import NTU120_CLASSES
    from zssar.text.descriptions import text_bank_for

    bank = text_bank_for("ntu120", NTU120_CLASSES)
    drink = bank.strings("description")[NTU120_CLASSES.index("drink water")]
    kick = bank.strings("description")[NTU120_CLASSES.index("kicking something")]
    name, own, other, kick_name = minilm.encode(["drink water", drink, kick, "kick something"])
    assert _cos(name, own) > _cos(name, kick_name)
    assert _cos(name, own) > _cos(name, other)


def test_a_text_encodes_to_the_same_bits_alone_or_in_any_batch(minilm, two_threads):
    import torch

    # one-word texts (3 tokens with [CLS] and [SEP]) are the case where batches of equal length differed
    texts = [f"a person {verb} {how}" for verb in ("waves", "claps", "jumps", "kicks", "sits")
             for how in ("slowly", "then stops", "with both hands")] + ["walk", "throw", "clap", "bend", "x"]
    together = minilm.encode(texts)
    alone = np.stack([minilm.encode([t])[0] for t in texts])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(minilm.encode(texts[::-1]), together[::-1])
    assert torch.get_num_threads() == 2  # the caller's thread count is restored


def test_a_cached_text_is_the_same_whatever_was_encoded_with_it_or_before_it(minilm, tmp_path):
    words = ["walk", "throw", "clap", "bend", "drink", "push", "pull"]
    batched = CachedEncoder(minilm, tmp_path / "a").encode(words)
    one_by_one = CachedEncoder(minilm, tmp_path / "b")
    alone = np.stack([one_by_one.encode([w])[0] for w in words])
    np.testing.assert_array_equal(batched, alone)
    reread = CachedEncoder(minilm, tmp_path / "a")
    np.testing.assert_array_equal(reread.encode(words[::-1]), batched[::-1])
    assert reread.hits == len(words) and reread.misses == 0


def test_minilm_tower_zero_length_prompts_equal_plain_output(minilm):
    tower = minilm.tower()
    with torch.no_grad():
        out = tower(TEXTS, prompts={0: torch.zeros(0, tower.width), 3: torch.zeros(0, tower.width)})
    got = torch.nn.functional.normalize(out.embedding, dim=-1).numpy()
    np.testing.assert_allclose(got, minilm.encode(TEXTS), atol=1e-5)


def test_minilm_tower_prompts_change_output_and_states_are_exposed(minilm):
    tower = minilm.tower()
    torch.manual_seed(1)
    p0, p3 = torch.randn(4, tower.width), torch.randn(4, tower.width)
    seen = []
    with torch.no_grad():
        plain = tower(TEXTS).embedding
        first = tower(TEXTS, prompts={0: p0}, return_states=True, hook=lambda i, h, n: seen.append((i, n)))
        deeper = tower(TEXTS, prompts={0: p0, 3: p3}).embedding
        per_text = tower(TEXTS, prompts={0: p0.expand(len(TEXTS), -1, -1).clone()}).embedding
    assert not torch.allclose(first.embedding, plain, atol=1e-4)
    assert not torch.allclose(deeper, first.embedding, atol=1e-4)
    torch.testing.assert_close(per_text, first.embedding)
    assert len(first.states) == tower.num_layers + 1 and first.num_prompts == 4
    assert first.states[1].shape[1] == first.tokens.shape[1] + 4  # prompts sit inside the sequence
    assert seen == [(i, 4) for i in range(tower.num_layers)]


def test_prompts_get_gradients(minilm):
    tower = minilm.tower()
    p = torch.zeros(2, tower.width, requires_grad=True)
    tower(TEXTS[:2], prompts={1: p}).embedding.sum().backward()
    assert p.grad is not None and p.grad.abs().sum() > 0


def test_bad_prompts_are_rejected(minilm):
    tower = minilm.tower()
    with pytest.raises(InvalidConfig, match="layer 9"):
        tower(TEXTS, prompts={9: torch.zeros(1, tower.width)})
    with pytest.raises(InvalidConfig, match="shape"):
        tower(TEXTS, prompts={0: torch.zeros(1, 7)})


def test_clip_tower_random_weights(clip):
    import open_clip

    tower = clip.tower()
    tokens = open_clip.get_tokenizer("ViT-B-32")(TEXTS)
    with torch.no_grad():
        plain = tower.model.encode_text(tokens)
        zero = tower(TEXTS, prompts={0: torch.zeros(0, tower.width)}).embedding
        torch.manual_seed(2)
        prompted = tower(TEXTS, prompts={0: torch.randn(2, tower.width), 5: torch.randn(2, tower.width)},
                         return_states=True)
    torch.testing.assert_close(zero, plain, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(prompted.embedding, plain, atol=1e-3)
    assert len(prompted.states) == tower.num_layers + 1 == 13
    emb = clip.encode(TEXTS)
    assert emb.shape == (3, 512) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)


def test_clip_missing_checkpoint_names_the_file(tmp_path, monkeypatch):
    for var in ("ZSSAR_CLIP_VIT_B_32", "ZSSAR_CLIP_VIT_L_14_336", "ZSSAR_CLIP_CHECKPOINT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(CheckpointNotFound, match=r"ViT-B-32\.pt.*ZSSAR_CLIP_VIT_B_32"):
        get_encoder("clip-vit-b-32")
    with pytest.raises(CheckpointNotFound, match=r"ViT-L-14-336px\.pt"):
        get_encoder("clip-vit-l-14-336")
    monkeypatch.setenv("ZSSAR_CLIP_CHECKPOINT", str(tmp_path / "nope.pt"))
    with pytest.raises(CheckpointNotFound, match="nope.pt does not exist"):
        get_encoder("clip-vit-b-32")


def test_bert_masked_lm_from_a_saved_folder(tiny_bert_folder, monkeypatch):
    monkeypatch.setenv("ZSSAR_BERT_PATH", str(tiny_bert_folder))
    enc = get_encoder("bert-base-uncased", device="cpu")
    tower = enc.tower()
    batch = tower.tokenize(TEXTS)
    with torch.no_grad():
        hidden = enc.mlm.bert(input_ids=batch.ids, attention_mask=batch.mask).last_hidden_state
        m = batch.mask.unsqueeze(-1).float()
        plain = (hidden * m).sum(1) / m.sum(1)
        out = tower(TEXTS, prompts={0: torch.zeros(0, tower.width)})
        prompted = tower(TEXTS, prompts={1: torch.randn(3, tower.width)})
        logits = enc.mlm_logits(out.tokens)
    torch.testing.assert_close(out.embedding, plain, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(prompted.embedding, plain, atol=1e-4)
    assert logits.shape == (*out.tokens.shape[:2], enc.mlm.config.vocab_size)
    assert enc.encode(TEXTS).shape == (3, 32) and enc.cache_key.startswith("bert-base-uncased-")


def test_bert_missing_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("ZSSAR_BERT_PATH", raising=False)
    with pytest.raises(CheckpointNotFound, match="config.json.*ZSSAR_BERT_PATH"):
        BertMaskedLMEncoder()
    with pytest.raises(CheckpointNotFound, match="has no config.json"):
        BertMaskedLMEncoder(tmp_path)


def test_unknown_encoder():
    with pytest.raises(InvalidConfig, match="minilm"):
        get_encoder("word2vec")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no GPU on this machine"))])
def test_cached_encoder_on_device(tmp_path, device):
    enc = CachedEncoder(MiniLMEncoder(device=device), tmp_path)
    first = enc.encode(TEXTS + TEXTS[:1])
    assert (enc.misses, enc.hits) == (4, 0)
    again = enc.encode(TEXTS)
    assert enc.hits == 3
    np.testing.assert_array_equal(again, first[:3])
    np.testing.assert_allclose(first[:3], MiniLMEncoder(device="cpu").encode(TEXTS), atol=1e-4)
