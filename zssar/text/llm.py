"""Language-model backends for ``zssar describe``: a chat endpoint or a local causal LM.

* :class:`ChatEndpoint` speaks the OpenAI-compatible chat-completions protocol
  (``POST {url}/chat/completions``) with the standard library only. URL, model and key come from
  arguments or ``ZSSAR_LLM_URL``, ``ZSSAR_LLM_MODEL``, ``ZSSAR_LLM_API_KEY``; any server that speaks
  the protocol works (a hosted API, vLLM, llama.cpp, Ollama).
* :class:`LocalCausalLM` runs a transformers causal LM from a local folder, greedy decoding, with
  the model's chat template when it has one (a plain ``role: text`` transcript otherwise), never
  generating past the model's context length.

Both turn a list of chat messages into the reply text.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import CheckpointNotFound, InvalidConfig, ZssarError


class LLMError(ZssarError):
    """The language model could not be reached or gave no usable answer."""


class LLMBackend:
    """Interface: ``name`` and ``chat(messages) -> str``."""

    name = "?"

    def chat(self, messages: list[dict]) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class ChatEndpoint(LLMBackend):
    def __init__(self, url: str | None = None, model: str | None = None, api_key: str | None = None,
                 temperature: float = 0.0, timeout: float = 120.0, max_tokens: int = 2000):
        self.url = (url or os.environ.get("ZSSAR_LLM_URL") or "").rstrip("/")
        self.model = model or os.environ.get("ZSSAR_LLM_MODEL")
        self.api_key = api_key or os.environ.get("ZSSAR_LLM_API_KEY")
        if not self.url or not self.model:
            raise InvalidConfig("the chat backend needs a URL and a model: pass --url/--model or set ZSSAR_LLM_URL "
                                "(e.g. http://localhost:8000/v1) and ZSSAR_LLM_MODEL")
        self.temperature, self.timeout, self.max_tokens = temperature, timeout, max_tokens
        self.name = f"chat endpoint {self.url} model {self.model}"

    def chat(self, messages: list[dict]) -> str:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": self.temperature,
                           "max_tokens": self.max_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.url}/chat/completions", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise LLMError(f"{self.url}/chat/completions answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise LLMError(f"cannot reach {self.url}/chat/completions ({exc}); is the server running?") from None
        except json.JSONDecodeError:
            raise LLMError(f"{self.url}/chat/completions did not answer JSON") from None
        try:
            return reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"unexpected reply from {self.url}: {str(reply)[:300]}") from None


def plain_transcript(messages: list[dict]) -> str:
    """The conversation as text for a model without a chat template, ending where the answer starts."""
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"


# Any of these in a folder means a tokenizer was saved with the model; without one, transformers
# would quietly build an empty tokenizer from the config.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")


class LocalCausalLM(LLMBackend):
    def __init__(self, path: str | os.PathLike, max_new_tokens: int = 1500, device: str | None = None):
        folder = Path(path).expanduser()
        needed = ("supply a folder saved by transformers' save_pretrained (config.json, the weights "
                  "model.safetensors or pytorch_model.bin, and the tokenizer files) and pass --model-path")
        if not (folder / "config.json").is_file():
            raise CheckpointNotFound(f"no causal language model at {folder} (no config.json there): {needed}")
        if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
            raise CheckpointNotFound(f"{folder} has no tokenizer (none of {list(_TOKENIZER_FILES)}): {needed}")
        from safetensors import SafetensorError
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..utils import get_device

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model, info = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True,
                                                               output_loading_info=True)
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
            reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise CheckpointNotFound(f"cannot load a causal language model from {folder} ({reason}): {needed}") from None
        if info.get("missing_keys"):  # transformers would fill them with random numbers and generate noise
            missing = sorted(info["missing_keys"])
            raise CheckpointNotFound(f"the weights in {folder} do not fit its config.json: {len(missing)} tensor(s) "
                                     f"missing, e.g. {missing[:3]}: {needed}")
        self.model = model.to(get_device(device)).eval()
        self.max_new_tokens = max_new_tokens
        self.name = f"local causal LM {folder.name}"

    @property
    def context_length(self) -> int | None:
        """How many tokens (prompt and answer) the model can attend to, when its config says."""
        config = self.model.config
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        return getattr(config, "max_position_embeddings", None)

    def prompt_text(self, messages: list[dict]) -> str:
        """The conversation as the model reads it: its chat template, or a plain transcript."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return plain_transcript(messages)

    def chat(self, messages: list[dict]) -> str:
        import torch

        templated = bool(getattr(self.tokenizer, "chat_template", None))
        # A chat template already writes the special tokens (BOS); adding them again would double them.
        inputs = self.tokenizer(self.prompt_text(messages), return_tensors="pt",
                                add_special_tokens=not templated).to(self.model.device)
        prompt_length = inputs["input_ids"].shape[1]
        room = self.max_new_tokens
        if self.context_length:  # generating past the position table fails or produces noise
            room = min(room, self.context_length - prompt_length)
            if room < 1:
                raise LLMError(f"the prompt is {prompt_length} tokens but {self.name} reads at most "
                               f"{self.context_length}; use a model with a longer context")
        eos = self.model.generation_config.eos_token_id
        eos = self.tokenizer.eos_token_id if eos is None else eos
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.no_grad():  # greedy: the same model and prompt give the same file
            out = self.model.generate(**inputs, max_new_tokens=room, do_sample=False, temperature=None,
                                      top_p=None, top_k=None, eos_token_id=eos, pad_token_id=pad)
        return self.tokenizer.decode(out[0, prompt_length:], skip_special_tokens=True)


def make_backend(kind: str, **options) -> LLMBackend:
    if kind == "chat":
        chosen = {k: v for k, v in options.items() if k in ("url", "model", "api_key", "temperature")}
        if options.get("max_new_tokens"):
            chosen["max_tokens"] = options["max_new_tokens"]
        return ChatEndpoint(**chosen)
    if kind == "local":
        if not options.get("path"):
            raise InvalidConfig("the local backend needs --model-path (a transformers causal LM folder)")
        return LocalCausalLM(options["path"], **({"max_new_tokens": options["max_new_tokens"]}
                                                 if options.get("max_new_tokens") else {}))
    raise InvalidConfig(f"unknown LLM backend {kind!r}; use 'chat' or 'local'")
