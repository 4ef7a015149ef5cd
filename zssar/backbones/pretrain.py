"""Seen-class pretraining of a skeleton backbone and the feature cache every method reads.

The backbone trains on the protocol's ``seen_train`` view only, picks its checkpoint by accuracy on
``seen_val`` and is never shown a sample of an unseen class. Features of all samples are then
extracted once (no augmentation) and stored in a cache entry keyed by a hash of everything that
produced them: data, split, protocol, backbone settings, seed and the code version below.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..config import cache_root
from ..data.preprocess import prepare
from ..data.protocol import Protocol
from ..data.skeleton import SkeletonSet
from ..errors import InvalidConfig
from ..features import FeatureSet
from ..utils import atomic_dir, file_sha256, get_device, progress, seed_everything, stable_hash

# Bump when a change to this file or the backbone code changes the features for the same settings.
CODE_VERSION = "stgcn-1"


@dataclass(frozen=True)
class BackboneConfig:
    """Backbone and its seen-class training. Defaults: a CPU-sized ST-GCN."""

    name: str = "stgcn"
    channels: tuple[int, ...] = (32, 64, 64)
    strides: tuple[int, ...] = (2, 2, 1)
    temporal_kernel: int = 9
    dropout: float = 0.1
    frames: int = 32
    epochs: int = 20
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 5e-4
    augment: bool = True  # random rotation about the vertical axis and scaling, training only

    def __post_init__(self):
        if self.name != "stgcn":
            raise InvalidConfig(f"unknown backbone {self.name!r}; available: ['stgcn']")
        if self.epochs < 1 or self.batch_size < 1 or self.frames < 4:
            raise InvalidConfig("backbone epochs and batch_size must be >= 1 and frames >= 4")


@dataclass
class Pretrained:
    """The result of :func:`pretrain`: features of every sample plus how they were made."""

    features: FeatureSet
    key: str
    cache_hit: bool
    history: list[dict]
    best_epoch: int
    seen_val_accuracy: float
    seconds: float
    meta: dict = field(default_factory=dict)


def build_backbone(config: BackboneConfig, data: SkeletonSet, num_classes: int):
    from .stgcn import STGCN

    return STGCN(data.layout, num_classes, channels=tuple(config.channels), strides=tuple(config.strides),
                 temporal_kernel=config.temporal_kernel, dropout=config.dropout)


def cache_key(data: SkeletonSet, protocol: Protocol, config: BackboneConfig, seed: int) -> str:
    return stable_hash({
        "data": data.fingerprint(), "split": protocol.split.as_dict(), "protocol": asdict(protocol.config),
        "backbone": asdict(config), "seed": seed, "code": CODE_VERSION,
    })


def pretrain(data: SkeletonSet, protocol: Protocol, config: BackboneConfig | None = None, *, seed: int = 0,
             cache_dir=None, show_progress: bool = True) -> Pretrained:
    """Train (or load from the cache) a backbone on ``seen_train`` and extract features of all samples."""
    config = config or BackboneConfig()
    key = cache_key(data, protocol, config, seed)
    folder = cache_root(cache_dir) / "features" / key
    cached = _load(folder)
    if cached is not None:
        return cached
    start = time.perf_counter()
    model, history, best_epoch, best_val = _train(data, protocol, config, seed, show_progress)
    features = extract(model, data, config, show_progress=show_progress)
    seconds = time.perf_counter() - start
    meta = {"key": key, "history": history, "best_epoch": best_epoch, "seen_val_accuracy": best_val,
            "seconds": seconds, "config": asdict(config), "seed": seed, "code": CODE_VERSION,
            "num_samples": len(data), "dataset": data.name}
    _store(folder, features, model, meta)
    return Pretrained(features, key, False, history, best_epoch, best_val, seconds, meta)


def _augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random yaw (+-30 deg) and scale (0.9-1.1) per sample: viewpoint and body-size robustness."""
    n = x.shape[0]
    theta = rng.uniform(-np.pi / 6, np.pi / 6, size=n)
    scale = rng.uniform(0.9, 1.1, size=n)
    c, s = np.cos(theta), np.sin(theta)
    rot = np.zeros((n, 3, 3), dtype=np.float32)
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1, -s, c
    rot *= scale[:, None, None]
    return np.einsum("nmtvc,ndc->nmtvd", x, rot).astype(np.float32)


