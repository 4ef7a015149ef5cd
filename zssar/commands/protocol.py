"""``zssar protocol``: size and class list of every protocol view of a dataset / setting / split.

For NTU RGB+D it works from the sample-name lists alone (``--metadata DIR`` or
``$ZSSAR_NTU_METADATA``), without skeleton files.
"""
from __future__ import annotations

NAME = "protocol"
HELP = "size and class list of every protocol view (seen-train/val, seen/unseen/GZSL test)"


def add_arguments(p) -> None:
    p.add_argument("--dataset", default="synthetic", help="registered name or npz:PATH")
    p.add_argument("--setting", default="default",
                   help="cross_subject, cross_view, cross_setup or default (the dataset's own)")
    p.add_argument("--split", default="random:5:seed=0",
                   help="a registered split (zssar data --list), 'random:K:seed=S', 'unseen=..' or 'none'")
    p.add_argument("--seed", type=int, default=0, help="seed of the seen-validation hold-out")
    p.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")
    p.add_argument("--metadata", default=None,
                   help="NTU only: folder with ntu60/ntu120 skes_available_name.txt (default: $ZSSAR_NTU_METADATA)")


def main(args) -> dict:
    from ..data.ntu import NTU_CLASSES, ntu_sample_table
    from ..data.protocol import ProtocolConfig, build_protocol
    from ..data.registry import load_dataset
    from ..data.split_registry import split_for

    if args.dataset in NTU_CLASSES:
        data = ntu_sample_table(args.dataset, args.metadata, args.root)
    else:
        data = load_dataset(args.dataset, args.root)
    split = split_for(data, args.split)
    protocol = build_protocol(data, split, ProtocolConfig(setting=args.setting, seed=args.seed))
    out = {"dataset": data.name, "source": data.source, **protocol.describe()}
    out["view_classes"] = {view: sorted({data.class_names[c] for c in data.labels[idx]})
                           for view, idx in protocol.views.items()}
    return out


def human(out: dict) -> None:
    print(f"{out['dataset']} ({out['source']}), setting {out['setting']}, split {out['split']['name']}")
    print(f"  split source: {out['split']['source']}")
    for view, size in out["sizes"].items():
        print(f"  {view:12s} {size:7d} samples, {len(out['view_classes'][view])} classes")
    print(f"  unseen classes: {out['unseen_classes']}")
    print(f"  pseudo-unseen (selection only): {out['pseudo_unseen_classes']}")
