"""``zssar describe`` with a local transformers causal LM, for real and without downloads.

A tiny GPT-2 and a byte-level BPE tokenizer are built here, and the model is trained for a few
seconds to answer the schema request for "wave" with a valid JSON entry and the request for "kick"
with prose (the garbage a weak model gives). Both are saved with ``save_pretrained`` and read back by
the backend from the folder, exactly as a user's model would be.
"""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from zssar.cli import main as cli_main
from zssar.errors import CheckpointNotFound, InvalidConfig
from zssar.text.describe import describe_class, partial_path
from zssar.text.descriptions import load_description_file
from zssar.text.llm import LLMError, LocalCausalLM, make_backend, plain_transcript
from zssar.text.prompts import schema_request

CONTEXT = 256  # the tiny model's position table: long enough for a request and an answer, no more
LEARNING_RATE, LOSS_DONE = 2e-2, 0.02
WAVE = {"synonyms": ["wave hello", "wave goodbye"], "description": "A person raises one hand and waves it.",
        "parts": {"head": "head faces ahead", "hand": "hand swings side to side", "arm": "arm is raised",
                  "hip": "hip stays still", "leg": "legs stand", "foot": "feet stay flat"},
        "purls_parts": {"head": "head faces ahead", "hands": "one hand swings", "torso": "torso upright",
                        "legs": "legs still"},
        "phases": {"start": "raise the hand", "middle": "swing it", "end": "lower it"},
        "context": {"environment": "a room", "used_object": "none", "target_object": "none"},
        "context_sentence": "In a room, the hand waves to nobody.", "variants": ["A person waves a hand."],
        "contexts": [{"environment": place, "used_object": "none", "target_object": "a friend"}
                     for place in ("a room", "a street", "a park", "a station", "a beach", "a school", "a shop",
                                   "an office", "a garden", "a port")],
        "key_parts": ["hand", "arm"]}
ANSWERS = {"wave": " " + json.dumps(WAVE), "kick": " I am not sure what that action looks like."}


def _tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # Byte level, so any text encodes; merges across spaces keep the long request to a few dozen tokens.
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=2000, min_frequency=2, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


def _tiny_gpt2(tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    eos = tokenizer.eos_token_id
    return GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=CONTEXT, n_embd=32, n_layer=2,
                                      n_head=2, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos))


def _train(model, tokenizer, pairs, steps: int = 400) -> tuple[bool, float]:
    """Teach the model each (prompt, answer) pair, until greedy decoding reproduces every answer token
    with a margin; the loss is on the answer and its end token only. Returns (learned, last loss)."""
    eos = tokenizer.eos_token_id
    rows = [(tokenizer(p)["input_ids"], tokenizer(a)["input_ids"] + [eos]) for p, a in pairs]
    length = max(len(p) + len(a) for p, a in rows)
    ids = torch.full((len(rows), length), eos)
    labels = torch.full((len(rows), length), -100)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, (p, a) in enumerate(rows):
        ids[i, :len(p) + len(a)] = torch.tensor(p + a)
        labels[i, len(p):len(p) + len(a)] = torch.tensor(a)
        mask[i, :len(p) + len(a)] = 1
    opt = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    targets = labels[:, 1:] != -100
    for _ in range(steps):
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        loss = out.loss
        right = (out.logits[:, :-1].argmax(-1) == labels[:, 1:])[targets].all()
        if right and loss.item() < LOSS_DONE:
            return True, loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return False, loss.item()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Models this small train and generate fastest on one thread (several only add overhead)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models(tmp_path_factory, one_thread):
    """Folders of a trained and of an untrained (random) tiny model, sharing one tokenizer."""
    pairs = [(plain_transcript(schema_request(name)), answer) for name, answer in ANSWERS.items()]
    tokenizer = _tokenizer([p + a for p, a in pairs])
    torch.manual_seed(0)
    trained = _tiny_gpt2(tokenizer)
    learned, loss = _train(trained, tokenizer, pairs)
    assert learned, f"the tiny model did not learn its answers (loss {loss:.4f})"
    folders = {}
    for name, model in (("trained", trained.eval()), ("random", _tiny_gpt2(tokenizer).eval())):
        folders[name] = tmp_path_factory.mktemp(f"tiny-gpt2-{name}")
        model.save_pretrained(folders[name])
        tokenizer.save_pretrained(folders[name])
    return folders


