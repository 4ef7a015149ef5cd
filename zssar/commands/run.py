"""``zssar run``: train and evaluate one method on a dataset for one or more splits and seeds."""
from __future__ import annotations

import json

NAME = "run"
HELP = "train and evaluate a method on a dataset for one or more splits and seeds (one record each)"


def add_arguments(p) -> None:
    p.add_argument("--method", nargs="+", default=["global"],
                   help="one or more registered methods (global, gap, purls, dynapurls, ...)")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")
    p.add_argument("--split", nargs="+", default=["random:5:seed=0"],
                   help="one or more of 'random:K:seed=S', 'unseen=1,2,3', 'seen=..;unseen=..' or 'none'")
    p.add_argument("--setting", default="default",
                   help="cross_subject, cross_view, cross_setup or default (the dataset's own)")
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds")
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--text", default="auto", choices=["auto", "project", "borrowed", "label"],
                   help="class text: the project's descriptions (project), descriptions borrowed from the closest "
                        "described class of the project's other datasets (borrowed), class names only (label); "
                        "auto (default): project where the project describes the dataset, else borrowed")
    p.add_argument("--descriptions", default=None, metavar="FILE",
                   help="a description file of your own in the schema (e.g. from `zssar describe`), one entry per "
                        "class of the dataset; overrides --text")
    p.add_argument("--backbone", default=None, help="stgcn (default), shiftgcn or ctrgcn")
    p.add_argument("--paper", action="store_true",
                   help="the papers' backbone configuration (10 blocks, 64 frames, SGD; a GPU is advisable)")
    p.add_argument("--epochs", type=int, default=None, help="backbone pretraining epochs")
    p.add_argument("--frames", type=int, default=None, help="frames the backbone reads per sequence")
    p.add_argument("--precision", default=None, choices=["float32", "bfloat16"],
                   help="backbone training and extraction in float32 (default) or bfloat16 (mixed precision under "
                        "torch.autocast; for GPUs)")
    p.add_argument("--objective", default="ce", choices=["ce", "gap"],
                   help="backbone pretraining objective: ce (cross-entropy) or gap (CE + GAP's multi-part text "
                        "loss; --method gap then scores with the heads and prompts trained with it)")
    p.add_argument("--objective-set", dest="objective_settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of the objective (GAP: partition, text, weight, temperature, text_tower, "
                        "text_lr); repeatable")
    p.add_argument("--unseen-text-in-training", action="store_true",
                   help="allow a method variant that trains on every class's text, unseen ones included (STAR's "
                        "--set text_during_training=all_classes): not a zero-shot result; its record says so")
    p.add_argument("--calibration", default="shared", choices=["shared", "held_out"],
                   help="features gamma/delta/method settings are chosen on: shared (the run's backbone) or "
                        "held_out (a second backbone trained without the pseudo-unseen classes)")
    p.add_argument("--set", dest="method_settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a method setting (VALUE read as JSON when it parses, else as text); repeatable")
    p.add_argument("--cache", default=None, help="cache folder (default: $ZSSAR_CACHE or ~/.cache/zssar)")
    p.add_argument("--results", default=None, help="append every record to this JSON-lines file")
    p.add_argument("--resume", action="store_true",
                   help="skip every run whose record is already in --results (an interrupted sweep goes on)")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes for many runs (one per core; the methods of a split and seed share one)")
    p.add_argument("--plan", default=None, metavar="FILE",
                   help="write the runs not yet in --results as independent jobs (one per split and seed) to FILE "
                        "instead of running them; run each with `zssar jobs run FILE --index N` (a SLURM array "
                        "task, another machine), then `zssar jobs gather`")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def parse_settings(items: list[str]) -> dict:
    from ..errors import InvalidConfig

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidConfig(f"--set {item!r}: write KEY=VALUE, e.g. --set epochs=30")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def backbone_from_args(args):
    """The backbone configuration of ``--backbone``, ``--paper``, ``--epochs``, ``--frames`` and ``--precision``."""
    from dataclasses import replace

    from ..backbones.config import BackboneConfig

    changes = {k: v for k, v in (("epochs", args.epochs), ("frames", args.frames),
                                 ("precision", getattr(args, "precision", None))) if v is not None}
    if args.paper:
        return BackboneConfig.paper(args.backbone or "shiftgcn", **changes)
    return replace(BackboneConfig(**({"name": args.backbone} if args.backbone else {})), **changes)


def main(args) -> dict:
    from ..errors import InvalidConfig
    from ..methods.base import make_method
    from ..results import aggregate
    from ..runner import RunConfig
    from ..sweep import run_many

    settings = parse_settings(args.method_settings)
    if args.resume and not args.results:
        raise InvalidConfig("--resume needs --results FILE: the records to continue from")
    for method in args.method:
        make_method(method, **settings)  # fail early on an unknown method or setting
    config = RunConfig(dataset=args.dataset, split=args.split[0], setting=args.setting, method=args.method[0],
                       seed=args.seed[0], encoder=args.encoder, data_root=args.root, cache_dir=args.cache,
                       method_settings=settings, objective=args.objective, text=args.text,
                       descriptions=args.descriptions, unseen_text_in_training=args.unseen_text_in_training,
                       objective_settings=parse_settings(args.objective_settings), calibration=args.calibration,
                       backbone=backbone_from_args(args))
    if args.plan:
        from pathlib import Path

        from ..sweep import plan

        jobs = plan(config, seeds=args.seed, splits=args.split, methods=args.method, results=args.results)
        Path(args.plan).write_text("".join(json.dumps(job) + "\n" for job in jobs))
        return {"plan": args.plan, "jobs": len(jobs), "runs": sum(len(j["methods"]) for j in jobs)}
    records = run_many(config, seeds=args.seed, splits=args.split, methods=args.method, results=args.results,
                       resume=args.resume, show_progress=not args.quiet, jobs=args.jobs)
    # one shape for one run and many: the records, and their mean and std per (dataset, setting, method)
    summary = aggregate(records).to_dict(orient="records")
    return {"runs": len(records), "aggregate": summary, "records": records}


def _one(out: dict) -> None:
    print(f"{out['method']} on {out['dataset']} ({out['data_source']}), split {out['split']['name']}, "
          f"seed {out['seed']}")
    rows = out.get("text_provenance") or []
    if any(row["text"] != "project" for row in rows):
        from ..text.borrow import kinds_of
        from .data import text_lines

        print("\n".join(text_lines({"kinds": kinds_of(rows), "source": out.get("text_source", ""),
                                    "per_class": rows})))
    for k, v in out["metrics"].items():
        print(f"  {k:28s} {v:.4f}")
    sel = out["selected"]
    print(f"  selected on seen data only: gamma {sel.get('gamma', 0):.4f}, delta {sel.get('delta', 0):.4f}"
          + (f", {sel['method_selected']}" if sel.get("method_selected") else ""))


def human(out: dict) -> None:
    if "plan" in out:
        print(f"{out['jobs']} jobs ({out['runs']} runs) written to {out['plan']}; run job N with "
              f"`zssar jobs run {out['plan']} --index N`, then `zssar jobs gather`")
        return
    for record in out["records"]:
        _one(record)
    if out["runs"] == 1:
        return
    print(f"mean ± std over {out['runs']} runs:")
    for row in out["aggregate"]:
        print("  " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
