"""The benchmark: every method of the results sweep in one table, on the same splits and seeds.

Everything here reads records (``results/*.jsonl``, written by ``make sweep``); nothing trains. The
grid is the sweep's: :data:`SWEEP_SPLITS` per dataset x 3 seeds x the methods of the Makefile's
``SWEEP_METHODS``. A method is compared with the baseline only on the runs both have (same dataset,
split and seed), so a partly swept method is compared on its own runs, never on others'.

``python -m zssar.benchmark --out results/benchmark`` (``make benchmark``) writes the tables as CSV
and Markdown and the figures as PNG; chapter 12 shows the same tables from the same functions.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .comparison import mean_ranks, plot_ranks, significance, verdict_lines  # noqa: F401 (tables of the benchmark)
from .results import BOOK_RESULTS, METRICS, load_records, paired_differences, split_family, summary_table

SWEEP_SETTINGS = {"kard": "cross_subject", "nw-ucla": "cross_view"}
SWEEP_SPLITS = {"kard": [f"random:5:seed={k}" for k in range(5)],
                "nw-ucla": [f"random:3:seed={k}" for k in range(5)] + ["purls:5/5", "purls:8/2"]}
LEAK_KEYS = ("dataset", "split", "seed", "method", "H_seen_val_gamma", "H_test_gamma")  # a leak-study row
STAGES = ("pretrain_backbone", "select_on_seen_val", "fit_method", "score_test")


def coverage(records: list[dict], seeds=(0, 1, 2)):
    """Per dataset and method: runs recorded, runs in the grid, and whether the grid is complete."""
    import pandas as pd

    rows = []
    for dataset, splits in SWEEP_SPLITS.items():
        grid = {(s, seed) for s in splits for seed in seeds}
        for method in dict.fromkeys(r["method"] for r in records if r["dataset"] == dataset):
            have = {(r["split"]["name"], r["seed"]) for r in records if r["dataset"] == dataset and r["method"] == method}
            rows.append({"dataset": dataset, "method": method, "runs": len(have & grid), "grid": len(grid),
                         "complete": grid <= have})
    return pd.DataFrame(rows, columns=["dataset", "method", "runs", "grid", "complete"])


def benchmark_table(records: list[dict], metrics=("ZSL", "H", "H_gate")):
    """Mean ± std (in %) and runs per dataset, split family and method: the benchmark's main table."""
    return summary_table(records, by=("dataset", "split_family", "method"), metrics=metrics)


def versus(records: list[dict], baseline: str = "global", metrics=("ZSL", "H", "H_gate")):
    """Every other method minus ``baseline`` on their shared runs, one row per (dataset, split family,
    method), one column per metric: ``mean ± std (wins/pairs)`` of the paired difference in points."""
    import pandas as pd

    rows = []
    for method in dict.fromkeys(r["method"] for r in records):
        if method == baseline:
            continue
        table = paired_differences(records, method, baseline, metrics=metrics)
        label = f"{method} - {baseline} (points)"
        for (dataset, family), group in table.groupby(["dataset", "split_family"], sort=False):
            row = {"dataset": dataset, "split_family": family, "method": method}
            for _, r in group.iterrows():
                row[r["metric"]] = f"{r[label]:+.1f} ± {r['std']:.1f} ({r['wins']}/{r['pairs']})"
            rows.append(row)
    return pd.DataFrame(rows, columns=["dataset", "split_family", "method", *metrics])


def timing_table(records: list[dict]):
    """Median seconds per stage of one run, per dataset and method, and the machines that ran them.

    The backbone stage is the run's own training when the feature cache missed and near zero when it
    hit (the methods of a split and seed share one backbone), so it is shown for cache misses only."""
    import pandas as pd

    rows = []
    for (dataset, method), group in _groups(records, ("dataset", "method")).items():
        row = {"dataset": dataset, "method": method}
        misses = [r["timings_s"].get("pretrain_backbone", np.nan) for r in group
                  if not r.get("backbone_cache", {}).get("hit", True)]
        row["backbone (cache miss)"] = float(np.median(misses)) if misses else np.nan
        for stage in STAGES[1:]:
            row[stage] = float(np.median([r["timings_s"].get(stage, np.nan) for r in group]))
        row["runs"] = len(group)
        machines = {f"{m.get('cpu', '?')} x{r['versions'].get('threads', '?')}"
                    for r in group for m in [r.get("versions", {}).get("machine", {})]}
        row["machine"] = ", ".join(sorted(machines)) if all(r.get("versions", {}).get("machine") for r in group) \
            else "not recorded"
        rows.append(row)
    columns = ["dataset", "method", "backbone (cache miss)", *STAGES[1:], "runs", "machine"]
    return pd.DataFrame(rows, columns=columns).round(1)


