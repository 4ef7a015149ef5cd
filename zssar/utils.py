"""Small shared helpers: seeding, the compute device, hashing, atomic files, progress bars."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def torch_seeded(seed: int):
    """Run a block with PyTorch's own generators seeded by ``seed``, leaving the caller's untouched.

    zssar's randomness is explicit: NumPy draws come from ``default_rng`` generators and torch's
    batch orders from ``torch.Generator`` objects built from the run's seed. PyTorch's module
    initialisers and dropout take no generator argument and draw from torch's global one; this
    block forks that generator (``torch.random.fork_rng``), seeds the fork and restores the caller's
    state on exit, so the same seed gives the same numbers and nothing outside the block changes.
    """
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def one_thread():
    """Run a block on one CPU thread, restoring the caller's thread count on exit.

    With two or more threads PyTorch's matrix products split their work by the batch's shape, so
    the same text encoded in a batch of three and encoded alone differ in the last bits (up to
    5e-7 measured with MiniLM). On one thread a text encoded alone gives the same bits on any
    machine's thread count. Batching is not safe even on one thread: texts of equal token length,
    unpadded, matched their lone encodings at 4 to 14 tokens but not at 3 (a one-word text with
    [CLS] and [SEP]: up to 2.8e-7 on an AVX512 CPU, every row, batches of 2 to 13). Text that is
    cached on disk (frozen embeddings, a frozen tower's token states) is therefore computed here,
    one text at a time: a cached value depends on its own string only, not on what it was batched
    with, what was encoded before it or how many cores ran it.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def get_device(prefer: str | None = None):
    """The one place the compute device is chosen: ``ZSSAR_DEVICE`` or ``prefer``, else CUDA if present."""
    import torch

    choice = prefer or os.environ.get("ZSSAR_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def stable_hash(obj, length: int = 16) -> str:
    """A hash of a JSON-serialisable object that does not depend on dict order or the Python run."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def array_digest(arrays) -> str:
    """A hash of the exact bytes of a list of arrays (weights, predictions)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_dir(final: Path):
    """Context manager yielding a temporary folder that replaces ``final`` only if the block succeeds."""
    return _AtomicDir(Path(final))


class _AtomicDir:
    def __init__(self, final: Path):
        self.final = final

    def __enter__(self) -> Path:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.", dir=self.final.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if self.final.exists():
            shutil.rmtree(self.final)
        os.replace(self.tmp, self.final)
        return False


def progress(iterable=None, *, total=None, desc: str = "", enabled: bool = True, **kwargs):
    """A text progress bar on stderr (plain tqdm: no widget JavaScript in the book)."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, file=sys.stderr,
                mininterval=1.0, dynamic_ncols=False, ncols=90, **kwargs)