def test_describe_with_a_local_model_writes_a_schema_valid_file(models, tmp_path, capsys):
    out = tmp_path / "wave.json"
    assert cli_main(["describe", "--backend", "local", "--model-path", str(models["trained"]),
                     "--names", "wave", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == 1
    described = load_description_file(out)  # validates against the schema
    assert described.labels() == ["wave"] and "local causal LM" in described.source
    assert described.classes[0].parts == WAVE["parts"] and described.classes[0].phases["end"] == "lower it"
    assert not partial_path(out).exists()


def test_garbage_answer_names_the_class_and_keeps_what_was_described(models, tmp_path, capsys):
    out = tmp_path / "mine.json"
    args = ["describe", "--backend", "local", "--names", "wave;kick", "--out", str(out), "--attempts", "1"]
    assert cli_main(args + ["--model-path", str(models["trained"])]) == 2
    err = capsys.readouterr().err
    assert "no valid description for 'kick'" in err and "holds no JSON object" in err
    assert f"kept in {partial_path(out)}" in err and not out.exists()
    assert load_description_file(partial_path(out)).labels() == ["wave"]
    # A new run reuses "wave" from the partial file: the random model, which could not describe it,
    # is never asked about it.
    assert cli_main(["describe", "--backend", "local", "--names", "wave", "--out", str(out),
                     "--model-path", str(models["random"])]) == 0
    described = load_description_file(out)
    assert described.classes[0].description == WAVE["description"] and "random" not in described.source
    assert not partial_path(out).exists()


def test_random_weights_are_asked_again_then_fail_clearly(models, tmp_path, capsys):
    out = tmp_path / "jump.json"
    assert cli_main(["describe", "--backend", "local", "--model-path", str(models["random"]), "--names", "jump",
                     "--out", str(out), "--max-new-tokens", "16"]) == 2
    err = capsys.readouterr().err
    assert "no valid description for 'jump' after 3 attempt(s)" in err and "no class was described yet" in err
    assert not out.exists() and not partial_path(out).exists()


def test_generation_stays_inside_the_context(models, monkeypatch):
    backend = LocalCausalLM(models["random"], device="cpu")
    asked = []
    generate = backend.model.generate
    monkeypatch.setattr(backend.model, "generate", lambda **kw: asked.append(kw) or generate(**kw))
    words = []  # a request that leaves room for only a few tokens of answer
    while len(backend.tokenizer(plain_transcript([{"role": "user", "content": " ".join(words)}]))["input_ids"]) \
            < CONTEXT - 12:
        words.append(f"word{len(words)}")
    reply = backend.chat([{"role": "user", "content": " ".join(words)}])  # 1500 new tokens would fail
    prompt_length = asked[0]["input_ids"].shape[1]
    assert asked[0]["max_new_tokens"] == CONTEXT - prompt_length <= 12 and isinstance(reply, str)
    long = [{"role": "user", "content": " ".join(words * 2)}]
    with pytest.raises(LLMError, match=f"reads at most {CONTEXT}"):
        backend.chat(long)
    monkeypatch.setattr(backend, "chat", lambda m: LocalCausalLM.chat(backend, long))
    with pytest.raises(LLMError, match="class 'jump': the prompt is"):
        describe_class("jump", backend)


def test_chat_template_is_used_when_the_tokenizer_has_one(models):
    backend = LocalCausalLM(models["trained"], device="cpu")
    messages = schema_request("wave")
    assert backend.prompt_text(messages) == plain_transcript(messages)
    backend.tokenizer.chat_template = ("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
                                       "{% if add_generation_prompt %}<assistant>{% endif %}")
    text = backend.prompt_text(messages)
    assert text.startswith("<system>") and text.endswith("<assistant>")
    assert isinstance(backend.chat(messages), str)


def test_missing_or_invalid_model_folder_is_a_clear_error(models, tmp_path, capsys):
    with pytest.raises(CheckpointNotFound, match="no config.json.*--model-path"):
        LocalCausalLM(tmp_path / "nowhere")
    with pytest.raises(InvalidConfig, match="--model-path"):
        make_backend("local")
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    shutil.copy(models["trained"] / "config.json", no_tokenizer)
    with pytest.raises(CheckpointNotFound, match="has no tokenizer"):
        LocalCausalLM(no_tokenizer)
    damaged = shutil.copytree(models["trained"], tmp_path / "damaged")
    (damaged / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointNotFound, match="cannot load a causal language model from .*damaged"):
        LocalCausalLM(damaged)
    bad_config = shutil.copytree(models["trained"], tmp_path / "bad-config")
    (bad_config / "config.json").write_text("{not json")
    with pytest.raises(CheckpointNotFound, match="cannot load"):
        LocalCausalLM(bad_config)
    deeper = shutil.copytree(models["trained"], tmp_path / "deeper")
    config = json.loads((deeper / "config.json").read_text())
    (deeper / "config.json").write_text(json.dumps(config | {"n_layer": 3}))
    with pytest.raises(CheckpointNotFound, match="do not fit its config.json: .*missing"):
        LocalCausalLM(deeper)
    assert cli_main(["describe", "--backend", "local", "--model-path", str(tmp_path / "nowhere"), "--names",
                     "wave", "--out", str(tmp_path / "x.json")]) == 2
    assert "CheckpointNotFound" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