def seed_spread(records: list[dict], metric: str = "ZSL"):
    """How much of a method's spread is the seed and how much the split, per dataset, split family
    and method (in points): the standard deviation over the seeds of one split (mean over the
    splits), and the standard deviation of the splits' means. A method whose seed spread is large
    against its split spread is unstable in training, not only sensitive to which classes are unseen."""
    import pandas as pd

    rows = []
    for (dataset, family, method), runs in _groups(records, ("dataset", "split_family", "method")).items():
        by_split: dict = {}
        for r in runs:
            by_split.setdefault(r["split"]["name"], []).append(100 * r["metrics"].get(METRICS[metric], np.nan))
        several = [np.std(v, ddof=1) for v in by_split.values() if len(v) > 1]
        means = [np.mean(v) for v in by_split.values()]
        rows.append({"dataset": dataset, "split_family": family, "method": method,
                     "seed std (within a split)": float(np.mean(several)) if several else np.nan,
                     "split std (of split means)": float(np.std(means, ddof=1)) if len(means) > 1 else np.nan,
                     "splits": len(by_split), "runs": len(runs)})
    columns = ["dataset", "split_family", "method", "seed std (within a split)", "split std (of split means)",
               "splits", "runs"]
    return pd.DataFrame(rows, columns=columns).round(1)


def shortcut_table(records: list[dict], metric: str = "ZSL"):
    """What two common reporting shortcuts would make of the same runs, per dataset, split family
    and method (in %): the honest mean over every split and seed; the mean after keeping each
    split's best seed (a seed picked by its test score); and the best single run (a split and seed
    picked by test score). Both shortcuts look at the unseen test set to choose what to report;
    the columns say how much that alone adds."""
    import pandas as pd

    rows = []
    for (dataset, family, method), runs in _groups(records, ("dataset", "split_family", "method")).items():
        values = {}
        for r in runs:
            values.setdefault(r["split"]["name"], []).append(100 * r["metrics"].get(METRICS[metric], np.nan))
        honest = float(np.mean([v for vs in values.values() for v in vs]))
        best_seed = float(np.mean([max(vs) for vs in values.values()]))
        best_run = float(max(v for vs in values.values() for v in vs))
        rows.append({"dataset": dataset, "split_family": family, "method": method, "honest mean": honest,
                     "best seed per split": best_seed, "best single run": best_run,
                     "added by picking seeds": best_seed - honest, "runs": len(runs)})
    columns = ["dataset", "split_family", "method", "honest mean", "best seed per split", "best single run",
               "added by picking seeds", "runs"]
    return pd.DataFrame(rows, columns=columns).round(1)


def leak_table(rows: list[dict]):
    """The leak study (``scripts/leak_study.py``): per dataset and method, mean test H with gamma
    chosen on seen-val (what zssar reports) and with gamma chosen on the test set (what most public
    code reports), the same for the entropy gate's delta, in %, and the runs."""
    import pandas as pd

    out = []
    for (dataset, method), runs in _groups(rows, ("dataset", "method")).items():
        mean = {k: 100 * float(np.mean([r[k] for r in runs])) for k in
                ("H_seen_val_gamma", "H_test_gamma", "H_gate_seen_val_delta", "H_gate_test_delta")}
        out.append({"dataset": dataset, "method": method, "H, gamma on seen-val": mean["H_seen_val_gamma"],
                    "H, gamma on test": mean["H_test_gamma"],
                    "added": mean["H_test_gamma"] - mean["H_seen_val_gamma"],
                    "H_gate, delta on seen-val": mean["H_gate_seen_val_delta"],
                    "H_gate, delta on test": mean["H_gate_test_delta"],
                    "added (gate)": mean["H_gate_test_delta"] - mean["H_gate_seen_val_delta"], "runs": len(runs)})
    columns = ["dataset", "method", "H, gamma on seen-val", "H, gamma on test", "added",
               "H_gate, delta on seen-val", "H_gate, delta on test", "added (gate)", "runs"]
    return pd.DataFrame(out, columns=columns).round(1)


