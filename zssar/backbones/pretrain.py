"""Seen-class pretraining of a skeleton backbone, and the features every method reads.

The backbone trains on the protocol's ``seen_train`` view only, picks its checkpoint by accuracy on
``seen_val`` and is never shown a sample of an unseen class. Features of all samples are then
extracted once (no augmentation) and kept in the feature cache (:mod:`zssar.backbones.cache`).

Cross-entropy over the seen classes is always trained; a method may add an objective of its own
(:class:`~zssar.backbones.objective.Objective`, e.g. GAP's), whose trained modules then travel with
the features. Training saves its state after every epoch in a build folder next to the entry
(``features/.build-<key>/``); a run interrupted there resumes from the last finished epoch and ends
with the same numbers as an uninterrupted one. Two processes that need the same entry at once train
it once: the second waits on ``features/.lock-<key>`` and then reads what the first stored. All randomness comes from the run's seed: a NumPy
generator for batches and augmentation, torch's generator (seeded inside :func:`~zssar.utils.torch_seeded`)
for initialisation and dropout.

``torchrun --nproc_per_node=N -m zssar pretrain ...`` trains the same network with
DistributedDataParallel, each process on its share of every batch, to the numbers of one process
with the same batch size up to float rounding (:mod:`zssar.backbones.distributed`); the entry it
stores has the key of a one-process run, which reuses it.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field

import numpy as np

from ..config import cache_root
from ..data.preprocess import prepare
from ..data.protocol import Protocol
from ..data.skeleton import SkeletonSet
from ..features import FeatureSet
from ..utils import get_device, progress, torch_seeded
from . import cache, checkpoints, distributed
from .config import BackboneConfig, build_backbone
from .objective import Objective
from .streams import to_stream



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


def pretrain(data: SkeletonSet, protocol: Protocol, config: BackboneConfig | None = None, *, seed: int = 0,
             cache_dir=None, show_progress: bool = True, objective: Objective | None = None) -> Pretrained:
    """Train (or load from the cache) a backbone on ``seen_train`` and extract features of all samples.

    Under ``torchrun`` every rank trains its share of each batch (:mod:`zssar.backbones.distributed`);
    rank 0 extracts the features and stores the entry, and every rank returns what rank 0 stored."""
    config = config or BackboneConfig()
    key = cache.cache_key(data, protocol, config, seed, objective)
    folder = cache_root(cache_dir) / "features" / key
    cached = cache.load(folder, data.layout)
    if cached is not None:
        return _loaded(cached, cache_hit=True)
    with cache.one_builder(folder.parent, key, distributed.world_size_from_env() > 1):
        cached = cache.load(folder, data.layout)  # another process may have built it while this one waited
        if cached is not None:
            return _loaded(cached, cache_hit=True)
        return _build(data, protocol, config, seed, objective, key, folder, show_progress)


def _build(data, protocol, config, seed, objective, key, folder, show_progress) -> Pretrained:
    start = time.perf_counter()
    build = folder.parent / f".build-{key}"
    with distributed.world() as world:
        show_progress = show_progress and world.is_main
        with torch_seeded(seed):
            net, history, best_epoch, best_val, resumed = _train(data, protocol, config, seed, world, objective,
                                                                 build, show_progress)
        if not world.is_main:  # rank 0 extracts features and writes the entry meanwhile
            world.barrier()
            return _loaded(_stored_by_rank0(folder, data.layout), cache_hit=False)
        device = world.device
        logits, pooled, tokens = _forward_all(net["backbone"], *_inputs(data, config), config.batch_size * 4,
                                              device, show_progress, config.precision)
        objective_meta = {"name": objective.name, "settings": objective.settings()} if objective is not None else None
        state = net.state_dict()
        features = FeatureSet(pooled, tokens, data.sample_ids, data.layout,
                              cache.objective_state(state, {"objective": objective_meta}))
        seconds = time.perf_counter() - start
        meta = {"key": key, "history": history, "best_epoch": best_epoch, "seen_val_accuracy": best_val,
                "seconds": seconds, "config": config.identity(), "seed": seed, "code": cache.CODE_VERSION,
                "num_samples": len(data), "dataset": data.name, "seen_classes": list(protocol.seen),
                "resumed_from_epoch": resumed, "device": str(device), "processes": world.size,
                "objective": objective_meta}
        cache.store(folder, features, logits, net, meta)
        shutil.rmtree(build, ignore_errors=True)
        world.barrier()
    return Pretrained(features, key, False, history, best_epoch, best_val, seconds, meta, logits,
                      tuple(protocol.seen))


def _stored_by_rank0(folder, layout):
    stored = cache.load(folder, layout)
    if stored is None:
        raise RuntimeError(f"rank 0 finished pretraining but left no readable cache entry in {folder}")
    return stored


def _loaded(cached, cache_hit: bool) -> Pretrained:
    """The :class:`Pretrained` of a verified cache entry."""
    features, logits, meta = cached
    return Pretrained(features, meta["key"], cache_hit, meta["history"], meta["best_epoch"],
                      meta["seen_val_accuracy"], 0.0 if cache_hit else meta["seconds"], meta, logits,
                      tuple(meta["seen_classes"]))


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


def _optimiser(config: BackboneConfig, groups: list[dict], steps_per_epoch: int):
    """The optimiser and its per-step schedule (see :mod:`zssar.backbones.config`)."""
    import torch

    total = config.epochs * steps_per_epoch
    if config.optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=total,
                                                    pct_start=0.15)
        return opt, sched
    opt = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True,
                          weight_decay=config.weight_decay)
    warmup, steps = config.warmup_epochs * steps_per_epoch, [s * steps_per_epoch for s in config.lr_steps]

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 ** sum(step >= s for s in steps)

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _train(data, protocol, config, seed, world, objective, build, show_progress):
    """Train on ``seen_train``; rank 0 (the only rank of one process) evaluates, checkpoints and saves."""
    import torch
    from torch import nn

    seen = np.asarray(protocol.seen)
    to_local = {int(c): i for i, c in enumerate(seen)}
    inputs, present = _inputs(data, config)
    train_idx, val_idx = protocol.views["seen_train"], protocol.views["seen_val"]
    y_train = np.array([to_local[int(c)] for c in data.labels[train_idx]])
    y_val = np.array([to_local[int(c)] for c in data.labels[val_idx]])

    device = world.device
    net = nn.ModuleDict({"backbone": world.prepare(build_backbone(config, data.layout, len(seen)))})
    groups = [{"params": list(net["backbone"].parameters()), "lr": config.lr}]
    if objective is not None:
        objective.prepare()
        net["objective"] = objective.build(net["backbone"].out_channels, data.layout)
        groups += objective.parameter_groups(net["objective"], config.lr)
    net = net.to(device)
    model = world.wrap(net["backbone"])
    steps_per_epoch = int(np.ceil(len(train_idx) / config.batch_size))
    opt, sched = _optimiser(config, groups, steps_per_epoch)
    rng = np.random.default_rng(seed)
    history, best = [], {"val": -1.0, "epoch": 0, "state": None}
    resumed = _resume(world, build, net, opt, sched, rng)
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
                xb = _augment(xb, rng)  # the global batch's draws, on every rank: one process's stream
            mine = world.start_batch(len(sel))  # this rank's positions in the global batch (all of it alone)
            xb = torch.from_numpy(xb[mine]).to(device)
            yb = torch.from_numpy(y_train[sel[mine]]).to(device)
            with autocast(device, config.precision):
                logits, pooled, tokens = model(xb, torch.from_numpy(present[train_idx[sel[mine]]]).to(device))
                if config.precision != "float32":  # the loss in float32 (float64 runs keep float64)
                    logits, pooled, tokens = logits.float(), pooled.float(), tokens.float()
                loss = _loss(world, logits, yb, len(sel))
                if objective is not None:  # the objective sees the global batch (gathered with gradients)
                    loss = loss + objective.loss(net["objective"], world.gather(pooled, len(sel)),
                                                 world.gather(tokens, len(sel)), seen[y_train[sel]], rng)
            opt.zero_grad()
            loss.backward()
            if objective is not None:
                world.average_gradients(net["objective"])
            opt.step()
            sched.step()
            if len(sel) < world.size:  # some rank had no sample and drew no dropout mask
                world.agree_on_torch_rng()
            total_loss += loss.item() * len(sel) / world.size
            correct += int((logits.argmax(1) == yb).sum())
        total_loss, correct = world.sum([total_loss, correct])
        if world.is_main:
            val_logits = _forward_all(net["backbone"], inputs[val_idx], present[val_idx], config.batch_size * 4,
                                      device, precision=config.precision)[0]
            val_acc = float((val_logits.argmax(1) == y_val).mean()) if len(y_val) else float("nan")
            history.append({"epoch": epoch + 1, "train_loss": total_loss / len(train_idx),
                            "train_accuracy": correct / len(train_idx), "seen_val_accuracy": val_acc})
            bar.set_postfix(loss=f"{total_loss / len(train_idx):.3f}", val=f"{val_acc:.3f}")
            if val_acc > best["val"] or best["state"] is None:  # first epoch wins when seen_val is empty
                best = {"val": val_acc, "epoch": epoch + 1,
                        "state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}}
            checkpoints.save(build, net, opt, sched, rng, history, best)
        world.barrier()
    if world.is_main:
        net.load_state_dict(best["state"])
    return net, history, best["epoch"], best["val"], (first if resumed else 0)


def _loss(world, logits, yb, global_size: int):
    """Cross-entropy of this rank's share whose DDP-averaged gradient is the global batch's mean."""
    import torch.nn.functional as F

    if world.size == 1:
        return F.cross_entropy(logits, yb)
    return world.batch_mean(F.cross_entropy(logits, yb, reduction="sum"), global_size)


def _resume(world, build, net, opt, sched, rng):
    """Rank 0 resumes first (a damaged state is removed there), then the others read the same file.

    The file holds rank 0's CUDA generator of each GPU; a rank draws on its own GPU, whose state
    must be rank 0's of GPU 0, so every rank then takes rank 0's generator states."""
    resumed = checkpoints.resume(build, net, opt, sched, rng) if world.is_main else None
    world.barrier()
    if not world.is_main:
        resumed = checkpoints.resume(build, net, opt, sched, rng)
    world.agree_on_torch_rng()
    return resumed


def autocast(device, precision: str):
    """``torch.autocast`` for ``precision`` (bfloat16) on the device's type; a no-op for float32."""
    import torch

    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bfloat16")


def _forward_all(backbone, x: np.ndarray, present: np.ndarray, batch: int, device, show_progress: bool = False,
                 precision: str = "float32"):
    """(logits, pooled, tokens) of every sample in evaluation mode, without augmentation, as float32."""
    import torch

    backbone.eval()
    outs = ([], [], [])
    with torch.no_grad(), autocast(device, precision):
        for b in progress(range(0, len(x), batch), desc="extract features", enabled=show_progress):
            xb = torch.from_numpy(x[b:b + batch]).to(device)
            for store, value in zip(outs, backbone(xb, torch.from_numpy(present[b:b + batch]).to(device))):
                store.append(value.float().cpu().numpy())
    return tuple(np.concatenate(o).astype(np.float32) for o in outs)


def extract(model, data: SkeletonSet, config: BackboneConfig, *, show_progress: bool = False,
            device=None) -> FeatureSet:
    """Features of every sample of ``data`` from a trained backbone, without augmentation."""
    device = device or get_device()
    _, pooled, tokens = _forward_all(model, *_inputs(data, config), config.batch_size * 4, device, show_progress,
                                     config.precision)
    return FeatureSet(pooled, tokens, data.sample_ids, data.layout)
