"""Compare re-run records with stored ones, run by run, and optionally put the re-runs in their place.

    python scripts/compare_records.py STORED.jsonl RERUN.jsonl [--replace]

Records are matched by their identity (:func:`zssar.records.record_identity`: dataset, split, method
and settings, seed, backbone, text, ...). For every matched pair it reports whether the metrics and
the seen-data selections are the same bits, and the largest difference of a metric when not; stored
records without a re-run are counted. ``--replace`` writes STORED back with each matched record
replaced by its re-run, in the stored order (records without a re-run are kept as they are), so a
grid re-run after a change that alters numbers lands where the book reads it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

from zssar.records import identity_key, record_identity
from zssar.results import json_default, load_records


def _key(record) -> str:
    return identity_key(record_identity(record))


def compare(stored: list[dict], rerun: list[dict]) -> tuple[list[dict], dict]:
    """Per stored record: (its key, its re-run or None); and the counts of the comparison."""
    fresh = {}
    for r in rerun:
        fresh[_key(r)] = r  # the newest re-run of an identity wins
    rows, counts, worst = [], Counter(), {}
    for r in stored:
        new = fresh.get(_key(r))
        rows.append(new)
        if new is None:
            counts["no re-run"] += 1
            continue
        same_metrics = new["metrics"] == r["metrics"]
        same_selection = new.get("selected") == r.get("selected")
        counts["identical" if same_metrics and same_selection else "different"] += 1
        if not same_metrics:
            for k, v in r["metrics"].items():
                if isinstance(v, (int, float)) and isinstance(new["metrics"].get(k), (int, float)):
                    d = abs(new["metrics"][k] - v)
                    if d > worst.get(k, 0.0):
                        worst[k] = d
        method = r["method"]
        counts[f"{method}: {'identical' if same_metrics and same_selection else 'different'}"] += 1
    return rows, {"counts": dict(counts), "largest metric difference": worst}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stored")
    ap.add_argument("rerun")
    ap.add_argument("--replace", action="store_true", help="write STORED with the re-runs in place of their records")
    args = ap.parse_args(argv)
    for path in (args.stored, args.rerun):
        if not Path(path).is_file():
            print(f"compare_records: no record file at {path}", file=sys.stderr)
            return 2
    stored, rerun = load_records(args.stored), load_records(args.rerun)
    rows, report = compare(stored, rerun)
    for k, v in sorted(report["counts"].items()):
        print(f"{k}: {v}")
    for k, v in sorted(report["largest metric difference"].items(), key=lambda kv: -kv[1]):
        print(f"  largest |difference| of {k}: {v:.6f}")
    if args.replace:
        out = [new if new is not None else old for old, new in zip(stored, rows)]
        tmp = Path(f"{args.stored}.{os.getpid()}.tmp")
        tmp.write_text("".join(json.dumps(r, default=json_default) + "\n" for r in out))
        os.replace(tmp, args.stored)
        print(f"wrote {args.stored}: {sum(r is not None for r in rows)} of {len(stored)} records replaced by re-runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
