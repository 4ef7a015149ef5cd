"""Seen-class pretraining of a skeleton backbone and the feature cache every method reads.

The backbone trains on the protocol's ``seen_train`` view only, picks its checkpoint by accuracy on
``seen_val`` and is never shown a sample of an unseen class. Features of all samples are then
extracted once (no augmentation) and stored in a cache entry keyed by a hash of everything that
produced them: data, split, protocol, backbone settings (architecture, input stream, objective),
seed, the GAP prompts when the objective uses text, and the code version below.

Training saves its state after every epoch in a build folder next to the entry
(``features/.build-<key>/``); a run interrupted there resumes from the last finished epoch and ends
with the same numbers as an uninterrupted one.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..config import cache_root
from ..data.preprocess import prepare
from ..data.protocol import Protocol
from ..data.skeleton import SkeletonSet
from ..errors import InvalidConfig
from ..features import FeatureSet
from ..utils import atomic_dir, file_sha256, get_device, progress, seed_everything, stable_hash
from . import checkpoints
from . import gap_objective as gap
from .gap_objective import AlignedFeatures, GapConfig, GapPrompts
from .streams import STREAMS, to_stream

# Bump when a change to this file or the backbone code changes the features for the same settings.
CODE_VERSION = "backbones-2"
BACKBONES = ("stgcn", "shiftgcn", "ctrgcn")
OBJECTIVES = ("ce", "gap")
PAPER_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
PAPER_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


@dataclass(frozen=True)
class BackboneConfig:
    """Backbone and its seen-class training. Defaults: a CPU-sized ST-GCN on the joint stream.

    ``BackboneConfig.paper("shiftgcn")`` gives the papers' 10-block, 64-128-256 configuration.
    ``objective="gap"`` adds GAP's multi-part text-contrastive loss (settings in ``gap``).
    """

    name: str = "stgcn"
    channels: tuple[int, ...] = (32, 64, 64)
    strides: tuple[int, ...] = (2, 2, 1)
    temporal_kernel: int = 9  # ST-GCN only; Shift-GCN shifts, CTR-GCN uses its multi-scale module
    dropout: float = 0.1
    frames: int = 32
    epochs: int = 20
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 5e-4
    augment: bool = True  # random rotation about the vertical axis and scaling, training only
    stream: str = "joint"
    objective: str = "ce"
    gap: GapConfig = field(default_factory=GapConfig)

    def __post_init__(self):
        if self.name not in BACKBONES:
            raise InvalidConfig(f"unknown backbone {self.name!r}; available: {list(BACKBONES)}")
        if self.stream not in STREAMS:
            raise InvalidConfig(f"unknown input stream {self.stream!r}; use one of {list(STREAMS)}")
        if self.objective not in OBJECTIVES:
            raise InvalidConfig(f"unknown pretraining objective {self.objective!r}; use one of {list(OBJECTIVES)}")
        if self.epochs < 1 or self.batch_size < 1 or self.frames < 4:
            raise InvalidConfig("backbone epochs and batch_size must be >= 1 and frames >= 4")
        if len(self.channels) != len(self.strides) or not self.channels:
            raise InvalidConfig(f"backbone channels {self.channels} and strides {self.strides} must be "
                                "non-empty and of the same length (one entry per block)")

    @classmethod
    def paper(cls, name: str, **changes) -> "BackboneConfig":
        """The papers' configuration of a backbone (10 blocks, 64 frames); a GPU is advisable."""
        base = dict(name=name, channels=PAPER_CHANNELS, strides=PAPER_STRIDES, frames=64, epochs=65,
                    batch_size=64, lr=0.05, dropout=0.0)
        return cls(**(base | changes))

    def identity(self) -> dict:
        """The settings that define the features (GAP settings count only when GAP is the objective)."""
        d = asdict(self)
        if self.objective != "gap":
            d.pop("gap")
        elif self.gap.text_tower == "frozen":
            d["gap"].pop("text_lr")  # no text weights are trained: the rate changes nothing
        return d


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
    logits: np.ndarray | None = None  # (N, len(seen_classes)) classifier scores of every sample
    seen_classes: tuple[int, ...] = ()  # class id of each logit column


def build_backbone(config: BackboneConfig, data: SkeletonSet, num_classes: int):
    """The untrained network named by ``config.name`` for ``data``'s layout."""
    from .ctrgcn import CTRGCN
    from .shiftgcn import ShiftGCN
    from .stgcn import STGCN

    common = dict(channels=tuple(config.channels), strides=tuple(config.strides), dropout=config.dropout)
    if config.name == "stgcn":
        return STGCN(data.layout, num_classes, temporal_kernel=config.temporal_kernel, **common)
    return {"shiftgcn": ShiftGCN, "ctrgcn": CTRGCN}[config.name](data.layout, num_classes, **common)


def gap_prompts(data: SkeletonSet, config: BackboneConfig) -> GapPrompts | None:
    """GAP's class prompts for ``data`` (None for plain cross-entropy)."""
    if config.objective != "gap":
        return None
    from ..text.descriptions import text_bank_for

    return GapPrompts(text_bank_for(data.name, data.class_names), data.layout, config.gap)