def leak_rows(results: str | Path) -> list[dict]:
    """The leak-study rows that go with a results file or folder: its ``leak_study/`` folder."""
    results = Path(results)
    folder = (results.parent if results.is_file() else results) / "leak_study"
    return load_records(folder, LEAK_KEYS) if folder.is_dir() and any(folder.glob("*.jsonl")) else []


def _groups(records, keys):
    out: dict = {}
    for r in records:
        out.setdefault(tuple(split_family(r) if k == "split_family" else r[k] for k in keys), []).append(r)
    return out


def plot_means(records: list[dict], metric: str = "ZSL", ax=None):
    """Mean ± std of one metric per method (bars) with every run as a dot, one group per dataset and
    split family; chance (1 / unseen classes) as a dotted line where the split says it."""
    import matplotlib.pyplot as plt

    groups = _groups(records, ("dataset", "split_family"))
    methods = list(dict.fromkeys(r["method"] for r in records))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups) * max(1, len(methods)) / 3), 3.6))
    width = 0.8 / max(1, len(methods))
    rng = np.random.default_rng(0)  # dot jitter only
    for g, ((dataset, family), runs) in enumerate(groups.items()):
        for k, method in enumerate(methods):
            values = 100 * np.array([r["metrics"].get(METRICS[metric], np.nan) for r in runs if r["method"] == method])
            if not len(values):
                continue
            x = g + width * (k - (len(methods) - 1) / 2)
            ax.bar(x, values.mean(), width * 0.9, yerr=values.std(ddof=1) if len(values) > 1 else 0,
                   color=f"C{k}", alpha=0.6, label=method if g == 0 else None, capsize=2)
            ax.scatter(x + rng.uniform(-width / 4, width / 4, len(values)), values, s=6, color=f"C{k}", zorder=3)
        unseen = {len(r["split"].get("unseen", [])) for r in runs}
        if metric == "ZSL" and len(unseen) == 1 and 0 not in unseen:
            ax.hlines(100 / unseen.pop(), g - 0.45, g + 0.45, colors="grey", linestyles="dotted")
    ax.set_xticks(range(len(groups)), [f"{d}\n{f}" for d, f in groups], fontsize=8)
    ax.set_ylabel(f"{metric} (%)")
    ax.legend(fontsize=7, ncol=min(4, len(methods)))
    return ax


def write_benchmark(records: list[dict], out: str | Path, leaks: list[dict] = ()) -> list[Path]:
    """The tables (CSV and Markdown) and figures (PNG) of the benchmark, written under ``out``, with
    the leak-study table when ``leaks`` (rows of :func:`leak_rows`) are given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in (("coverage", coverage(records)), ("benchmark", benchmark_table(records)),
                        ("versus_global", versus(records)), ("shortcuts", shortcut_table(records)),
                        ("seed_spread", seed_spread(records)), ("significance", significance(records)),
                        ("ranks", mean_ranks(records)), ("timings", timing_table(records))):
        table.to_csv(out / f"{name}.csv", index=False)
        (out / f"{name}.md").write_text(_markdown(table))
        written += [out / f"{name}.csv", out / f"{name}.md"]
    if leaks:
        table = leak_table(list(leaks))
        table.to_csv(out / "leak_study.csv", index=False)
        (out / "leak_study.md").write_text(_markdown(table))
        written += [out / "leak_study.csv", out / "leak_study.md"]
    for metric in ("ZSL", "H"):
        ax = plot_means(records, metric)
        ax.figure.tight_layout()
        ax.figure.savefig(out / f"{metric.lower()}.png", dpi=120)
        plt.close(ax.figure)
        written.append(out / f"{metric.lower()}.png")
    ax = plot_ranks(records)
    ax.figure.tight_layout()
    ax.figure.savefig(out / "ranks.png", dpi=120)
    plt.close(ax.figure)
    written.append(out / "ranks.png")
    return written


def _markdown(table) -> str:
    """A pipe table (what GitHub and Jupyter Book render), without a tabulate dependency."""
    def cell(v):
        return "" if isinstance(v, float) and np.isnan(v) else str(v)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m zssar.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(BOOK_RESULTS), help="a results file or a folder of them")
    parser.add_argument("--out", default=str(BOOK_RESULTS / "benchmark"), help="folder for tables and figures")
    args = parser.parse_args(argv)
    records = load_records(args.results)
    if not records:
        raise SystemExit(f"no records in {args.results}: `make sweep` (needs ZSSAR_DATA) writes them")
    for path in write_benchmark(records, args.out, leak_rows(args.results)):
        print(path)


if __name__ == "__main__":
    main()