def _train(data: SkeletonSet, protocol: Protocol, config: BackboneConfig, seed: int, show_progress: bool):
    import torch
    import torch.nn.functional as F

    seed_everything(seed)
    device = get_device()
    seen = np.asarray(protocol.seen)
    to_local = {int(c): i for i, c in enumerate(seen)}
    inputs = prepare(data, config.frames)
    train_idx, val_idx = protocol.views["seen_train"], protocol.views["seen_val"]
    y_train = np.array([to_local[int(c)] for c in data.labels[train_idx]])
    y_val = np.array([to_local[int(c)] for c in data.labels[val_idx]])

    model = build_backbone(config, data, len(seen)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = int(np.ceil(len(train_idx) / config.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch,
                                                pct_start=0.15)
    rng = np.random.default_rng(seed)
    history, best = [], (-1.0, 0, None)
    bar = progress(range(config.epochs), desc="pretrain backbone", enabled=show_progress)
    for epoch in bar:
        model.train()
        order = rng.permutation(len(train_idx))
        total_loss, correct = 0.0, 0
        for b in range(steps_per_epoch):
            sel = order[b * config.batch_size:(b + 1) * config.batch_size]
            xb = inputs[train_idx[sel]]
            if config.augment:
                xb = _augment(xb, rng)
            xb = torch.from_numpy(xb).to(device)
            yb = torch.from_numpy(y_train[sel]).to(device)
            logits, _, _ = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(sel)
            correct += int((logits.argmax(1) == yb).sum())
        val_acc = _accuracy(model, inputs[val_idx], y_val, config.batch_size * 4, device)
        history.append({"epoch": epoch + 1, "train_loss": total_loss / len(train_idx),
                        "train_accuracy": correct / len(train_idx), "seen_val_accuracy": val_acc})
        bar.set_postfix(loss=f"{total_loss / len(train_idx):.3f}", val=f"{val_acc:.3f}")
        if val_acc > best[0]:
            best = (val_acc, epoch + 1, {k: v.detach().clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])
    return model, history, best[1], best[0]


def _accuracy(model, x: np.ndarray, y: np.ndarray, batch: int, device) -> float:
    if len(y) == 0:
        return float("nan")
    logits = _forward_all(model, x, batch, device)[0]
    return float((logits.argmax(1) == y).mean())


def _forward_all(model, x: np.ndarray, batch: int, device, show_progress: bool = False):
    import torch

    model.eval()
    outs = ([], [], [])
    with torch.no_grad():
        for b in progress(range(0, len(x), batch), desc="extract features", enabled=show_progress):
            res = model(torch.from_numpy(x[b:b + batch]).to(device))
            for store, value in zip(outs, res):
                store.append(value.float().cpu().numpy())
    return tuple(np.concatenate(o) for o in outs)


def extract(model, data: SkeletonSet, config: BackboneConfig, *, show_progress: bool = False) -> FeatureSet:
    """Features of every sample of ``data`` from a trained model, without augmentation."""
    _, pooled, tokens = _forward_all(model, prepare(data, config.frames), config.batch_size * 4,
                                     get_device(), show_progress)
    return FeatureSet(pooled.astype(np.float32), tokens.astype(np.float32), data.sample_ids)


def _store(folder, features: FeatureSet, model, meta: dict) -> None:
    import torch

    with atomic_dir(folder) as tmp:
        np.savez(tmp / "features.npz", pooled=features.pooled, tokens=features.tokens,
                 sample_ids=np.array(features.sample_ids))
        torch.save(model.state_dict(), tmp / "model.pt")
        meta = dict(meta, sha256={name: file_sha256(tmp / name) for name in ("features.npz", "model.pt")})
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))


def _load(folder) -> Pretrained | None:
    """A verified cache entry, or None when absent, incomplete or damaged (it is then rebuilt)."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        for name, digest in meta["sha256"].items():
            if file_sha256(folder / name) != digest:
                return None
        with np.load(folder / "features.npz", allow_pickle=False) as z:
            features = FeatureSet(z["pooled"], z["tokens"], tuple(str(s) for s in z["sample_ids"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return Pretrained(features, meta["key"], True, meta["history"], meta["best_epoch"],
                      meta["seen_val_accuracy"], 0.0, meta)
