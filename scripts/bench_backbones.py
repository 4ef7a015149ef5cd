"""Throughput and peak memory of each skeleton backbone (training and inference).

    .venv/bin/python scripts/bench_backbones.py               # CPU-sized configs, 2 threads
    .venv/bin/python scripts/bench_backbones.py --paper --threads 16 --json
    .venv/bin/python scripts/bench_backbones.py --out results/bench/backbones_cpu.json  # read by chapter 04

Each backbone is measured in its own process so that its peak resident memory (CPU) or peak
allocated memory (CUDA) is its own. Inputs are random (N, M, T, V, 3) batches in the NTU layout:
speed does not depend on the values. Timings are only comparable on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time

BACKBONES = ("stgcn", "shiftgcn", "ctrgcn")


def measure(name: str, paper: bool, threads: int, batch: int, persons: int, steps: int, layout: str) -> dict:
    import torch

    from zssar.backbones.config import BackboneConfig, build_backbone
    from zssar.data.layouts import get_layout
    from zssar.utils import get_device

    torch.set_num_threads(threads)
    config = BackboneConfig.paper(name) if paper else BackboneConfig(name=name)
    device = get_device()
    skeleton = get_layout(layout)
    gen = torch.Generator().manual_seed(0)
    model = build_backbone(config, skeleton, 60).to(device)
    x = torch.randn(batch, persons, config.frames, skeleton.num_joints, 3, generator=gen).to(device)
    y = torch.randint(0, 60, (batch,), generator=gen).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train_step():
        loss = torch.nn.functional.cross_entropy(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    out = {"backbone": name, "config": "paper" if paper else "cpu", "channels": list(config.channels),
           "frames": config.frames, "batch": batch, "persons": persons, "threads": threads,
           "device": str(device), "parameters": sum(p.numel() for p in model.parameters())}
    for label, step, mode in (("train", train_step, model.train), ("inference", infer_step, model.eval)):
        mode()
        step()  # warm-up: allocator, kernels
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out[f"{label}_samples_per_s"] = round(batch * steps / (time.perf_counter() - start), 1)
    if device.type == "cuda":
        out["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    else:
        out["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    p.add_argument("--paper", action="store_true", help="the papers' 10-block configuration")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--persons", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--layout", default="ntu25")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="also write the rows and the machine they ran on to this JSON file")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one backbone in this process
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.paper, args.threads, args.batch, args.persons, args.steps,
                                 args.layout)))
        return 0
    rows, load_before = [], os.getloadavg()[0]
    for name in args.backbones:
        cmd = [sys.executable, __file__, "--one", name, "--threads", str(args.threads), "--batch",
               str(args.batch), "--persons", str(args.persons), "--steps", str(args.steps), "--layout", args.layout]
        if args.paper:
            cmd.append("--paper")
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.out:
        write_report(args.out, rows, load_before)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'backbone':10s} {'config':6s} {'params':>9s} {'train/s':>9s} {'infer/s':>9s} {'peak MB':>9s}  device")
    for r in rows:
        print(f"{r['backbone']:10s} {r['config']:6s} {r['parameters']:9d} {r['train_samples_per_s']:9.1f} "
              f"{r['inference_samples_per_s']:9.1f} {r['peak_memory_mb']:9.1f}  {r['device']} "
              f"({r['threads']} threads, batch {r['batch']} x {r['persons']} persons, {r['frames']} frames)")
    return 0


def write_report(path: str, rows: list[dict], load_before: float) -> None:
    """The rows with what they were measured on: timings mean little without the machine and its load."""
    from zssar.records import versions

    machine = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "cpu": _cpu_name(), "logical_cpus": os.cpu_count(), **versions(),
               "load_average_1min_before": round(load_before, 2),
               "load_average_1min_after": round(os.getloadavg()[0], 2)}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({"machine": machine, "rows": rows}, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    print(f"wrote {path}")


def _cpu_name() -> str:
    from zssar.records import machine

    return machine()["cpu"] or "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
