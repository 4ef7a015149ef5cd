"""``zssar pretrain``: train (or reuse from the cache) a backbone on the seen classes and report it.

Prints the seen-class test accuracy of the backbone's own classifier: a supervised sanity check of
the backbone (with ``--split none`` every class is seen, the usual supervised benchmark). The test
view is read only for this report, after training and checkpoint selection on seen data are done.
"""
from __future__ import annotations

NAME = "pretrain"
HELP = "pretrain a skeleton backbone on the seen classes (or reuse it) and report seen-class accuracy"


def add_arguments(p) -> None:
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")
    p.add_argument("--split", default="none",
                   help="'none' (all classes seen), 'random:K:seed=S', 'unseen=1,2,3' or 'seen=..;unseen=..'")
    p.add_argument("--setting", default="default",
                   help="cross_subject, cross_view, cross_setup or default (the dataset's own)")
    p.add_argument("--backbone", default="stgcn", help="stgcn, shiftgcn or ctrgcn")
    p.add_argument("--stream", default="joint", help="joint, bone, joint_motion or bone_motion")
    p.add_argument("--objective", default="ce", help="ce (cross-entropy) or gap (CE + GAP's text loss)")
    p.add_argument("--partition", default=None, help="GAP body parts: global, 2, 4 or 6")
    p.add_argument("--text", default=None, help="GAP text: label, synonyms, parts or both")
    p.add_argument("--text-tower", default=None, help="GAP text tower: frozen (default) or finetune")
    p.add_argument("--text-lr", type=float, default=None, help="GAP: learning rate of a fine-tuned text tower")
    p.add_argument("--paper", action="store_true", help="the papers' 10-block configuration (GPU advised)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--cache", default=None, help="cache folder (default: $ZSSAR_CACHE or ~/.cache/zssar)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args):
    from dataclasses import replace

    from ..backbones.gap_objective import GapConfig
    from ..backbones.pretrain import BackboneConfig

    changes = {k: v for k, v in (("epochs", args.epochs), ("frames", args.frames),
                                 ("batch_size", args.batch_size), ("lr", args.lr)) if v is not None}
    gap = GapConfig(**{k: v for k, v in (("partition", args.partition), ("text", args.text),
                                         ("text_tower", args.text_tower), ("text_lr", args.text_lr))
                       if v is not None})
    common = dict(stream=args.stream, objective=args.objective, gap=gap, **changes)
    if args.paper:
        return BackboneConfig.paper(args.backbone, **common)
    return replace(BackboneConfig(name=args.backbone), **common)


def seen_test_accuracy(pre, data, protocol) -> float:
    """Top-1 of the backbone's classifier on the seen classes' test samples (a report, never a selection)."""
    import numpy as np

    idx = protocol.views["seen_test"]
    if len(idx) == 0:
        return float("nan")
    predicted = np.asarray(pre.seen_classes)[pre.logits[idx].argmax(1)]
    return float((predicted == data.labels[idx]).mean())


def main(args) -> dict:
    import time

    from ..backbones.pretrain import pretrain
    from ..data.registry import load_dataset
    from ..experiment import RunConfig, protocol_for

    clock = time.perf_counter()
    config = config_from_args(args)
    data = load_dataset(args.dataset, args.root)
    protocol = protocol_for(RunConfig(dataset=args.dataset, split=args.split, setting=args.setting,
                                      seed=args.seed), data)
    loaded = time.perf_counter()
    pre = pretrain(data, protocol, config, seed=args.seed, cache_dir=args.cache, show_progress=not args.quiet)
    trained = time.perf_counter()
    return {
        "dataset": data.name, "data_source": data.source, "split": protocol.split.as_dict(),
        "setting": args.setting, "seed": args.seed, "backbone": config.identity(),
        "cache_key": pre.key, "cache_hit": pre.cache_hit, "best_epoch": pre.best_epoch,
        "resumed_from_epoch": pre.meta.get("resumed_from_epoch", 0),
        "seen_val_accuracy": pre.seen_val_accuracy,
        "seen_test_top1": seen_test_accuracy(pre, data, protocol),
        "protocol_sizes": protocol.sizes(),
        "timings_s": {"load_data": round(loaded - clock, 3), "pretrain": round(trained - loaded, 3),
                      "total": round(time.perf_counter() - clock, 3),
                      "training_when_built": round(pre.meta.get("seconds", 0.0), 3)},
        "history": pre.history,
    }


def human(out: dict) -> None:
    b = out["backbone"]
    tower = f", text tower {b['gap']['text_tower']}" if b["objective"] == "gap" else ""
    print(f"{b['name']} ({b['stream']}, objective {b['objective']}{tower}) on {out['dataset']}, "
          f"split {out['split']['name']}, seed {out['seed']}")
    print(f"  seen-class test top-1   {out['seen_test_top1']:.4f}")
    print(f"  seen_val accuracy       {out['seen_val_accuracy']:.4f} (best epoch {out['best_epoch']})")
    print(f"  cache key {out['cache_key']} ({'hit' if out['cache_hit'] else 'trained'}), "
          f"{out['timings_s']['total']:.1f} s")
