"""Comparisons on records: tests, ranks and computed sentences, for the benchmark and the studies.

* :func:`significance` (Wilcoxon signed-rank against a baseline, per run and per split, Holm-corrected),
  :func:`mean_ranks` and :func:`plot_ranks`, :func:`verdict_lines` (separated from the baseline or
  within the spread): read by ``make benchmark``, chapter 12 and the method chapters;
* :func:`text_study_rows`, :func:`text_study_verdict`: the text study (``make text-study``, chapter 03),
  the same method with the dataset's own, borrowed and label text.
"""
from __future__ import annotations

import numpy as np

from .results import METRICS, STUDY_METRICS, paired_differences


def significance(records: list[dict], baseline: str = "global", metric: str = "ZSL"):
    """Every other method against ``baseline`` per dataset, by Wilcoxon's signed-rank test (two-sided).

    Two levels, because the three seeds of one split are not independent draws: ``runs`` pairs every
    shared (split, seed); ``splits`` first averages the seeds of each split, so it pairs splits only
    (with 5 splits the smallest two-sided p it can reach is 0.0625). ``p_holm``: Holm's correction over
    the methods of one dataset and level. A median difference in points, not a mean, goes with it."""
    import pandas as pd
    from scipy.stats import wilcoxon

    key_metric = METRICS[metric]
    rows = []
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        mine = [r for r in records if r["dataset"] == dataset]
        base = {(r["split"]["name"], r["seed"]): r["metrics"][key_metric] for r in mine if r["method"] == baseline}
        for method in dict.fromkeys(r["method"] for r in mine):
            if method == baseline:
                continue
            pairs = {(r["split"]["name"], r["seed"]): (r["metrics"][key_metric], base[(r["split"]["name"], r["seed"])])
                     for r in mine if r["method"] == method and (r["split"]["name"], r["seed"]) in base}
            per_split: dict = {}
            for (split, _), pair in pairs.items():
                per_split.setdefault(split, []).append(pair)
            levels = {"runs": [a - b for a, b in pairs.values()],
                      "splits": [np.mean([a - b for a, b in v]) for v in per_split.values()]}
            for level, diffs in levels.items():
                diffs = 100 * np.asarray(diffs, dtype=float)
                p = float(wilcoxon(diffs).pvalue) if len(diffs) and np.any(diffs != 0) else 1.0
                rows.append({"dataset": dataset, "level": level, "method": method, "pairs": len(diffs),
                             "median (points)": round(float(np.median(diffs)), 1) if len(diffs) else np.nan,
                             "p": p})
    out = pd.DataFrame(rows, columns=["dataset", "level", "method", "pairs", "median (points)", "p"])
    out["p_holm"] = np.nan
    for _, group in out.groupby(["dataset", "level"], sort=False):
        order = group["p"].sort_values().index
        m, running = len(order), 0.0
        for i, idx in enumerate(order):
            running = max(running, min(1.0, (m - i) * out.at[idx, "p"]))
            out.at[idx, "p_holm"] = running
    return out.round({"p": 3, "p_holm": 3})


def mean_ranks(records: list[dict], metric: str = "ZSL"):
    """Each method's rank (1 = best, ties share the mean rank) on every (split, seed) that all the
    dataset's methods ran, averaged per dataset: the rank plot's numbers."""
    import pandas as pd

    key_metric = METRICS[metric]
    rows = []
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        mine = [r for r in records if r["dataset"] == dataset]
        methods = list(dict.fromkeys(r["method"] for r in mine))
        runs: dict = {}
        for r in mine:
            runs.setdefault((r["split"]["name"], r["seed"]), {})[r["method"]] = r["metrics"][key_metric]
        full = [v for v in runs.values() if len(v) == len(methods)]
        if not full:
            continue
        ranks = pd.DataFrame(full, columns=methods).rank(axis=1, ascending=False, method="average")
        for method in methods:
            rows.append({"dataset": dataset, "method": method, "mean rank": round(float(ranks[method].mean()), 2),
                         "std": round(float(ranks[method].std(ddof=1)), 2) if len(full) > 1 else 0.0,
                         "runs": len(full)})
    return pd.DataFrame(rows, columns=["dataset", "method", "mean rank", "std", "runs"])


