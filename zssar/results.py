"""Results records: one JSON object per run, appended to a JSON-lines table, shown in one shape."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import InvalidConfig

COLUMNS = ["dataset", "split", "setting", "method", "encoder", "seed", "ZSL %", "S %", "U %", "H %", "gamma",
           "H_gate %", "delta"]
# metric columns of the results table -> record metric keys
METRICS = {"ZSL": "zsl_top1", "ZSL_class_mean": "zsl_class_mean", "S": "gzsl_S", "U": "gzsl_U", "H": "gzsl_H",
           "S_gate": "gzsl_gate_S", "U_gate": "gzsl_gate_U", "H_gate": "gzsl_gate_H", "seen": "seen_top1"}


def check_writable(path: str | Path) -> Path:
    """Refuse, before any work, a results file that cannot be appended to (saying why and what to do)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as exc:
        raise InvalidConfig(f"cannot write results to {path} ({exc.strerror or exc}); pass --results with a "
                            "file in a folder you can write to") from None
    return path


def append_record(record: dict, path: str | Path) -> Path:
    """Append one results record as a JSON line to a results table file. A finished record is never
    lost: when the file cannot be written any more, the record goes to a file of its own in the
    cache's ``orphaned-records`` folder and the error says where. Returns the file written."""
    path = Path(path)
    payload = json.dumps(record.to_dict() if hasattr(record, "to_dict") else record, default=json_default)
    try:
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # parallel sweep workers append whole lines, one at a time
            f.write(payload + "\n")
            f.flush()
            fcntl.flock(f, fcntl.LOCK_UN)
        return path
    except OSError as exc:
        import hashlib

        from .config import cache_root

        rescue = cache_root() / "orphaned-records" / f"{hashlib.sha256(payload.encode()).hexdigest()[:16]}.jsonl"
        rescue.parent.mkdir(parents=True, exist_ok=True)
        rescue.write_text(payload + "\n")
        raise InvalidConfig(f"could not append to {path} ({exc.strerror or exc}); the finished record is kept "
                            f"in {rescue}: append it with `cat {rescue} >> {path}`") from None


RUN_KEYS = ("dataset", "split", "method", "seed", "metrics")  # what every run record holds
STUDY_KEYS = ("part", "dataset", "split", "condition", "seed")  # what every study row holds


def load_records(path: str | Path, required: tuple[str, ...] = RUN_KEYS) -> list[dict]:
    """Records of a JSON-lines file, or of every ``*.jsonl`` file of a folder (in name order).

    Every record must hold the ``required`` keys (run records by default, :data:`STUDY_KEYS` for
    study rows), so a file of another kind in the folder is an error naming it, not a KeyError later."""
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    records = []
    for file in files:
        with open(file) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidConfig(f"{file}, line {number}: not a JSON record ({exc.msg}); a run that was "
                                        "cut off while writing leaves such a line: delete it and rerun "
                                        "with --resume") from None
                missing = [k for k in required if not isinstance(record, dict) or k not in record]
                if missing:
                    raise InvalidConfig(f"{file}, line {number}: lacks {', '.join(missing)}, so it is not the "
                                        f"kind of record read here (needed: {', '.join(required)}); keep "
                                        "files of other kinds out of this folder or read them by name")
                records.append(record)
    return records


BOOK_RESULTS = Path(__file__).resolve().parent.parent / "results"  # written by `make sweep`


def paired_differences(records: list[dict], method: str, baseline: str, metrics=("ZSL", "H", "H_gate"),
                       by=("dataset", "split_family")):
    """``method`` minus ``baseline`` on the runs they share (same dataset, split and seed): per group of
    ``by`` and metric, the mean and standard deviation of the difference in points (one decimal) and
    how often ``method`` wins. Pairing removes the split-to-split spread that dominates single-method means on small
    datasets. One row per (group, metric)."""
    import pandas as pd

    def key(r):
        return (r["dataset"], r["split"]["name"], r["seed"])

    base = {key(r): r for r in records if r["method"] == baseline}
    rows = []
    for r in records:
        if r["method"] != method or key(r) not in base:
            continue
        group = {k: split_family(r) if k == "split_family" else r[k] for k in by}
        for name in metrics:
            diff = r["metrics"].get(METRICS[name], np.nan) - base[key(r)]["metrics"].get(METRICS[name], np.nan)
            rows.append({**group, "metric": name, "diff": 100 * diff})
    label = f"{method} - {baseline} (points)"
    out = _difference_stats(pd.DataFrame(rows, columns=[*by, "metric", "diff"]), [*by, "metric"], label)
    return out.round({label: 1, "std": 1})


