"""Inference time per sample of PURLS and DynaPURLS (with test-time refinement), as DynaPURLS Tab. 10.

Fits DynaPURLS once through the experiment runner (PURLS is the same frozen network without the
refinement), then times on the GZSL test stream (all classes are candidates):

* PURLS, batch size 1 (one sample at a time, the same streaming setting as DynaPURLS);
* PURLS, batched (how it is normally evaluated);
* DynaPURLS, batch size 1 with refinement (one Adam step per sample once the bank is filled).

Bar of the project: DynaPURLS <= 3x PURLS time per sample at batch size 1. Timings on a shared CPU
vary with the load; run it on an idle machine for numbers to quote.

    python scripts/bench_dynapurls.py --dataset synthetic --split random:5:seed=0 --samples 200
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def best_of(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls (the least disturbed by other processes)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> dict:
    from zssar.experiment import RunConfig, run_experiment
    from zssar.methods.purls import Purls

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--split", default="random:5:seed=0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=200, help="length of the timed stream")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--cache", default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    run = run_experiment(RunConfig(dataset=args.dataset, split=args.split, seed=args.seed, method="dynapurls",
                                   cache_dir=args.cache), show_progress=False)
    dyna, protocol = run.method, run.protocol
    index = protocol.views["gzsl_test"][: args.samples]
    feats = run.pretrained.features.subset(index)
    text = run.text_embeddings.take(protocol.seen + protocol.unseen)
    n = len(feats)
    rows = [feats.subset([i]) for i in range(n)]

    purls_stream = best_of(lambda: [Purls.scores(dyna, r, text) for r in rows], args.repeats) / n
    purls_batch = best_of(lambda: Purls.scores(dyna, feats, text), args.repeats) / n
    dyna_stream = best_of(lambda: dyna.scores(feats, text), args.repeats) / n
    out = {"dataset": run.data.name, "split": protocol.split.name, "samples": n, "candidates": len(text.class_ids),
           "selected": run.record["selected"]["method_selected"], "updates": dyna.last_stream["updates"],
           "ms_per_sample": {"purls_batch1": 1e3 * purls_stream, "purls_batched": 1e3 * purls_batch,
                             "dynapurls_batch1": 1e3 * dyna_stream},
           "samples_per_ms": {"purls_batch1": 1e-3 / purls_stream, "purls_batched": 1e-3 / purls_batch,
                              "dynapurls_batch1": 1e-3 / dyna_stream},
           "ratio_dynapurls_to_purls_batch1": dyna_stream / purls_stream,
           "bar_ratio_at_most": 3.0}
    out["meets_bar"] = bool(out["ratio_dynapurls_to_purls_batch1"] <= 3.0)
    if args.json:
        print(json.dumps(out, indent=2, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))
    else:
        print(f"{out['dataset']} {out['split']}: {n} GZSL test samples, {out['candidates']} candidates, "
              f"{out['updates']} refinement steps")
        for k, v in out["ms_per_sample"].items():
            print(f"  {k:18s} {v:8.2f} ms/sample  ({out['samples_per_ms'][k]:.3f} samples/ms)")
        print(f"  DynaPURLS / PURLS at batch size 1: {out['ratio_dynapurls_to_purls_batch1']:.2f}x "
              f"(bar: <= 3x) -> {'met' if out['meets_bar'] else 'NOT met'}")
    return out


if __name__ == "__main__":
    main()
