"""Encoders read the weights the user supplies: files and folders written here from random models.

A random open_clip ViT-B-32 is saved as an open_clip state dict and as a TorchScript archive shaped like
OpenAI's ``ViT-B-32.pt`` release; a tiny BERT masked LM is saved by ``save_pretrained``. Each is read
back through ``get_encoder`` and must give the embeddings of the model it came from; a wrong or
damaged file must be refused with an error that says what to supply.
"""
from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from zssar.errors import CheckpointNotFound
from zssar.text.encoders import get_encoder
from zssar.text.towers import BertMaskedLMEncoder, ClipTextEncoder

TEXTS = ["drink water", "a person kicks a ball with the right foot", "wave both hands above the head"]
CLIP_VARS = ("ZSSAR_CLIP_VIT_B_32", "ZSSAR_CLIP_VIT_L_14_336", "ZSSAR_CLIP_CHECKPOINT")


@pytest.fixture(autouse=True)
def no_weights_from_the_environment(monkeypatch):
    for var in CLIP_VARS + ("ZSSAR_BERT_PATH",):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A random ViT-B-32 in memory, its encoder, and its state dict saved as an open_clip checkpoint."""
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = tmp_path_factory.mktemp("clip") / "open_clip_vit_b_32.pt"
    torch.save(model.state_dict(), path)
    yield {"model": model, "encoder": ClipTextEncoder("clip-vit-b-32", model=model, device="cpu"), "path": path}
    path.unlink()  # 600 MB that pytest would otherwise keep with its last few temporary folders


@pytest.fixture
def big_files(tmp_path):
    """A temporary folder whose files are deleted after the test, not kept by pytest."""
    yield tmp_path
    for path in tmp_path.iterdir():
        if path.is_file():
            path.unlink()


class _Holder(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _torchscript_archive(state: dict, path) -> None:
    """A TorchScript archive holding ``state`` under the same names, as OpenAI's CLIP files do."""
    root = _Holder()
    for key, value in state.items():
        *parents, leaf = key.split(".")
        module = root
        for name in parents:
            if not hasattr(module, name):
                module.add_module(name, _Holder())
            module = getattr(module, name)
        module.register_parameter(leaf, nn.Parameter(value.detach().clone(), requires_grad=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated, OpenAI's files are not
        torch.jit.save(torch.jit.script(root), str(path))


def test_clip_state_dict_file_gives_the_in_memory_embeddings(clip):
    encoder = get_encoder("clip-vit-b-32", checkpoint=clip["path"], device="cpu")
    np.testing.assert_allclose(encoder.encode(TEXTS), clip["encoder"].encode(TEXTS), atol=1e-6)
    assert encoder.cache_key.startswith("clip-vit-b-32-") and encoder.cache_key != clip["encoder"].cache_key
    block = encoder.tower().model.transformer.resblocks[0]
    assert type(block.mlp.gelu).__name__ == "GELU"  # an open_clip checkpoint keeps open_clip's activation


def test_openai_torchscript_release_loads_from_the_environment(clip, big_files, monkeypatch):
    import open_clip

    state = {k: v.half() for k, v in clip["model"].state_dict().items()}  # OpenAI ships half precision
    extras = {"input_resolution": torch.tensor(224), "context_length": torch.tensor(77),
              "vocab_size": torch.tensor(49408)}
    _torchscript_archive(state | extras, big_files / "ViT-B-32.pt")
    monkeypatch.setenv("ZSSAR_CLIP_CHECKPOINT", str(big_files / "ViT-B-32.pt"))
    encoder = get_encoder("clip-vit-b-32", device="cpu")
    loaded = encoder.tower().model
    for key, value in state.items():
        torch.testing.assert_close(loaded.state_dict()[key], value.float(), atol=0, rtol=0)
    assert isinstance(loaded.transformer.resblocks[0].mlp.gelu, open_clip.transformer.QuickGELU)
    emb = encoder.encode(TEXTS)
    assert emb.shape == (3, 512) and np.all(np.isfinite(emb))


def test_wrong_or_damaged_clip_file_says_which_file_to_supply(clip, big_files, monkeypatch):
    other = big_files / "other.pt"
    torch.save(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)).state_dict(), other)
    with pytest.raises(CheckpointNotFound, match=r"other\.pt is not a checkpoint of CLIP ViT-B-32 \(it has no "
                                                 r"tensor 'token_embedding.weight'\)\. .*supply the file "
                                                 r"ViT-B-32\.pt .*ZSSAR_CLIP_VIT_B_32"):
        get_encoder("clip-vit-b-32", checkpoint=other, device="cpu")
    text_only = big_files / "text_only.pt"  # right shapes at a glance, but the image tower is missing
    state = clip["model"].state_dict()
    torch.save({k: v for k, v in state.items() if not k.startswith("visual.")}
               | {"visual.conv1.weight": state["visual.conv1.weight"]}, text_only)
    with pytest.raises(CheckpointNotFound, match=r"text_only\.pt is not a checkpoint of CLIP ViT-B-32 "
                                                 r"\(Error\(s\) in loading state_dict .*Missing key"):
        get_encoder("clip-vit-b-32", checkpoint=text_only, device="cpu")
    damaged = big_files / "ViT-B-32.pt"  # an interrupted download
    with open(clip["path"], "rb") as src, open(damaged, "wb") as dst:
        dst.write(src.read(clip["path"].stat().st_size // 2))
    monkeypatch.setenv("ZSSAR_CLIP_VIT_B_32", str(damaged))
    with pytest.raises(CheckpointNotFound, match=r"ViT-B-32\.pt is not a checkpoint of CLIP ViT-B-32 \(unreadable"):
        get_encoder("clip-vit-b-32", device="cpu")


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    """A tiny random BERT masked LM in memory and the folder save_pretrained wrote for it."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w for t in TEXTS for w in t.split()})
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=5 + len(words), hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=4, intermediate_size=64, max_position_embeddings=64))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return {"folder": folder, "encoder": BertMaskedLMEncoder(model=model.eval(), tokenizer=tokenizer, device="cpu")}


def test_bert_folder_gives_the_in_memory_embeddings(bert, monkeypatch):
    encoder = get_encoder("bert-base-uncased", path=bert["folder"], device="cpu")
    np.testing.assert_allclose(encoder.encode(TEXTS), bert["encoder"].encode(TEXTS), atol=1e-6)
    monkeypatch.setenv("ZSSAR_BERT_PATH", str(bert["folder"]))
    assert get_encoder("bert-base-uncased", device="cpu").cache_key == encoder.cache_key


def test_wrong_or_damaged_bert_folder_says_what_to_supply(bert, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    def refused(folder, reason):
        with pytest.raises(CheckpointNotFound, match=f"{folder.name} is not a usable BERT folder: {reason}.*"
                                                     "vocab.txt .*ZSSAR_BERT_PATH"):
            get_encoder("bert-base-uncased", path=folder, device="cpu")

    gpt2 = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=16, n_embd=8, n_layer=1, n_head=2)).save_pretrained(gpt2)
    shutil.copy(bert["folder"] / "vocab.txt", gpt2)
    refused(gpt2, "config.json describes a 'gpt2' model, not BERT")
    damaged = shutil.copytree(bert["folder"], tmp_path / "damaged")
    (damaged / "model.safetensors").write_bytes(b"half a download")
    refused(damaged, "it cannot be loaded")
    no_vocab = shutil.copytree(bert["folder"], tmp_path / "no-vocab")
    for name in ("vocab.txt", "tokenizer.json"):
        (no_vocab / name).unlink(missing_ok=True)
    refused(no_vocab, "it has no tokenizer")
    deeper = shutil.copytree(bert["folder"], tmp_path / "deeper")
    config = json.loads((deeper / "config.json").read_text())
    (deeper / "config.json").write_text(json.dumps(config | {"num_hidden_layers": 3}))
    refused(deeper, r"its weights lack \d+ tensor\(s\) of BERT's masked LM")