def cache_key(data: SkeletonSet, protocol: Protocol, config: BackboneConfig, seed: int,
              prompts: GapPrompts | None = None) -> str:
    return stable_hash({
        "data": data.fingerprint(), "split": protocol.split.as_dict(), "protocol": asdict(protocol.config),
        "backbone": config.identity(), "seed": seed, "code": CODE_VERSION,
        "text": stable_hash(prompts.strings()) if prompts else None,
    })


def pretrain(data: SkeletonSet, protocol: Protocol, config: BackboneConfig | None = None, *, seed: int = 0,
             cache_dir=None, show_progress: bool = True, objective: str | None = None) -> Pretrained:
    """Train (or load from the cache) a backbone on ``seen_train`` and extract features of all samples."""
    config = config or BackboneConfig()
    if objective is not None:
        config = replace(config, objective=objective)
    prompts = gap_prompts(data, config)
    key = cache_key(data, protocol, config, seed, prompts)
    folder = cache_root(cache_dir) / "features" / key
    cached = _load(folder)
    if cached is not None:
        return cached
    start = time.perf_counter()
    device = get_device()
    if prompts is not None:
        from ..text.encoders import CachedEncoder, get_encoder

        prompts.embed(CachedEncoder(get_encoder(config.gap.encoder), cache_dir))
    build = folder.parent / f".build-{key}"
    net, history, best_epoch, best_val, resumed = _train(data, protocol, config, seed, device, prompts, build,
                                                         show_progress)
    outputs = _forward_all(net, *_inputs(data, config), config.batch_size * 4, device, show_progress,
                           prompts.joint_groups if prompts else None)
    if prompts is not None:
        gap.embed_with_tuned_tower(net, prompts)  # a fine-tuned tower's text of every class
    features = _feature_set(data, outputs, prompts)
    seconds = time.perf_counter() - start
    meta = {"key": key, "history": history, "best_epoch": best_epoch, "seen_val_accuracy": best_val,
            "seconds": seconds, "config": config.identity(), "seed": seed, "code": CODE_VERSION,
            "num_samples": len(data), "dataset": data.name, "seen_classes": list(protocol.seen),
            "resumed_from_epoch": resumed, "device": str(device)}
    _store(folder, features, outputs[0], net, meta)
    shutil.rmtree(build, ignore_errors=True)
    return Pretrained(features, key, False, history, best_epoch, best_val, seconds, meta, outputs[0],
                      tuple(protocol.seen))


def _inputs(data: SkeletonSet, config: BackboneConfig):
    """Network input of the configured stream and the (N, M) mask of persons present."""
    joints = prepare(data, config.frames)
    present = np.abs(joints).sum(axis=(2, 3, 4)) > 0
    return to_stream(joints, data.layout, config.stream), present


