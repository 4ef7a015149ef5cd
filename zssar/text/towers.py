"""Text encoders whose weights the user supplies: CLIP through open_clip, BERT through transformers.

* ``clip-vit-b-32`` / ``clip-vit-l-14-336``: the CLIP text tower of open_clip's ``ViT-B-32`` /
  ``ViT-L-14-336``. Weights: a checkpoint file open_clip can load (the OpenAI release, e.g.
  ``ViT-B-32.pt``, run with QuickGELU as trained; or an open_clip checkpoint, where
  ``quick_gelu=`` says which activation it was trained with), given as ``checkpoint=`` or through
  ``ZSSAR_CLIP_VIT_B_32`` / ``ZSSAR_CLIP_VIT_L_14_336`` (or ``ZSSAR_CLIP_CHECKPOINT`` for either).
* ``bert-base-uncased``: BERT with its masked-LM head (SkeletonContext fills masked context words),
  from a folder saved by transformers (``config.json``, weights, ``vocab.txt``), given as ``path=``
  or ``ZSSAR_BERT_PATH``. Sentence embeddings are the mean of the last token states.

Nothing is downloaded: a missing file raises :class:`~zssar.errors.CheckpointNotFound` saying which
file to supply and where. ``model=`` (with ``tokenizer=``) accepts an already built model, which is
how the tests run both architectures with random weights.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointNotFound, InvalidConfig
from ..utils import get_device, progress
from .deep_prompt import BertTower, OpenClipTower
from .encoders import TextEncoder

_CLIP = {"clip-vit-b-32": ("ViT-B-32", "ZSSAR_CLIP_VIT_B_32", "ViT-B-32.pt"),
         "clip-vit-l-14-336": ("ViT-L-14-336", "ZSSAR_CLIP_VIT_L_14_336", "ViT-L-14-336px.pt")}


def _weights_digest(path: Path) -> str:
    """A quick identity of a weights file or folder: sizes plus the first and last megabyte."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            fh.seek(max(size - (1 << 20), 0))
            h.update(fh.read())
    return h.hexdigest()[:12]


class TowerEncoder(TextEncoder):
    """Encodes texts with a :class:`~zssar.text.deep_prompt.DeepPromptTower` in batches, no prompts."""

    batch_size = 64
    _tower = None
    weights_id = "random"

    def tower(self):
        return self._tower

    @property
    def cache_key(self) -> str:
        return f"{self.name}-{self.weights_id}"

    @torch.no_grad()
    def encode(self, texts: list[str]) -> np.ndarray:
        tower = self.tower().eval()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        for start in progress(starts, desc=f"encoding with {self.name}", enabled=len(texts) > 4 * self.batch_size):
            emb = tower(texts[start:start + self.batch_size]).embedding.float()
            out[start:start + len(emb)] = torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()
        return out


def _user_checkpoint(given, env_vars, usable, problem: str, needed: str) -> Path:
    """Weights the user supplies: the argument, else the first environment variable set.

    Raises :class:`CheckpointNotFound` saying what was looked at (``problem`` formatted with the path)
    and what to supply (``needed``) when nothing usable is there.
    """
    value = given or next((os.environ[v] for v in env_vars if os.environ.get(v)), None)
    if not value or not usable(Path(value).expanduser()):
        raise CheckpointNotFound((problem.format(value) if value else "") + needed)
    return Path(value).expanduser()


class ClipTextEncoder(TowerEncoder):
    """CLIP's text tower (open_clip)."""

    def __init__(self, name: str, checkpoint: str | os.PathLike | None = None, *, model=None, tokenizer=None,
                 device: str | None = None, batch_size: int = 64, quick_gelu: bool | None = None):
        try:
            import open_clip
        except ImportError:
            raise InvalidConfig(f"encoder {name!r} needs open_clip: pip install 'zssar[clip]' "
                                "(make venv installs it)") from None

        arch, env, file_name = _CLIP[name]
        self.name, self.batch_size = name, batch_size
        if model is None:
            path = _user_checkpoint(
                checkpoint, (env, "ZSSAR_CLIP_CHECKPOINT"), Path.is_file, "{} does not exist. ",
                f"{name} needs the CLIP {arch} weights: supply the file {file_name} (OpenAI CLIP release) or "
                f"an open_clip checkpoint of {arch}, and pass checkpoint=PATH or set {env} "
                f"(or ZSSAR_CLIP_CHECKPOINT) to its path")
            # OpenAI's weights were trained with QuickGELU; open_clip's own checkpoints mostly not.
            quick = path.name == file_name if quick_gelu is None else quick_gelu
            model = open_clip.create_model(arch, pretrained=str(path), force_quick_gelu=quick)
            self.weights_id = _weights_digest(path)
        tokenizer = tokenizer or open_clip.get_tokenizer(arch)
        model = model.to(get_device(device)).eval()
        self._tower = OpenClipTower(model, tokenizer)
        self.dim = self._tower.output_dim


class BertMaskedLMEncoder(TowerEncoder):
    """BERT (masked LM) sentence embeddings: mean of the last token states; ``mlm_logits`` for masks."""

    name = "bert-base-uncased"

    def __init__(self, path: str | os.PathLike | None = None, *, model=None, tokenizer=None,
                 device: str | None = None, batch_size: int = 64, max_length: int = 128):
        self.batch_size = batch_size
        if model is None:
            from transformers import AutoTokenizer, BertForMaskedLM

            folder = _user_checkpoint(
                path, ("ZSSAR_BERT_PATH",), lambda f: (f / "config.json").is_file(), "{} has no config.json. ",
                "bert-base-uncased needs its weights: supply a folder with config.json, model.safetensors "
                "(or pytorch_model.bin) and vocab.txt of bert-base-uncased, as saved by transformers' "
                "save_pretrained, and pass path=FOLDER or set ZSSAR_BERT_PATH")
            model = BertForMaskedLM.from_pretrained(folder, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.weights_id = _weights_digest(folder)
        self.mlm = model.to(get_device(device)).eval()
        self._tower = BertTower(self.mlm.bert, tokenizer, max_length)
        self.dim = self._tower.output_dim

    def mlm_logits(self, token_states: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits (B, L, vocab) of the masked-LM head for token states (B, L, width)."""
        return self.mlm.cls(token_states)
