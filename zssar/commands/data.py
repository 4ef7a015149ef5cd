"""``zssar data``: counts per class / subject / view of a dataset, its layout, and what was dropped."""
from __future__ import annotations

NAME = "data"
HELP = "counts per class / subject / view of a dataset, and its layout"


def add_arguments(p) -> None:
    p.add_argument("--dataset", default="synthetic", help="a registered name (kard, utkinect, nw-ucla, ntu60, "
                   "ntu120, pku-mmd, synthetic), npz:PATH for an interchange file or pyskl:PATH for a pyskl pickle")
    p.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")
    p.add_argument("--list", action="store_true", help="list the registered datasets and splits, read nothing")
    p.add_argument("--fetch", metavar="NAME_OR_URL", default=None, help="download an archive, verify --sha256, "
                   "unpack it under --root (default $ZSSAR_CACHE/datasets) and print the ZSSAR_DATA to set")
    p.add_argument("--text", default="auto", choices=["auto", "project", "borrowed", "label"],
                   help="which class text to report (as zssar run --text)")
    p.add_argument("--descriptions", default=None, metavar="FILE", help="a description file of your own (as zssar "
                   "run --descriptions)")
    p.add_argument("--sha256", default=None, help="expected sha256 of the --fetch archive (required for a URL)")
    p.add_argument("--folder", default=None, help="folder name for --fetch under the root (default: the archive "
                   "name, e.g. kard for kard.zip)")


def main(args) -> dict:
    import numpy as np

    from ..data.registry import dataset_folder, dataset_names, load_dataset
    from ..data.split_registry import registered_splits

    if args.fetch:
        from ..data.fetch import fetch

        return fetch(args.fetch, sha256=args.sha256, cache=args.root, folder=args.folder).report()
    if args.list:
        return {"datasets": {name: dataset_folder(name) for name in dataset_names()},
                "splits": {s.name: {"dataset": s.dataset, "unseen": list(s.unseen), "source": s.source}
                           for s in registered_splits()}}
    data = load_dataset(args.dataset, args.root)
    out = data.summary()
    out["per_class"] = {name: int((data.labels == i).sum()) for i, name in enumerate(data.class_names)}
    out["per_subject"] = {int(s): int((data.subjects == s).sum()) for s in np.unique(data.subjects)}
    out["per_view"] = {int(v): int((data.views == v).sum()) for v in np.unique(data.views)}
    out["joints"] = list(data.layout.joints)
    out["parts"] = {g: {p: [data.layout.joints[j] for j in ids] for p, ids in parts.items()}
                    for g, parts in data.layout.parts.items()}
    out["dropped_samples"] = {reason: list(ids) for reason, ids in data.dropped.items()}
    out["text"] = class_text_report(data.name, data.class_names, args.text, args.descriptions)
    return out


def class_text_report(dataset: str, class_names, text: str = "auto", descriptions=None) -> dict:
    """Which classes have project, file, borrowed or label-only text, as a run would use it."""
    from ..text.descriptions import text_bank_for

    bank = text_bank_for(dataset, class_names, path=descriptions, text=text)
    return {"source": bank.source, "kinds": bank.kinds(), "per_class": bank.provenance_rows()}


def text_lines(report: dict) -> list[str]:
    """The report as lines: a summary, then each class whose text is not the project's."""
    from ..text.borrow import BORROW_THRESHOLD

    kinds = ", ".join(f"{kind} {n}" for kind, n in report["kinds"].items())
    lines = [f"  class text: {kinds} ({report['source']})"]
    for row in report["per_class"]:
        if row["text"] == "borrowed":
            lines.append(f"    {row['class']}: borrowed from {row['from']} (similarity {row['similarity']:.2f})")
        elif row["text"] == "label":
            closest = (f" ({row['from']} at {row['similarity']:.2f} is closer to {row['closer']})" if "closer" in row
                       else f" (closest {row['from']} at {row['similarity']:.2f} < {BORROW_THRESHOLD})"
                       if "from" in row else "")
            lines.append(f"    {row['class']}: label only{closest}")
    return lines


def human(out: dict) -> None:
    if "ZSSAR_DATA" in out:
        print(f"{'downloaded and unpacked' if out['downloaded'] else 'already present'}: {out['path']}")
        print(f"to read it: export ZSSAR_DATA={out['ZSSAR_DATA']}")
        return
    if "datasets" in out:
        print("datasets (folder under $ZSSAR_DATA):")
        for name, folder in out["datasets"].items():
            print(f"  {name:10s} {folder or '(built in)'}")
        print("registered splits:")
        for name, s in out["splits"].items():
            print(f"  {name:16s} {s['dataset']:8s} {s['source']}")
        return
    print(f"{out['dataset']}: {out['samples']} samples, {out['classes']} classes, layout {out['layout']}")
    print(f"  from: {out['source']}")
    print(f"  subjects {out['subjects']}  views {out['views']}  frames (min/median/max) "
          f"{out['frames_min_median_max']}  dropped {out['dropped'] or 'none'}")
    for name, count in out["per_class"].items():
        print(f"  {count:6d}  {name}")
    if "text" in out:
        print("\n".join(text_lines(out["text"])))
