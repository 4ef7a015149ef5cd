"""``zssar text``: which description fields every class of a dataset has, from a chosen source."""
from __future__ import annotations

NAME = "text"
HELP = "description fields present per class, from the project's text or a published source"


def add_arguments(p) -> None:
    from ..text.importers import SOURCES

    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--source", default="project", choices=("project",) + SOURCES,
                   help="where the text comes from (default: the project's own descriptions)")
    p.add_argument("--path", default=None,
                   help="the source's file or folder (default: its usual place under $ZSSAR_DESCRIPTIONS)")
    p.add_argument("--text", default="auto", choices=["auto", "project", "borrowed", "label"],
                   help="with the project's source: its descriptions, borrowed ones, or labels (as zssar run --text)")
    p.add_argument("--descriptions", default=None, metavar="FILE",
                   help="a description file of your own for the dataset's classes (as zssar run --descriptions)")
    p.add_argument("--root", default=None, help="data folder, for a dataset read to learn its class names")
    p.add_argument("--write", default=None, metavar="FILE",
                   help="write the text used (e.g. the borrowed descriptions) as a description file to edit and "
                        "pass back with --descriptions")


def _classes(dataset: str, root=None) -> tuple[str, list[str]]:
    """The dataset's name and class names (read from the data for ``npz:``/``pyskl:``; none when the
    package has no class list for it)."""
    from ..classnames import CLASS_NAMES

    if dataset == "synthetic":
        from ..data.synthetic import CLASS_NAMES as SYNTHETIC

        return dataset, list(SYNTHETIC)
    if dataset in CLASS_NAMES:
        return dataset, list(CLASS_NAMES[dataset])
    if dataset.startswith(("npz:", "pyskl:")):
        from ..data.registry import load_dataset

        data = load_dataset(dataset, root)
        return data.name, list(data.class_names)
    return dataset, []  # a dataset the package has no class list for: list the file's own classes


def main(args) -> dict:
    from ..text.descriptions import TextBank, text_bank_for
    from ..text.importers import import_descriptions
    from ..text.schema import field_names

    dataset, names = _classes(args.dataset, args.root)
    source = None if args.source == "project" else args.source
    if names:
        bank = text_bank_for(dataset, names, source=source, path=args.path if source else args.descriptions,
                             text=args.text)
    else:  # e.g. a PURLS sheet (utd-mhad) or your own file: take its classes as they are
        imported = import_descriptions(source or "file", args.path, dataset=args.dataset)
        bank = TextBank(args.dataset, imported.classes, imported.source)
    fields = field_names()
    per_class = {}
    for c in bank.classes:
        per_class[c.label] = {"fields": [f for f in fields if c.has(f)], "synonyms": len(c.synonyms),
                              "variants": len(c.variants), "extra": {k: len(v) for k, v in c.extra.items()}}
    for c, row in zip(bank.classes, bank.provenance_rows()):
        per_class[c.label]["text"] = row
    out = {"dataset": args.dataset, "source": bank.source, "classes": len(bank),
           "totals": {f: n for f, n in bank.coverage().items()},
           "complete_classes": sum(not c.missing() for c in bank.classes), "per_class": per_class,
           "kinds": bank.kinds()}
    if args.write:
        import json
        from pathlib import Path

        from ..text.schema import DescriptionSet

        written = DescriptionSet(dataset, bank.source, bank.classes).to_dict()
        Path(args.write).write_text(json.dumps(written, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        out["written"] = args.write
    return out


def human(out: dict) -> None:
    print(f"{out['dataset']}: {out['classes']} classes, {out['complete_classes']} complete; source: {out['source']}")
    width = max(len(f) for f in out["totals"])
    for field, n in out["totals"].items():
        print(f"  {field:<{width}}  {n:>4}/{out['classes']}")
    if out.get("kinds") and set(out["kinds"]) != {"project"}:
        from .data import text_lines

        rows = [v["text"] for v in out["per_class"].values() if "text" in v]
        print("\n".join(text_lines({"kinds": out["kinds"], "source": out["source"], "per_class": rows})))
    if out.get("written"):
        print(f"written: {out['written']} (edit it, then pass it with --descriptions)")
