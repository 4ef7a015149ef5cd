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


def _class_names(dataset: str) -> list[str]:
    from ..classnames import CLASS_NAMES

    if dataset == "synthetic":
        from ..data.synthetic import CLASS_NAMES as SYNTHETIC

        return list(SYNTHETIC)
    if dataset in CLASS_NAMES:
        return list(CLASS_NAMES[dataset])
    return []  # a dataset the package has no class list for: list the file's own classes


def main(args) -> dict:
    from ..text.descriptions import TextBank, text_bank_for
    from ..text.importers import import_descriptions
    from ..text.schema import field_names

    names = _class_names(args.dataset)
    source = None if args.source == "project" else args.source
    if names:
        bank = text_bank_for(args.dataset, names, source=source, path=args.path)
    else:  # e.g. a PURLS sheet (utd-mhad) or your own file: take its classes as they are
        imported = import_descriptions(source or "file", args.path, dataset=args.dataset)
        bank = TextBank(args.dataset, imported.classes, imported.source)
    fields = field_names()
    per_class = {}
    for c in bank.classes:
        per_class[c.label] = {"fields": [f for f in fields if c.has(f)], "synonyms": len(c.synonyms),
                              "variants": len(c.variants), "extra": {k: len(v) for k, v in c.extra.items()}}
    return {"dataset": args.dataset, "source": bank.source, "classes": len(bank),
            "totals": {f: n for f, n in bank.coverage().items()},
            "complete_classes": sum(not c.missing() for c in bank.classes), "per_class": per_class}


def human(out: dict) -> None:
    print(f"{out['dataset']}: {out['classes']} classes, {out['complete_classes']} complete; source: {out['source']}")
    width = max(len(f) for f in out["totals"])
    for field, n in out["totals"].items():
        print(f"  {field:<{width}}  {n:>4}/{out['classes']}")
