"""Results records: one JSON object per run, appended to a JSON-lines table, shown in one shape."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COLUMNS = ["dataset", "split", "setting", "method", "encoder", "seed", "ZSL", "S", "U", "H", "gamma"]


def append_record(record: dict, path: str | Path) -> None:
    """Append one results record as a JSON line to a results table file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, default=json_default) + "\n")


def load_records(path: str | Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def results_table(records: list[dict]):
    """The common results table of every chapter: one row per run, metrics rounded to 4 places."""
    import pandas as pd

    rows = []
    for r in records:
        m = r["metrics"]
        rows.append({"dataset": r["dataset"], "split": r["split"]["name"], "setting": r["setting"],
                     "method": r["method"], "encoder": r["encoder"], "seed": r["seed"],
                     "ZSL": m.get("zsl_top1", np.nan), "S": m.get("gzsl_S", np.nan),
                     "U": m.get("gzsl_U", np.nan), "H": m.get("gzsl_H", np.nan),
                     "gamma": r["selected"].get("gamma", np.nan)})
    return pd.DataFrame(rows, columns=COLUMNS).round(4)


def json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
