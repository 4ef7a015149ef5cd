"""The ``zssar`` command line. It calls the same functions as the notebooks."""
from __future__ import annotations

import argparse
import json
import sys

from .errors import ZssarError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zssar", description="Zero-shot skeleton-based action recognition.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train and evaluate one method on a dataset / split / seed")
    run.add_argument("--method", default="global")
    run.add_argument("--dataset", default="synthetic")
    run.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")
    run.add_argument("--split", default="random:5:seed=0",
                     help="'random:K:seed=S', 'unseen=1,2,3', 'seen=..;unseen=..' or 'none'")
    run.add_argument("--setting", default="cross_subject")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--encoder", default="minilm")
    run.add_argument("--epochs", type=int, default=None, help="backbone pretraining epochs")
    run.add_argument("--cache", default=None, help="cache folder (default: $ZSSAR_CACHE or ~/.cache/zssar)")
    run.add_argument("--results", default=None, help="append the record to this JSON-lines file")
    run.add_argument("--json", action="store_true", help="print the results record as JSON")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    data = sub.add_parser("data", help="counts per class / subject / view of a dataset")
    data.add_argument("--dataset", default="synthetic")
    data.add_argument("--root", default=None)
    data.add_argument("--json", action="store_true")
    return p


def _cmd_run(args) -> dict:
    from dataclasses import replace

    from .experiment import RunConfig, run_experiment
    from .results import append_record

    config = RunConfig(dataset=args.dataset, split=args.split, setting=args.setting, method=args.method,
                       seed=args.seed, encoder=args.encoder, data_root=args.root, cache_dir=args.cache)
    if args.epochs is not None:
        config = replace(config, backbone=replace(config.backbone, epochs=args.epochs))
    result = run_experiment(config, show_progress=not args.quiet)
    if args.results:
        append_record(result.record, args.results)
    return result.record


def _cmd_data(args) -> dict:
    import numpy as np

    from .data.registry import load_dataset

    data = load_dataset(args.dataset, args.root)
    out = data.summary()
    out["per_class"] = {name: int((data.labels == i).sum()) for i, name in enumerate(data.class_names)}
    out["per_subject"] = {int(s): int((data.subjects == s).sum()) for s in np.unique(data.subjects)}
    out["per_view"] = {int(v): int((data.views == v).sum()) for v in np.unique(data.views)}
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        out = {"run": _cmd_run, "data": _cmd_data}[args.command](args)
    except ZssarError as exc:
        print(f"zssar: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        from .results import json_default

        print(json.dumps(out, indent=2, default=json_default))
    else:
        _print_human(args.command, out)
    return 0


def _print_human(command: str, out: dict) -> None:
    if command == "run":
        print(f"{out['method']} on {out['dataset']} ({out['data_source']}), split {out['split']['name']}, "
              f"seed {out['seed']}")
        for k, v in out["metrics"].items():
            print(f"  {k:28s} {v:.4f}")
        print(f"  selected gamma (seen data only): {out['selected'].get('gamma', 0):.4f}")
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
