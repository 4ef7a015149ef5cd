"""The feature cache: one verified folder per trained backbone, keyed by everything that made it.

An entry ``<cache>/features/<key>/`` holds ``features.npz`` (pooled features, token maps, classifier
logits and sample ids of every sample), ``model.pt`` (the network's state dict: ``backbone.*`` and,
with an extra objective, ``objective.*``) and ``meta.json`` (history, settings, the SHA-256 of both
files). The key is a hash of the data's content, the split, the protocol with its setting resolved
(``default`` and the dataset's own setting name give the same key), the backbone settings, the
objective's identity, the seed and :data:`CODE_VERSION`. Nothing in it depends on where the data or
the cache live. A damaged entry is detected by its checksums and rebuilt.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..features import FeatureSet, ObjectiveState
from ..utils import atomic_dir, file_sha256, stable_hash

# Bump when a change to the pretraining or the backbone code changes the features for the same settings.
CODE_VERSION = "backbones-2"


def cache_key(data, protocol, config, seed: int, objective=None) -> str:
    return stable_hash({
        "data": data.fingerprint(), "split": protocol.split.as_dict(),
        "protocol": asdict(protocol.config) | {"setting": protocol.setting},
        "backbone": config.identity(), "seed": seed, "code": CODE_VERSION,
        "objective": objective.identity() if objective is not None else None,
    })


def store(folder, features: FeatureSet, logits: np.ndarray, net, meta: dict) -> None:
    import torch

    arrays = {"pooled": features.pooled, "tokens": features.tokens, "logits": logits,
              "sample_ids": np.array(features.sample_ids)}
    with atomic_dir(folder) as tmp:
        np.savez(tmp / "features.npz", **arrays)
        torch.save(net.state_dict(), tmp / "model.pt")
        meta = dict(meta, sha256={name: file_sha256(tmp / name) for name in ("features.npz", "model.pt")})
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))


def objective_state(state_dict: dict, meta: dict) -> ObjectiveState | None:
    """The objective's trained weights (``objective.*`` of the network's state dict), or None."""
    if not meta.get("objective"):
        return None
    prefix = "objective."
    weights = {k[len(prefix):]: v.detach().cpu().numpy() for k, v in state_dict.items() if k.startswith(prefix)}
    return ObjectiveState(meta["objective"]["name"], meta["objective"]["settings"], weights)


def load(folder, layout):
    """``(features, logits, meta)`` of a verified entry, or None when absent, incomplete or damaged."""
    import torch

    try:
        meta = json.loads((folder / "meta.json").read_text())
        for name, digest in meta["sha256"].items():
            if file_sha256(folder / name) != digest:
                return None
        with np.load(folder / "features.npz", allow_pickle=False) as z:
            ids = tuple(str(s) for s in z["sample_ids"])
            pooled, tokens, logits = z["pooled"], z["tokens"], z["logits"]
        objective = None
        if meta.get("objective"):
            objective = objective_state(torch.load(folder / "model.pt", map_location="cpu", weights_only=True), meta)
    except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError):
        return None
    return FeatureSet(pooled, tokens, ids, layout, objective), logits, meta


@contextlib.contextmanager
def one_builder(features_dir: Path, key: str, ranks_train_together: bool = False):
    """Hold ``features/.lock-<key>`` while training: two processes (two chapters of a parallel book
    build, two sweeps) that need one backbone train it once; the second waits, then reads the entry.
    Under torchrun (``ranks_train_together``) the ranks train together and rank 0 alone writes, so no
    lock is taken there."""
    if ranks_train_together:
        yield
        return
    import fcntl

    features_dir.mkdir(parents=True, exist_ok=True)
    with open(features_dir / f".lock-{key}", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
