"""Language-model backends for ``zssar describe``: a chat endpoint or a local causal LM.

* :class:`ChatEndpoint` speaks the OpenAI-compatible chat-completions protocol
  (``POST {url}/chat/completions``) with the standard library only. URL, model and key come from
  arguments or ``ZSSAR_LLM_URL``, ``ZSSAR_LLM_MODEL``, ``ZSSAR_LLM_API_KEY``; any server that speaks
  the protocol works (a hosted API, vLLM, llama.cpp, Ollama).
* :class:`LocalCausalLM` runs a transformers causal LM from a local folder, greedy decoding, with
  the model's chat template when it has one.

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


class LocalCausalLM(LLMBackend):
    def __init__(self, path: str | os.PathLike, max_new_tokens: int = 1500, device: str | None = None):
        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise CheckpointNotFound(f"no causal language model at {folder}: supply a folder saved by transformers "
                                     f"(config.json, weights, tokenizer files) and pass --model-path")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..utils import get_device

        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).to(get_device(device)).eval()
        self.max_new_tokens = max_new_tokens
        self.name = f"local causal LM {folder.name}"

    def chat(self, messages: list[dict]) -> str:
        import torch

        if getattr(self.tokenizer, "chat_template", None):
            prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:  # a plain LM: the messages as a transcript, ending where the answer starts
            prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.model.device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=pad)
        return self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def make_backend(kind: str, **options) -> LLMBackend:
    if kind == "chat":
        return ChatEndpoint(**{k: v for k, v in options.items() if k in ("url", "model", "api_key", "temperature")})
    if kind == "local":
        if not options.get("path"):
            raise InvalidConfig("the local backend needs --model-path (a transformers causal LM folder)")
        return LocalCausalLM(options["path"])
    raise InvalidConfig(f"unknown LLM backend {kind!r}; use 'chat' or 'local'")
