"""``zssar data``: counts per class / subject / view of a dataset, and its layout."""
from __future__ import annotations

NAME = "data"
HELP = "counts per class / subject / view of a dataset"


def add_arguments(p) -> None:
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--root", default=None, help="data folder (default: $ZSSAR_DATA)")


def main(args) -> dict:
    import numpy as np

    from ..data.registry import load_dataset

    data = load_dataset(args.dataset, args.root)
    out = data.summary()
    out["per_class"] = {name: int((data.labels == i).sum()) for i, name in enumerate(data.class_names)}
    out["per_subject"] = {int(s): int((data.subjects == s).sum()) for s in np.unique(data.subjects)}
    out["per_view"] = {int(v): int((data.views == v).sum()) for v in np.unique(data.views)}
    out["joints"] = list(data.layout.joints)
    return out
