"""Text encoders whose weights the user supplies: CLIP through open_clip, BERT through transformers.

* ``clip-vit-b-32`` / ``clip-vit-l-14-336``: the CLIP text tower of open_clip's ``ViT-B-32`` /
  ``ViT-L-14-336``. Weights: a checkpoint file open_clip can load (the OpenAI release, e.g.
  ``ViT-B-32.pt``, a TorchScript archive, run with QuickGELU as trained; or an open_clip checkpoint
  (``.pt``/``.bin``/``.safetensors`` state dict), where ``quick_gelu=`` says which activation it was
  trained with), given as ``checkpoint=`` or through
  ``ZSSAR_CLIP_VIT_B_32`` / ``ZSSAR_CLIP_VIT_L_14_336`` (or ``ZSSAR_CLIP_CHECKPOINT`` for either).
* ``bert-base-uncased``: BERT with its masked-LM head (SkeletonContext fills masked context words),
  from a folder saved by transformers (``config.json``, weights, ``vocab.txt``), given as ``path=``
  or ``ZSSAR_BERT_PATH``. Sentence embeddings are the mean of the last token states.

Nothing is downloaded: a missing file, or one that does not hold every weight of the architecture
(another model, a damaged file), raises :class:`~zssar.errors.CheckpointNotFound` saying which file to
supply and where. ``model=`` (with ``tokenizer=``) accepts an already built model, which is
how the tests run both architectures with random weights.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointNotFound, InvalidConfig
from ..utils import get_device, one_thread, progress
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
    """Encodes texts with a :class:`~zssar.text.deep_prompt.DeepPromptTower`, one at a time, no prompts."""

    _tower = None
    weights_id = "random"

    def tower(self):
        return self._tower

    @property
    def cache_key(self) -> str:
        return f"{self.name}-{self.weights_id}"

    @torch.no_grad()
    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit embeddings, each text encoded alone on one thread (see :func:`~zssar.utils.one_thread`)."""
        texts = list(texts)
        tower = self.tower().eval()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with one_thread():
            for i, text in enumerate(progress(texts, desc=f"encoding with {self.name}", enabled=len(texts) > 300)):
                emb = tower([text]).embedding.float()
                out[i] = torch.nn.functional.normalize(emb, dim=-1)[0].cpu().numpy()
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


def _brief(exc: BaseException, limit: int = 240) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    text = " ".join(str(exc).split())
    return (text[:limit] + "...") if len(text) > limit else (text or type(exc).__name__)


def _is_torchscript(path: Path) -> bool:
    """Whether a file is a TorchScript archive (a zip with ``constants.pkl``), as OpenAI's CLIP release is."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("constants.pkl") for n in archive.namelist())


# What reading a file that is not a checkpoint raises: torch, pickle, zip, a state dict of the wrong kind.
_UNREADABLE = (RuntimeError, ValueError, KeyError, TypeError, AttributeError, EOFError, StopIteration, OSError,
               pickle.UnpicklingError, zipfile.BadZipFile)


def _clip_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Shapes a few telling tensors of a CLIP checkpoint must have, from open_clip's model config."""
    text, vision = config["text_cfg"], config["vision_cfg"]
    width = text["width"]
    return {"token_embedding.weight": (text["vocab_size"], width),
            "positional_embedding": (text["context_length"], width),
            "text_projection": (width, config["embed_dim"]),
            f"transformer.resblocks.{text['layers'] - 1}.attn.in_proj_weight": (3 * width, width),
            "visual.conv1.weight": (vision["width"], 3, vision["patch_size"], vision["patch_size"])}


def _load_clip(open_clip, arch: str, path: Path, torchscript: bool, quick_gelu: bool, needed: str):
    """A CLIP ``arch`` model with the weights of ``path``: all of them, or a clear error.

    The file is read and its telling shapes checked before the model is built, so a wrong file is
    refused at once; the final load is strict (every tensor must be there and fit).
    """
    from open_clip.factory import load_state_dict
    from safetensors import SafetensorError

    def refuse(problem: str):
        return CheckpointNotFound(f"{path} is not a checkpoint of CLIP {arch} ({problem}). {needed}")

    try:
        if torchscript:  # open_clip's own reader refuses these with weights_only=True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, still the reader
                state = torch.jit.load(str(path), map_location="cpu").state_dict()
            for key in ("input_resolution", "context_length", "vocab_size"):  # settings, not weights
                state.pop(key, None)
        else:  # a state dict: .pt/.bin/.safetensors, bare or under "state_dict", DataParallel names or not
            state = load_state_dict(str(path))
        if not isinstance(state, dict):
            raise TypeError(f"it holds a {type(state).__name__}, not a state dict")
    except (*_UNREADABLE, SafetensorError) as exc:
        raise refuse(f"unreadable: {_brief(exc)}") from None
    for key, shape in _clip_shapes(open_clip.get_model_config(arch)).items():
        if key not in state:
            raise refuse(f"it has no tensor {key!r}")
        if tuple(getattr(state[key], "shape", ())) != shape:
            raise refuse(f"{key} has shape {tuple(getattr(state[key], 'shape', ()))}, {arch} needs {shape}")
    model = open_clip.create_model(arch, pretrained=None, force_quick_gelu=quick_gelu)
    try:  # OpenAI ships half precision; the model computes in float32
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except RuntimeError as exc:
        raise refuse(_brief(exc)) from None
    return model