def _augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random yaw (+-30 deg) and scale (0.9-1.1) per sample: viewpoint and body-size robustness.

    Every stream is linear in the coordinates, so rotating the stream equals streaming the rotation.
    """
    n = x.shape[0]
    theta = rng.uniform(-np.pi / 6, np.pi / 6, size=n)
    scale = rng.uniform(0.9, 1.1, size=n)
    c, s = np.cos(theta), np.sin(theta)
    rot = np.zeros((n, 3, 3), dtype=np.float32)
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1, -s, c
    rot *= scale[:, None, None]
    return np.einsum("nmtvc,ndc->nmtvd", x, rot).astype(np.float32)


def _train(data, protocol, config, seed, device, prompts, build, show_progress):
    import torch
    import torch.nn.functional as F
    from torch import nn

    seed_everything(seed)
    seen = np.asarray(protocol.seen)
    to_local = {int(c): i for i, c in enumerate(seen)}
    inputs, present = _inputs(data, config)
    train_idx, val_idx = protocol.views["seen_train"], protocol.views["seen_val"]
    y_train = np.array([to_local[int(c)] for c in data.labels[train_idx]])
    y_val = np.array([to_local[int(c)] for c in data.labels[val_idx]])

    net = nn.ModuleDict({"backbone": build_backbone(config, data, len(seen))})
    if prompts is not None:
        net["heads"] = gap.build_heads(prompts, net["backbone"].out_channels)
        if config.gap.text_tower == "finetune":
            net["text"] = gap.trainable_tower(prompts)
    net = net.to(device)
    groups = gap.parameter_groups(net, config.lr, config.gap.text_lr)
    opt = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = int(np.ceil(len(train_idx) / config.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                total_steps=config.epochs * steps_per_epoch, pct_start=0.15)
    rng = np.random.default_rng(seed)
    history, best = [], {"val": -1.0, "epoch": 0, "state": None}
    resumed = checkpoints.resume(build, net, opt, sched, rng)
    if resumed:
        history, best = resumed["history"], resumed["best"]
    first = len(history)
    bar = progress(range(first, config.epochs), desc=f"pretrain {config.name}", enabled=show_progress,
                   initial=first, total=config.epochs)
    for epoch in bar:
        net.train()
        order = rng.permutation(len(train_idx))
        total_loss, correct = 0.0, 0
        for b in range(steps_per_epoch):
            sel = order[b * config.batch_size:(b + 1) * config.batch_size]
            xb = inputs[train_idx[sel]]
            if config.augment:
                xb = _augment(xb, rng)
            xb = torch.from_numpy(xb).to(device)
            yb = torch.from_numpy(y_train[sel]).to(device)
            logits, pooled, tokens = net["backbone"](xb, torch.from_numpy(present[train_idx[sel]]).to(device))
            loss = F.cross_entropy(logits, yb)
            if prompts is not None:
                text = gap.batch_text(net, prompts, seen[y_train[sel]], rng).to(device)
                aligned = gap.project(net["heads"], pooled, tokens, prompts.joint_groups)
                loss = loss + config.gap.weight * gap.gap_loss(aligned, text, yb, config.gap.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(sel)
            correct += int((logits.argmax(1) == yb).sum())
        val_logits = _forward_all(net, inputs[val_idx], present[val_idx], config.batch_size * 4, device)[0]
        val_acc = float((val_logits.argmax(1) == y_val).mean()) if len(y_val) else float("nan")
        history.append({"epoch": epoch + 1, "train_loss": total_loss / len(train_idx),
                        "train_accuracy": correct / len(train_idx), "seen_val_accuracy": val_acc})
        bar.set_postfix(loss=f"{total_loss / len(train_idx):.3f}", val=f"{val_acc:.3f}")
        if val_acc > best["val"] or best["state"] is None:  # first epoch wins when seen_val is empty
            best = {"val": val_acc, "epoch": epoch + 1,
                    "state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}}
        checkpoints.save(build, net, opt, sched, rng, history, best)
    net.load_state_dict(best["state"])
    return net, history, best["epoch"], best["val"], (first if resumed else 0)


def _forward_all(net, x: np.ndarray, present: np.ndarray, batch: int, device, show_progress: bool = False,
                 joint_groups=None):
    """(logits, pooled, tokens[, aligned]) of every sample in evaluation mode, without augmentation."""
    import torch

    from .gap_objective import project

    net.eval()
    backbone = net["backbone"] if "backbone" in net else net
    outs = ([], [], [], [])
    with torch.no_grad():
        for b in progress(range(0, len(x), batch), desc="extract features", enabled=show_progress):
            xb = torch.from_numpy(x[b:b + batch]).to(device)
            logits, pooled, tokens = backbone(xb, torch.from_numpy(present[b:b + batch]).to(device))
            res = [logits, pooled, tokens]
            if joint_groups is not None:
                res.append(project(net["heads"], pooled, tokens, joint_groups))
            for store, value in zip(outs, res):
                store.append(value.float().cpu().numpy())
    return tuple(np.concatenate(o) for o in outs if o)


def extract(model, data: SkeletonSet, config: BackboneConfig, *, show_progress: bool = False,
            device=None) -> FeatureSet:
    """Features of every sample of ``data`` from a trained backbone, without augmentation."""
    from torch import nn

    device = device or get_device()
    outputs = _forward_all(nn.ModuleDict({"backbone": model}), *_inputs(data, config), config.batch_size * 4,
                           device, show_progress)
    return _feature_set(data, outputs, None)


def _feature_set(data: SkeletonSet, outputs, prompts: GapPrompts | None) -> FeatureSet:
    pooled, tokens = outputs[1].astype(np.float32), outputs[2].astype(np.float32)
    if prompts is None:
        return FeatureSet(pooled, tokens, data.sample_ids)
    return AlignedFeatures(pooled, tokens, data.sample_ids, outputs[3].astype(np.float32), prompts.streams,
                           prompts.class_text())


def _store(folder, features: FeatureSet, logits: np.ndarray, net, meta: dict) -> None:
    import torch

    arrays = {"pooled": features.pooled, "tokens": features.tokens, "logits": logits,
              "sample_ids": np.array(features.sample_ids)}
    if isinstance(features, AlignedFeatures):
        arrays |= {"aligned": features.aligned, "class_text": features.class_text,
                   "streams": np.array(features.streams)}
    with atomic_dir(folder) as tmp:
        np.savez(tmp / "features.npz", **arrays)
        torch.save(net.state_dict(), tmp / "model.pt")  # backbone.*; with GAP heads.*, a tuned tower's text.*
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
            ids = tuple(str(s) for s in z["sample_ids"])
            if "aligned" in z:
                features = AlignedFeatures(z["pooled"], z["tokens"], ids, z["aligned"],
                                           tuple(str(s) for s in z["streams"]), z["class_text"])
            else:
                features = FeatureSet(z["pooled"], z["tokens"], ids)
            logits = z["logits"]
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return Pretrained(features, meta["key"], True, meta["history"], meta["best_epoch"],
                      meta["seen_val_accuracy"], 0.0, meta, logits, tuple(meta["seen_classes"]))
