"""Training and feature-extraction throughput at the shape of NTU-60 cross-subject, and one epoch's time.

    .venv/bin/python scripts/bench_ntu_throughput.py                    # default and papers' config, CPU
    .venv/bin/python scripts/bench_ntu_throughput.py --device cuda --amp --steps 20
    .venv/bin/python scripts/bench_ntu_throughput.py --backbone ctrgcn --configs paper --json

The data are random, shaped like NTU-60's cross-subject training set: 40,091 sequences of 2 persons,
64 frames, 25 joints, 3 coordinates (speed does not depend on the values). Nothing of that size is
held: each batch is drawn just before its step, outside the timed region, and cut to the config's
frame count as pretraining's resampling does once up front. Two configurations: the default one
(``BackboneConfig()``, CPU-sized) and the papers' (``BackboneConfig.paper``; Shift-GCN unless
``--backbone`` names another), each in its own process so that its peak memory is its own.

Per configuration: training samples per second (forward, backward and optimiser step at the config's
batch size, on ``--warmup`` untimed then ``--steps`` timed steps (default 1 + 3; 1 + 1 for the papers'
config on CPU, where one step takes about a minute), with the config's optimiser; not
pretraining's augmentation), feature extraction samples per second (no gradients, evaluation mode,
at pretraining's extraction batch, four times the training batch), the time one epoch of 40,091
sequences and one extraction pass over them would take at those rates, and the peak memory (the
process's peak resident set on CPU; ``torch.cuda.max_memory_allocated`` on CUDA). zssar trains in
float32; ``--amp`` measures under ``torch.autocast`` (bfloat16) instead. Timings are only comparable
on an otherwise idle machine: the load average before and after is printed with them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

NTU60_XSUB_TRAIN = 40_091
PERSONS, RAW_FRAMES, JOINTS, COORDS, CLASSES = 2, 64, 25, 3, 60
CONFIGS = ("default", "paper")


def backbone_config(which: str, backbone: str | None):
    from zssar.backbones.config import BackboneConfig

    if which == "paper":
        return BackboneConfig.paper(backbone or "shiftgcn")
    return BackboneConfig(name=backbone) if backbone else BackboneConfig()


def measure(which: str, backbone: str | None, device_name: str | None, steps: int, warmup: int, amp: bool,
            threads: int | None) -> dict:
    import torch

    from zssar.backbones.config import build_backbone
    from zssar.data.layouts import get_layout
    from zssar.utils import get_device

    if threads:
        torch.set_num_threads(threads)
    config = backbone_config(which, backbone)
    device = get_device(device_name)
    gen = torch.Generator().manual_seed(0)
    model = build_backbone(config, get_layout("ntu25"), CLASSES).to(device)
    frames = torch.linspace(0, RAW_FRAMES - 1, config.frames).round().long()  # full-length sequences resampled

    def batch(size: int):
        x = torch.randn(size, PERSONS, RAW_FRAMES, JOINTS, COORDS, generator=gen)[:, :, frames]
        return x.to(device), torch.randint(0, CLASSES, (size,), generator=gen).to(device)

    if config.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True,
                              weight_decay=config.weight_decay)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)

    def train_step(x, y):
        with autocast:
            loss = torch.nn.functional.cross_entropy(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def extract_step(x, _):
        with torch.no_grad(), autocast:
            model(x)

    def rate(step, size: int, mode) -> float:
        mode()
        elapsed = 0.0
        for i in range(warmup + steps):
            x, y = batch(size)
            _sync(device)
            start = time.perf_counter()
            step(x, y)
            _sync(device)
            if i >= warmup:  # warm-up: allocator, kernel selection, first-touch of the weights
                elapsed += time.perf_counter() - start
        return size * steps / elapsed

    train = rate(train_step, config.batch_size, model.train)
    extract = rate(extract_step, config.batch_size * 4, model.eval)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"config": which, "backbone": config.name, "channels": list(config.channels), "frames": config.frames,
            "optimizer": config.optimizer, "train_batch": config.batch_size, "extract_batch": config.batch_size * 4,
            "parameters": sum(p.numel() for p in model.parameters()), "device": str(device), "amp": amp,
            "threads": torch.get_num_threads(), "warmup_steps": warmup, "timed_steps": steps,
            "train_samples_per_s": round(train, 2), "extract_samples_per_s": round(extract, 2),
            "epoch_s": round(NTU60_XSUB_TRAIN / train, 1), "extract_all_s": round(NTU60_XSUB_TRAIN / extract, 1),
            "peak_memory_mb": round(peak / 2**20, 1),
            "peak_memory_kind": "cuda max_memory_allocated" if device.type == "cuda" else "process peak RSS"}


def _sync(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def machine(device_name: str | None, threads: int | None) -> dict:
    import torch

    from zssar.utils import get_device

    if threads:
        torch.set_num_threads(threads)
    device = get_device(device_name)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {"cpu": _cpu_name(), "logical_cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "device": str(device), "gpu": gpu,
            "load_average_1min": round(os.getloadavg()[0], 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    p.add_argument("--backbone", default=None, choices=["stgcn", "shiftgcn", "ctrgcn"],
                   help="network of both configs (default: BackboneConfig()'s stgcn, the papers' Shift-GCN)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: $ZSSAR_DEVICE, else CUDA if present)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps of each measurement (default: 3; 1 for the papers' config on CPU, where a "
                        "training step takes about a minute)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps before them")
    p.add_argument("--amp", action="store_true", help="torch.autocast with bfloat16 (zssar itself trains in float32)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--one", choices=CONFIGS, help=argparse.SUPPRESS)  # internal: one config in this process
    args = p.parse_args(argv)
    if (args.steps is not None and args.steps < 1) or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")
    if args.one:
        print(json.dumps(measure(args.one, args.backbone, args.device, args.steps or 3, args.warmup, args.amp,
                                 args.threads)))
        return 0
    before = machine(args.device, args.threads)
    rows = []
    for which in args.configs:
        steps = args.steps or (1 if which == "paper" and before["device"] == "cpu" else 3)
        cmd = [sys.executable, __file__, "--one", which, "--steps", str(steps), "--warmup", str(args.warmup)]
        for flag, value in (("--backbone", args.backbone), ("--device", args.device), ("--threads", args.threads)):
            if value is not None:
                cmd += [flag, str(value)]
        if args.amp:
            cmd.append("--amp")
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            sys.stderr.write(done.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = {"machine": before | {"load_average_1min_after": round(os.getloadavg()[0], 2)},
              "dataset_shape": {"sequences": NTU60_XSUB_TRAIN, "persons": PERSONS, "frames": RAW_FRAMES,
                                "joints": JOINTS, "coords": COORDS, "classes": CLASSES},
              "rows": rows}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print(report)
    return 0


def _print(report: dict) -> None:
    m = report["machine"]
    print(f"machine: {m['cpu']} ({m['logical_cpus']} logical CPUs), torch {m['torch']} with {m['torch_threads']} "
          f"threads, device {m['device']}{' (' + m['gpu'] + ')' if m['gpu'] else ''}; load average "
          f"{m['load_average_1min']} before, {m['load_average_1min_after']} after")
    print(f"data: NTU-60 cross-subject training shape, {NTU60_XSUB_TRAIN:,} sequences x {PERSONS} persons x "
          f"{RAW_FRAMES} frames x {JOINTS} joints x {COORDS} (random values)")
    print(f"{'config':8s} {'backbone':9s} {'params':>9s} {'frames':>6s} {'batch':>5s} {'train/s':>8s} "
          f"{'epoch':>9s} {'extract/s':>9s} {'extract all':>11s} {'peak MB':>8s}")
    for r in report["rows"]:
        print(f"{r['config']:8s} {r['backbone']:9s} {r['parameters']:9d} {r['frames']:6d} {r['train_batch']:5d} "
              f"{r['train_samples_per_s']:8.1f} {_duration(r['epoch_s']):>9s} {r['extract_samples_per_s']:9.1f} "
              f"{_duration(r['extract_all_s']):>11s} {r['peak_memory_mb']:8.1f}")
    steps = ", ".join(f"{r['config']} {r['warmup_steps']} warm-up + {r['timed_steps']} timed" for r in report["rows"])
    r = report["rows"][0]
    print(f"(steps per measurement: {steps}; each config's optimiser; extraction at 4x the training batch; "
          f"amp {'on (bfloat16)' if r['amp'] else 'off (float32)'}; peak memory: {r['peak_memory_kind']})")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _cpu_name() -> str:
    from zssar.records import machine

    return machine()["cpu"] or "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
