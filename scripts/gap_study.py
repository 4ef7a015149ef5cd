"""GAP's two uses, measured over seeds: supervised (does the text loss help the classifier?) and
zero-shot (GAP's heads and prompts against the global baseline).

(a) supervised: a Shift-GCN (CPU configuration) pretrained on all classes (split ``none``) with
    cross-entropy alone and with GAP's objective; row metric: seen-class test top-1 of the
    backbone's own classifier (as ``zssar pretrain`` reports it).
(b) zero-shot: ``run_experiment`` on each given split with method ``gap`` on a GAP-pretrained
    backbone against method ``global`` on a cross-entropy backbone (the same Shift-GCN settings);
    row metrics: ZSL top-1, class-mean ZSL, GZSL S/U/H (calibrated and gated).

Every row is appended to ``--out`` (JSON lines) as soon as it is done, and rows already there are
skipped, so an interrupted study continues where it stopped. Backbones go through the feature
cache, so the zero-shot runs of both methods never train the same backbone twice. At the end a
mean ± std table per condition is printed (std with ddof=1, 0 for a single run).

    ZSSAR_DATA=... .venv/bin/python scripts/gap_study.py --dataset kard --seeds 0 1 2 \\
        --splits random:5:seed=0 random:5:seed=1 random:5:seed=2 --out results/gap_study_kard.jsonl
    .venv/bin/python scripts/gap_study.py --dataset synthetic --seeds 0 --epochs 2 --out /tmp/gap.jsonl
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from zssar.results import STUDY_KEYS, STUDY_METRICS, load_records

SUPERVISED = ("ce", "gap")  # pretraining objectives
ZERO_SHOT = {"gap (objective gap)": ("gap", "gap"), "global (objective ce)": ("global", "ce")}  # method, objective


# GAP Tab. 1a (partition) and Tab. 1b (text type) as supervised rows: the study's own partition and
# text are the reference row ("gap"); each variant changes one of the two.
ABLATION = {**{f"gap partition={p}": {"partition": p} for p in ("global", "2", "4", "6")},
            **{f"gap text={t}": {"text": t} for t in ("label", "synonyms", "parts", "both")}}


def gap_settings(args, variant: dict | None = None) -> dict:
    return {"partition": args.partition, "text": args.text, "text_tower": args.text_tower, **(variant or {})}


def run_config(args, objective: str, variant: dict | None = None, **fields):
    """The study's run configuration: its Shift-GCN, and GAP's objective settings when it pretrains with GAP."""
    from zssar.backbones.config import BackboneConfig
    from zssar.runner import RunConfig

    backbone = replace(BackboneConfig(name="shiftgcn"), epochs=args.epochs, batch_size=args.batch_size)
    return RunConfig(dataset=args.dataset, setting=args.setting, backbone=backbone, objective=objective,
                     objective_settings=gap_settings(args, variant) if objective == "gap" else {},
                     data_root=args.root, cache_dir=args.cache, **fields)


def row_id(part: str, dataset: str, setting: str, split: str, condition: str, seed: int, args,
           variant: dict | None = None) -> str:
    """What identifies a row of the study (a changed setting makes a new row, never a skipped one)."""
    gap = gap_settings(args, variant)
    return json.dumps([part, dataset, setting, split, condition, seed, args.epochs, args.batch_size,
                       gap["partition"], gap["text"], gap["text_tower"]])


def supervised_row(data, args, objective: str, seed: int, variant: dict | None = None) -> dict:
    from zssar.runner import check_backbone

    start = time.perf_counter()
    report = check_backbone(run_config(args, objective, variant, split="none", seed=seed), data,
                            show_progress=not args.quiet)
    pre = report.pretrained
    return {"seen_test_top1": report.seen_test_top1, "seen_val_accuracy": pre.seen_val_accuracy,
            "best_epoch": pre.best_epoch, "cache_key": pre.key, "cache_hit": pre.cache_hit,
            "seconds": round(time.perf_counter() - start, 2),
            "training_seconds_when_built": round(pre.meta.get("seconds", 0.0), 2)}


def zero_shot_row(data, args, split: str, method: str, objective: str, seed: int) -> dict:
    from zssar.runner import run_experiment

    config = run_config(args, objective, split=split, method=method, seed=seed, calibration=args.calibration,
                        method_settings={"partition": args.partition, "text": args.text} if method == "gap" else {})
    start = time.perf_counter()
    record = run_experiment(config, data=data, show_progress=not args.quiet).record
    return {**{k: record["metrics"].get(k) for k in STUDY_METRICS["zero-shot"]},
            "selected_gamma": record["selected"].get("gamma"), "cache_key": record["backbone_cache"]["key"],
            "cache_hit": record["backbone_cache"]["hit"], "unseen": record["split"].get("unseen"),
            "seconds": round(time.perf_counter() - start, 2)}


def zero_shot_condition(condition: str, calibration: str) -> str:
    """``gap (objective gap)``, or ``gap (objective gap, held-out calibration)`` with --calibration held_out."""
    return condition if calibration == "shared" else f"{condition[:-1]}, held-out calibration)"


def planned(args):
    """(part, split, condition, seed, GAP variant, how to compute the row) for every row of the study."""
    if not args.skip_supervised:
        for seed in args.seeds:
            for objective in SUPERVISED:
                yield "supervised", "none", objective, seed, None, (
                    lambda d, o=objective, s=seed: supervised_row(d, args, o, s))
    for split in args.splits:
        for seed in args.seeds:
            for condition, (method, objective) in ZERO_SHOT.items():
                yield "zero-shot", split, zero_shot_condition(condition, args.calibration), seed, None, (
                    lambda d, sp=split, m=method, o=objective, s=seed: zero_shot_row(d, args, sp, m, o, s))
    if args.ablation:
        for seed in args.seeds:
            for condition, variant in ABLATION.items():
                if gap_settings(args, variant) == gap_settings(args):
                    continue  # the reference row, already the supervised "gap" row
                yield "ablation", "none", condition, seed, variant, (
                    lambda d, s=seed, v=variant: supervised_row(d, args, "gap", s, v))


def stored_rows(path: Path) -> list[dict]:
    return load_records(path, STUDY_KEYS) if path.exists() else []  # a damaged line is named, not skipped


def tables(rows: list[dict]) -> str:
    """Mean ± std (ddof=1, in %) per part of the study, and GAP minus CE on the same seed and split."""
    from zssar.results import study_paired, study_summary

    parts = [part for part in ("supervised", "zero-shot", "ablation") if any(r["part"] == part for r in rows)]
    out = [f"{part}:\n{study_summary(rows, part).to_string(index=False)}" for part in parts]
    if "supervised" in parts:
        out.append(f"paired:\n{study_paired(rows, 'supervised', 'gap', 'ce').to_string(index=False)}")
    if "zero-shot" in parts:
        for calibration in ("shared", "held_out"):
            names = [zero_shot_condition(c, calibration) for c in ZERO_SHOT]
            if all(any(r["condition"] == n for r in rows) for n in names):
                out.append(f"paired:\n{study_paired(rows, 'zero-shot', *names).to_string(index=False)}")
    return "\n\n".join(out)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")
    p.add_argument("--setting", default="default", help="the dataset's standard setting unless given")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--splits", nargs="*", default=["random:5:seed=0"],
                   help="zero-shot split specs (none: skip the zero-shot part)")
    p.add_argument("--epochs", type=int, default=60, help="backbone epochs (60 gave KARD 0.9333 with CE)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--partition", default="4", help="GAP body parts: global, 2, 4 or 6")
    p.add_argument("--text", default="both", help="GAP text: label, synonyms, parts or both")
    p.add_argument("--text-tower", default="frozen", help="GAP text tower: frozen or finetune")
    p.add_argument("--calibration", default="shared", choices=["shared", "held_out"],
                   help="zero-shot: choose gamma/delta on the run's backbone (shared) or on a second backbone "
                        "trained without the pseudo-unseen classes (held_out)")
    p.add_argument("--skip-supervised", action="store_true", help="only the zero-shot part")
    p.add_argument("--ablation", action="store_true",
                   help="also GAP Tab. 1a/1b as supervised rows: partition global/2/4/6, text label/synonyms/parts/both")
    p.add_argument("--cache", default=None, help="cache folder (default: $ZSSAR_CACHE or ~/.cache/zssar)")
    p.add_argument("--out", required=True, help="JSON-lines file of rows; rows already there are skipped")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)

    from zssar.data.registry import load_dataset

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {r["id"] for r in stored_rows(out)}
    data = load_dataset(args.dataset, args.root)
    print(f"{data.name}: {len(data)} samples, {data.num_classes} classes ({data.source})", flush=True)
    study_start = time.perf_counter()
    wanted = set()
    for part, split, condition, seed, variant, compute in planned(args):
        rid = row_id(part, data.name, args.setting, split, condition, seed, args, variant)
        wanted.add(rid)
        if rid in done:
            print(f"skip (already in {out}): {part} {split} {condition} seed {seed}", flush=True)
            continue
        row = {"id": rid, "part": part, "dataset": data.name, "setting": args.setting, "split": split,
               "condition": condition, "seed": seed, "epochs": args.epochs, "batch_size": args.batch_size,
               "gap": gap_settings(args, variant),
               **compute(data)}
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")
        done.add(rid)
        metric = STUDY_METRICS[part][0]
        print(f"done: {part} {split} {condition} seed {seed}: {metric} {row[metric]:.4f} "
              f"({row['seconds']:.1f} s)", flush=True)
    print(f"study time this run: {time.perf_counter() - study_start:.1f} s")
    rows = [r for r in stored_rows(out) if r["id"] in wanted]  # this study's rows, not other settings'
    print(tables(rows))
    return rows


if __name__ == "__main__":
    main()
