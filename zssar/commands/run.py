"""``zssar run``: train and evaluate one method on a dataset / split / seed."""
from __future__ import annotations

NAME = "run"
HELP = "train and evaluate one method on a dataset / split / seed"


def add_arguments(p) -> None:
    p.add_argument("--method", default="global")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")
    p.add_argument("--split", default="random:5:seed=0",
                   help="'random:K:seed=S', 'unseen=1,2,3', 'seen=..;unseen=..' or 'none'")
    p.add_argument("--setting", default="cross_subject")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--epochs", type=int, default=None, help="backbone pretraining epochs")
    p.add_argument("--cache", default=None, help="cache folder (default: $ZSSAR_CACHE or ~/.cache/zssar)")
    p.add_argument("--results", default=None, help="append the record to this JSON-lines file")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def main(args) -> dict:
    from dataclasses import replace

    from ..experiment import RunConfig, run_experiment
    from ..results import append_record

    config = RunConfig(dataset=args.dataset, split=args.split, setting=args.setting, method=args.method,
                       seed=args.seed, encoder=args.encoder, data_root=args.root, cache_dir=args.cache)
    if args.epochs is not None:
        config = replace(config, backbone=replace(config.backbone, epochs=args.epochs))
    result = run_experiment(config, show_progress=not args.quiet)
    if args.results:
        append_record(result.record, args.results)
    return result.record


def human(out: dict) -> None:
    print(f"{out['method']} on {out['dataset']} ({out['data_source']}), split {out['split']['name']}, "
          f"seed {out['seed']}")
    for k, v in out["metrics"].items():
        print(f"  {k:28s} {v:.4f}")
    print(f"  selected gamma (seen data only): {out['selected'].get('gamma', 0):.4f}")
