"""SCoPLe's prompt training on the CPU: samples per second, time per step and peak memory.

Every training step back-propagates through the frozen text tower (MiniLM by default) for the
prompted text of the step's classes; this script measures what that costs for each kind of text
prompting (none, CoOp, deep, dual stream), with the full skeleton prompting, on a run's cached
backbone features. It fits on ``seen_train`` (``seen_val`` for the kept epoch, as the runner) and
times scoring on ``seen_val`` against the seen classes; no test view is read.

Fit time counts everything ``fit`` does (the copy of the tower, the original stream, the
per-epoch seen-val check), so ms per step is an upper bound on one optimiser step. Peak memory is the process's resident high-water mark (``ru_maxrss``) after each variant, next to
the resident size before any training (the tower and the features loaded); timings on a shared CPU
vary with the load.

    python scripts/bench_scople.py --dataset kard --split random:5:0 --epochs 3
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import replace


def resident_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv=None) -> dict:
    import numpy as np

    from zssar.data.registry import load_dataset
    from zssar.methods.base import make_method
    from zssar.runner import RunConfig, class_text_for, protocol_for, train_backbone

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--split", default="random:5:0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.add_argument("--cache", default=None)
    p.add_argument("--backbone-epochs", type=int, default=20, help="backbone pretraining epochs (cached)")
    p.add_argument("--epochs", type=int, default=3, help="SCoPLe training epochs per variant")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--variants", default="none,coop,deep,dual", help="text prompting kinds to time")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    config = RunConfig(dataset=args.dataset, split=args.split, seed=args.seed, data_root=args.data_root,
                       cache_dir=args.cache)
    config = replace(config, backbone=replace(config.backbone, epochs=args.backbone_epochs))
    data = load_dataset(config.dataset, config.data_root)
    protocol = protocol_for(config, data)
    text = class_text_for(config, data)
    features = train_backbone(config, data, protocol, text, show_progress=False).features
    train, val = protocol.views["seen_train"], protocol.views["seen_val"]
    seen = text.take(protocol.seen)
    text.tower()  # load the tower before measuring the baseline memory
    out = {"dataset": data.name, "split": protocol.split.name, "train_samples": int(len(train)),
           "seen_classes": len(protocol.seen), "epochs": args.epochs, "batch_size": args.batch_size,
           "resident_before_mib": round(resident_mib(), 1), "variants": {}}
    for kind in args.variants.split(","):
        method = make_method("scople", text_prompt=kind, epochs=args.epochs, batch_size=args.batch_size)
        start = time.perf_counter()
        method.fit(features.subset(train), data.labels[train], seen, val=(features.subset(val), data.labels[val]),
                   seed=args.seed)
        fit_s = time.perf_counter() - start
        steps = args.epochs * int(np.ceil(len(train) / args.batch_size))
        start = time.perf_counter()
        method.scores(features.subset(val), seen)
        score_s = time.perf_counter() - start
        out["variants"][kind] = {"fit_s": round(fit_s, 2), "steps": steps,
                                 "train_samples_per_s": round(args.epochs * len(train) / fit_s, 1),
                                 "ms_per_step": round(1e3 * fit_s / steps, 1),
                                 "score_samples_per_s": round(len(val) / score_s, 1),
                                 "peak_resident_mib": round(peak_mib(), 1)}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['dataset']} {out['split']}: {out['train_samples']} seen_train samples, {out['seen_classes']} "
              f"seen classes, {args.epochs} epochs of batch {args.batch_size}; resident before training "
              f"{out['resident_before_mib']} MiB")
        for kind, v in out["variants"].items():
            print(f"  text_prompt={kind:5s} fit {v['fit_s']:6.1f} s  {v['train_samples_per_s']:7.1f} train samples/s  "
                  f"{v['ms_per_step']:7.1f} ms/step  scoring {v['score_samples_per_s']:8.1f} samples/s  "
                  f"peak {v['peak_resident_mib']:.0f} MiB")
    return out


if __name__ == "__main__":
    main()