def _difference_stats(frame, keys: list[str], label: str):
    """Per group of ``keys``: mean (column ``label``) and std (ddof=1; 0 for one pair) of ``diff``,
    and how many pairs the first side wins, ties and has."""
    import pandas as pd

    grouped = frame.groupby(keys, sort=False)["diff"]
    out = pd.DataFrame({label: grouped.mean(), "std": grouped.std(ddof=1).fillna(0.0),
                        "wins": grouped.apply(lambda d: int((d > 0).sum())),
                        "ties": grouped.apply(lambda d: int((d == 0).sum())), "pairs": grouped.size()})
    return out.reset_index()


def _plus_minus(mean: float, std: float) -> str:
    """A fraction's mean ± std as the chapters print it: in %, one decimal."""
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def split_family(record: dict) -> str:
    """``random:K`` for the seeded random splits (averaged together), the split's name otherwise."""
    name = record["split"]["name"]
    return name.rsplit(":seed=", 1)[0] if name.startswith("random:") else name


def results_table(records: list[dict]):
    """The common results table of every chapter: one row per run, the accuracies in % with one
    decimal (the unit of every table in the book), gamma and delta as they were chosen."""
    import pandas as pd

    rows = []
    for r in records:
        m = r["metrics"]
        pct = {label: round(100 * m.get(key, np.nan), 1) for label, key in
               (("ZSL %", "zsl_top1"), ("S %", "gzsl_S"), ("U %", "gzsl_U"), ("H %", "gzsl_H"),
                ("H_gate %", "gzsl_gate_H"))}
        rows.append({"dataset": r["dataset"], "split": r["split"]["name"], "setting": r["setting"],
                     "method": r["method"], "encoder": r["encoder"], "seed": r["seed"], **pct,
                     "gamma": round(r["selected"].get("gamma", np.nan), 3),
                     "delta": round(r["selected"].get("delta", np.nan), 3)})
    return pd.DataFrame(rows, columns=COLUMNS)


def aggregate(records: list[dict], by=("dataset", "setting", "method"),
              metrics=("ZSL", "ZSL_class_mean", "S", "U", "H", "H_gate")):
    """Mean, standard deviation (ddof=1; 0 for one run) and count over seeds and splits.

    One row per group of ``by`` (record keys, ``split`` = the split name, ``split_family`` = see
    :func:`split_family`); columns
    ``<metric>_mean``, ``<metric>_std`` and ``runs``. Splits are averaged, never picked.
    """
    import pandas as pd

    rows = []
    for r in records:
        row = {k: (r["split"]["name"] if k == "split" else split_family(r) if k == "split_family" else r[k])
               for k in by}
        row.update({name: r["metrics"].get(METRICS[name], np.nan) for name in metrics})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(by) + list(metrics))
    grouped = frame.groupby(list(by), sort=False)
    out = grouped[list(metrics)].agg(["mean", lambda x: float(np.std(x, ddof=1)) if len(x) > 1 else 0.0])
    out.columns = [f"{m}_{'mean' if stat == 'mean' else 'std'}" for m, stat in out.columns]
    out["runs"] = grouped.size()
    return out.reset_index()


def summary_table(records: list[dict], by=("dataset", "method"), metrics=("ZSL", "H", "H_gate")):
    """The aggregate as ``mean ± std`` strings (in %), one row per group: the chapters' summary."""
    agg = aggregate(records, by=by, metrics=metrics)
    out = agg[list(by)].copy()
    for m in metrics:
        out[m] = [_plus_minus(a, b) for a, b in zip(agg[f"{m}_mean"], agg[f"{m}_std"])]
    out["runs"] = agg["runs"]
    return out


