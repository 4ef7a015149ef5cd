"""What choosing the GZSL calibration on the unseen test set would add, per method: a leak study.

Most public ZSSAR code picks the calibrated-stacking gamma (or the entropy gate's delta) by the best
test H. zssar chooses both on seen-val. For each run this script does the run as `zssar run` does it
(same data, split, seed, defaults, feature cache), then, after the fact, scans gamma and delta on the
run's own GZSL test scores and labels for the best test H: the difference is what the test-set
choice alone adds. Nothing here feeds back into any run; the rows are a measurement of the shortcut.

Rows (JSON lines, one per method, split and seed) go to --out as they finish; rows already there are
skipped, so an interrupted study goes on. Chapter 12 reads them from results/leak_study/.

    ZSSAR_DATA=... .venv/bin/python scripts/leak_study.py --dataset kard --setting cross_subject \\
        --methods global purls star --splits random:5:seed=0 random:5:seed=1 --seeds 0 \\
        --out results/leak_study/kard.jsonl
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def study_row(result) -> dict:
    """The seen-val choices' test H against the best test H over gamma and over delta."""
    from zssar.evaluate import normalised_entropy, select_delta, select_gamma

    protocol, record = result.protocol, result.record
    scores, truth, classes = result.scores["gzsl"], result.truths["gzsl"], result.candidates["gzsl"]
    by_gamma = select_gamma(scores, truth, classes, protocol.seen, protocol.unseen)
    # as the runner gates: the entropy of the scores the gate reads (SynSE's seen/unseen gate, a
    # streaming method's stable scores, else the scores), the class from the scores themselves
    temperature = record["selected"]["gate_temperature"]
    by_delta = select_delta(scores, truth, classes, protocol.seen, protocol.unseen, temperature=temperature,
                            entropies=normalised_entropy(result.gate_scores["gzsl"], temperature))
    m = record["metrics"]
    return {"dataset": record["dataset"], "split": record["split"]["name"], "seed": record["seed"],
            "method": record["method"], "zsl_top1": m["zsl_top1"],
            "H_seen_val_gamma": m["gzsl_H"], "H_test_gamma": by_gamma["H"],
            "H_gate_seen_val_delta": m["gzsl_gate_H"], "H_gate_test_delta": by_delta["H"],
            "gamma_seen_val": record["selected"]["gamma"], "gamma_test": by_gamma["gamma"],
            "versions": record["versions"]}


def main(argv=None) -> list[dict]:
    from zssar.data.registry import load_dataset
    from zssar.data.split_registry import split_for
    from zssar.runner import RunConfig, run_experiment

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--setting", default="default")
    parser.add_argument("--methods", nargs="+", required=True)
    parser.add_argument("--splits", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        done = {(r["split"], r["seed"], r["method"]) for r in map(json.loads, filter(str.strip, out.open()))}
    data = load_dataset(args.dataset, args.root)
    rows = []
    for split in args.splits:
        for seed in args.seeds:
            for method in args.methods:
                config = RunConfig(dataset=args.dataset, split=split, setting=args.setting, method=method,
                                   seed=seed, data_root=args.root, cache_dir=args.cache)
                if (split_for(data, split).name, seed, method) in done:  # the name records carry
                    continue
                start = time.perf_counter()
                row = study_row(run_experiment(config, data=data, show_progress=False))
                with out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                rows.append(row)
                print(f"{method:>16} {row['split']} seed {seed}: H {row['H_seen_val_gamma']:.3f} (seen-val gamma) "
                      f"vs {row['H_test_gamma']:.3f} (test gamma), {time.perf_counter() - start:.0f} s", flush=True)
    return rows


if __name__ == "__main__":
    main()
