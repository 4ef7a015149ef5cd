"""``zssar pretrain``: train (or reuse from the cache) a backbone on the seen classes and report it.

Prints the seen-class test accuracy of the backbone's own classifier: a supervised sanity check of
the backbone (with ``--split none`` every class is seen, the usual supervised benchmark). The runner
(:func:`zssar.runner.check_backbone`) reads the seen test labels for this report, after training and
checkpoint selection on seen data are done.
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
    p.add_argument("--objective", default="ce", choices=["ce", "gap"],
                   help="ce (cross-entropy) or gap (CE + GAP's text loss)")
    p.add_argument("--encoder", default="minilm", help="text encoder of GAP's prompts")
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
    p.add_argument("--precision", default=None, choices=["float32", "bfloat16"],
                   help="float32 (default) or bfloat16 (mixed precision under torch.autocast; for GPUs)")
    p.add_argument("--optimizer", default=None, choices=["adam", "sgd"],
                   help="adam (one-cycle, the CPU default) or sgd (Nesterov momentum, the papers')")
    p.add_argument("--cache", default=None, help="cache folder (default: $ZSSAR_CACHE or ~/.cache/zssar)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args):
    """The run configuration this command trains the backbone of (backbone, objective and its settings)."""
    from dataclasses import replace

    from ..backbones.config import BackboneConfig
    from ..runner import RunConfig

    changes = {k: v for k, v in (("epochs", args.epochs), ("frames", args.frames),
                                 ("batch_size", args.batch_size), ("lr", args.lr), ("optimizer", args.optimizer),
                                 ("precision", args.precision))
               if v is not None}
    gap = {k: v for k, v in (("partition", args.partition), ("text", args.text), ("text_tower", args.text_tower),
                             ("text_lr", args.text_lr)) if v is not None}
    if gap and args.objective != "gap":
        from ..errors import InvalidConfig

        raise InvalidConfig(f"{', '.join('--' + k.replace('_', '-') for k in gap)} are settings of GAP's objective: "
                            "add --objective gap")
    common = dict(stream=args.stream, **changes)
    backbone = (BackboneConfig.paper(args.backbone, **common) if args.paper
                else replace(BackboneConfig(name=args.backbone), **common))
    return RunConfig(dataset=args.dataset, split=args.split, setting=args.setting, seed=args.seed,
                     data_root=args.root, cache_dir=args.cache, backbone=backbone, objective=args.objective,
                     objective_settings=gap, encoder=args.encoder)


def main(args) -> dict:
    import time

    from ..data.registry import load_dataset
    from ..records import objective_settings_of
    from ..runner import check_backbone

    clock = time.perf_counter()
    config = config_from_args(args)
    data = load_dataset(args.dataset, args.root)
    loaded = time.perf_counter()
    report = check_backbone(config, data, show_progress=not args.quiet)
    pre, protocol = report.pretrained, report.protocol
    trained = time.perf_counter()
    return {
        "dataset": data.name, "data_source": data.source, "split": protocol.split.as_dict(),
        "setting": protocol.setting, "seed": args.seed, "backbone": config.backbone.identity(),
        "objective": config.objective, "objective_settings": objective_settings_of(config),
        "cache_key": pre.key, "cache_hit": pre.cache_hit, "best_epoch": pre.best_epoch,
        "resumed_from_epoch": pre.meta.get("resumed_from_epoch", 0),
        "seen_val_accuracy": pre.seen_val_accuracy,
        "seen_test_top1": report.seen_test_top1,
        "protocol_sizes": protocol.sizes(),
        "timings_s": {"load_data": round(loaded - clock, 3), "pretrain": round(trained - loaded, 3),
                      "total": round(time.perf_counter() - clock, 3),
                      "training_when_built": round(pre.meta.get("seconds", 0.0), 3)},
        "history": pre.history,
    }


def human(out: dict) -> None:
    b = out["backbone"]
    tower = f", text tower {out['objective_settings']['text_tower']}" if out["objective"] == "gap" else ""
    print(f"{b['name']} ({b['stream']}, objective {out['objective']}{tower}) on {out['dataset']}, "
          f"split {out['split']['name']}, seed {out['seed']}")
    print(f"  seen-class test top-1   {out['seen_test_top1']:.4f}")
    print(f"  seen_val accuracy       {out['seen_val_accuracy']:.4f} (best epoch {out['best_epoch']})")
    print(f"  cache key {out['cache_key']} ({'hit' if out['cache_hit'] else 'trained'}), "
          f"{out['timings_s']['total']:.1f} s")