def per_class_table(records: list[dict], view: str = "zsl"):
    """Per-class accuracy (rows: classes, columns: method) averaged over the records that hold it."""
    import pandas as pd

    rows = [{"method": r["method"], "class": c, "accuracy": a}
            for r in records for c, a in r.get("per_class", {}).get(view, {}).items()]
    frame = pd.DataFrame(rows, columns=["method", "class", "accuracy"])
    return frame.pivot_table(index="class", columns="method", values="accuracy", aggfunc="mean")


def json_default(obj):
    if hasattr(obj, "to_dict"):  # a ResultRecord
        return obj.to_dict()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


# Study rows (scripts/gap_study.py): flat JSON lines with "part" (supervised, zero-shot, ablation),
# "dataset", "split", "condition", "seed" and the metrics named in STUDY_METRICS.
STUDY_METRICS = {"supervised": ("seen_test_top1",), "ablation": ("seen_test_top1",),
                 "zero-shot": ("zsl_top1", "zsl_class_mean", "gzsl_S", "gzsl_U", "gzsl_H", "gzsl_gate_H")}


def study_summary(rows: list[dict], part: str, by=("dataset", "condition")):
    """Mean ± std (ddof=1, in %) over seeds and splits of one part of a study, one row per group of
    ``by``, with the number of runs and of distinct splits. Splits are averaged, never picked."""
    import pandas as pd

    if part not in STUDY_METRICS:
        raise InvalidConfig(f"unknown study part {part!r}; expected one of {sorted(STUDY_METRICS)}")
    metrics = STUDY_METRICS[part]
    chosen = [r for r in rows if r.get("part") == part]
    frame = pd.DataFrame([{**{k: r[k] for k in by}, "split": r["split"],
                           **{m: r.get(m, np.nan) for m in metrics}} for r in chosen],
                         columns=[*by, "split", *metrics])
    out = []
    for group, members in frame.groupby(list(by), sort=False):
        row = dict(zip(by, group))
        for m in metrics:
            values = members[m].astype(float)
            row[m] = _plus_minus(values.mean(), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)
        row["runs"], row["splits"] = len(members), members["split"].nunique()
        out.append(row)
    return pd.DataFrame(out, columns=[*by, *metrics, "runs", "splits"])


def study_paired(rows: list[dict], part: str, condition: str, baseline: str, metrics=None):
    """``condition`` minus ``baseline`` on the runs they share (same dataset, split and seed), in
    points: per dataset and metric the mean and std (ddof=1) of the difference, wins, ties and pairs."""
    import pandas as pd

    metrics = metrics or STUDY_METRICS[part]

    def key(r):
        return r["dataset"], r["split"], r["seed"]

    base = {key(r): r for r in rows if r.get("part") == part and r["condition"] == baseline}
    diffs = [{"dataset": r["dataset"], "metric": m, "diff": 100 * (r[m] - base[key(r)][m])}
             for r in rows if r.get("part") == part and r["condition"] == condition and key(r) in base
             for m in metrics]
    label = f"{condition} - {baseline}"
    out = _difference_stats(pd.DataFrame(diffs, columns=["dataset", "metric", "diff"]), ["dataset", "metric"], label)
    return out.round({label: 1, "std": 1})


def study_paired_grid(rows: list[dict], part: str, comparisons: dict[str, tuple[str, str]], metrics):
    """Several :func:`study_paired` comparisons in one narrow table: one row per (comparison,
    dataset), one column per metric holding ``mean ± std (wins/pairs)`` of the paired difference in
    points. ``comparisons`` maps a short row label to ``(condition, baseline)``; a comparison whose
    conditions are not both in ``rows`` is left out."""
    import pandas as pd

    conditions = {r["condition"] for r in rows if r.get("part") == part}
    out = []
    for label, (condition, baseline) in comparisons.items():
        if not {condition, baseline} <= conditions:
            continue
        table = study_paired(rows, part, condition, baseline, metrics)
        diff = f"{condition} - {baseline}"
        for dataset, group in table.groupby("dataset", sort=False):
            row = {"comparison": label, "dataset": dataset}
            for _, r in group.iterrows():
                row[r["metric"]] = f"{r[diff]:+.1f} ± {r['std']:.1f} ({r['wins']}/{r['pairs']})"
            out.append(row)
    return pd.DataFrame(out, columns=["comparison", "dataset", *metrics])