def plot_ranks(records: list[dict], metric: str = "ZSL", ax=None):
    """Mean rank per method and dataset (1 = best), with the rank's std over runs as a bar."""
    import matplotlib.pyplot as plt

    table = mean_ranks(records, metric)
    datasets = list(dict.fromkeys(table["dataset"]))
    methods = list(dict.fromkeys(table["method"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * max(1, len(methods))))
    for d, dataset in enumerate(datasets):
        part = table[table["dataset"] == dataset].set_index("method")
        y = [methods.index(m) + 0.15 * (d - (len(datasets) - 1) / 2) for m in part.index]
        ax.errorbar(part["mean rank"], y, xerr=part["std"], fmt="o", color=f"C{d}", capsize=2,
                    label=f"{dataset} ({int(part['runs'].iloc[0])} runs)")
    ax.set_yticks(range(len(methods)), methods)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean rank by {metric} (1 = best)")
    ax.legend(fontsize=7)
    return ax


def verdict_lines(records: list[dict], method: str, baseline: str = "global", metric: str = "ZSL") -> list[str]:
    """One computed sentence per dataset and split family: does ``method`` separate from ``baseline``
    (its mean paired difference larger than the difference's standard deviation) or not?"""
    table = paired_differences(records, method, baseline, metrics=(metric,))
    label = f"{method} - {baseline} (points)"
    out = []
    for _, row in table.iterrows():
        diff, std = row[label], row["std"]
        if row["pairs"] < 2:
            verdict = "has one pair only"
        elif abs(diff) > std:
            verdict = f"is {'above' if diff > 0 else 'below'} the baseline by more than the spread"
        else:
            verdict = "does not separate from the baseline"
        out.append(f"{row['dataset']} {row['split_family']}: {method} {verdict} ({diff:+.1f} ± {std:.1f} points of "
                   f"{metric}, {row['wins']}/{row['pairs']} pairs won)")
    return out


TEXT_KINDS = ("project", "borrowed", "borrowed (nearest)", "label")  # the class texts the text study compares


def text_study_rows(records: list[dict]) -> list[dict]:
    """Run records of the text study (``make text-study``) as study rows of part ``zero-shot``: the
    condition is the run's class text (``project``, ``borrowed``, ``label``; older records: project);
    text borrowed under the first rule, every class taking its closest described class, is
    ``borrowed (nearest)`` (:data:`zssar.text.borrow.BORROW_RULE` is the rule of ``borrowed``); a
    global-baseline run whose label weight was chosen on seen_val (``label_weights`` with two or more
    values) is ``<text> + label weight``."""
    from .records import record_borrow_rule
    from .text.borrow import BORROW_RULE

    def condition(r) -> str:
        text = r.get("text") or "project"
        rule = record_borrow_rule(r)
        name = f"{text} ({rule})" if rule and rule != BORROW_RULE else text
        return f"{name} + label weight" if len(r["method_settings"].get("label_weights") or ()) > 1 else name

    metrics = STUDY_METRICS["zero-shot"]
    return [{"part": "zero-shot", "dataset": r["dataset"], "split": r["split"]["name"], "seed": r["seed"],
             "method": r["method"], "condition": condition(r),
             **{m: r["metrics"][m] for m in metrics}} for r in records]


def text_study_verdict(rows: list[dict], metric: str = "zsl_top1",
                       conditions=("borrowed", "borrowed + label weight")) -> list[str]:
    """One sentence per dataset and borrowed condition present: does it beat label text on average over
    the shared runs?"""
    out = []
    for dataset, condition in ((d, c) for d in dict.fromkeys(r["dataset"] for r in rows) for c in conditions):
        def key(r):
            return r["split"], r["seed"]

        mine = [r for r in rows if r["dataset"] == dataset]
        if condition != "borrowed" and not any(r["condition"] == condition for r in mine):
            continue
        label = {key(r): r[metric] for r in mine if r["condition"] == "label"}
        borrowed = {key(r): r[metric] for r in mine if r["condition"] == condition}
        shared = sorted(set(label) & set(borrowed))
        if not shared:
            out.append(f"{dataset}: no runs with both {condition} and label text yet")
            continue
        diff = 100 * float(np.mean([borrowed[k] - label[k] for k in shared]))
        wins = sum(borrowed[k] > label[k] for k in shared)
        verb = "beats" if diff > 0 else "does not beat"
        name = {"borrowed + label weight": "borrowed text, label weight chosen on seen_val,"}.get(condition,
                                                                                          f"{condition} text")
        out.append(f"{dataset}: {name} {verb} label text on average ({diff:+.1f} points of {metric}, "
                   f"wins {wins} of {len(shared)} paired runs)")
    return out