def _load_bert(folder: Path, needed: str):
    """BERT with its masked-LM head and tokenizer from a save_pretrained folder, or a clear error."""
    from safetensors import SafetensorError
    from transformers import AutoTokenizer, BertForMaskedLM

    problem, model, tokenizer = None, None, None
    try:
        kind = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        problem = f"its config.json is not a readable model configuration ({_brief(exc)})"
    else:
        if kind != "bert":  # transformers would load it anyway, with random BERT weights
            problem = f"config.json describes a {kind!r} model, not BERT"
    if problem is None and not any((folder / f).is_file() for f in ("vocab.txt", "tokenizer.json")):
        problem = "it has no tokenizer (vocab.txt or tokenizer.json)"
    if problem is None:
        try:
            model, info = BertForMaskedLM.from_pretrained(folder, local_files_only=True, output_loading_info=True)
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
            problem = f"it cannot be loaded ({_brief(exc)})"
        else:
            missing = sorted(info.get("missing_keys") or ())
            if missing:  # transformers would fill them with random numbers
                problem = f"its weights lack {len(missing)} tensor(s) of BERT's masked LM, e.g. {missing[:3]}"
    if problem:
        raise CheckpointNotFound(f"{folder} is not a usable BERT folder: {problem}. {needed}")
    return model, tokenizer


class ClipTextEncoder(TowerEncoder):
    """CLIP's text tower (open_clip)."""

    def __init__(self, name: str, checkpoint: str | os.PathLike | None = None, *, model=None, tokenizer=None,
                 device: str | None = None, quick_gelu: bool | None = None):
        try:
            import open_clip
        except ImportError:
            raise InvalidConfig(f"encoder {name!r} needs open_clip: pip install 'zssar[clip]' "
                                "(make venv installs it)") from None

        arch, env, file_name = _CLIP[name]
        self.name = name
        if model is None:
            needed = (f"{name} needs the CLIP {arch} weights: supply the file {file_name} (OpenAI CLIP release) or "
                      f"an open_clip checkpoint of {arch}, and pass checkpoint=PATH or set {env} "
                      f"(or ZSSAR_CLIP_CHECKPOINT) to its path")
            path = _user_checkpoint(checkpoint, (env, "ZSSAR_CLIP_CHECKPOINT"), Path.is_file, "{} does not exist. ",
                                    needed)
            openai = _is_torchscript(path)
            # OpenAI's weights were trained with QuickGELU; open_clip's own checkpoints mostly not.
            quick = (openai or path.name == file_name) if quick_gelu is None else quick_gelu
            model = _load_clip(open_clip, arch, path, openai, quick, needed)
            self.weights_id = _weights_digest(path)
        tokenizer = tokenizer or open_clip.get_tokenizer(arch)
        model = model.to(get_device(device)).eval()
        self._tower = OpenClipTower(model, tokenizer)
        self.dim = self._tower.output_dim


class BertMaskedLMEncoder(TowerEncoder):
    """BERT (masked LM) sentence embeddings: mean of the last token states; ``mlm_logits`` for masks."""

    name = "bert-base-uncased"

    def __init__(self, path: str | os.PathLike | None = None, *, model=None, tokenizer=None,
                 device: str | None = None, max_length: int = 128):
        if model is None:
            needed = ("bert-base-uncased needs its weights: supply a folder with config.json, model.safetensors "
                      "(or pytorch_model.bin) and vocab.txt of bert-base-uncased, as saved by transformers' "
                      "save_pretrained, and pass path=FOLDER or set ZSSAR_BERT_PATH")
            folder = _user_checkpoint(path, ("ZSSAR_BERT_PATH",), lambda f: (f / "config.json").is_file(),
                                      "{} has no config.json. ", needed)
            model, tokenizer = _load_bert(folder, needed)
            self.weights_id = _weights_digest(folder)
        self.mlm = model.to(get_device(device)).eval()
        self._tower = BertTower(self.mlm.bert, tokenizer, max_length)
        self.dim = self._tower.output_dim

    def mlm_logits(self, token_states: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits (B, L, vocab) of the masked-LM head for token states (B, L, width)."""
        return self.mlm.cls(token_states)
