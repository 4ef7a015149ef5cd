"""Time reading and preprocessing each real dataset (all files, default options).

Usage: ZSSAR_DATA=... python scripts/bench_data.py [--frames 64] [--datasets kard utkinect nw-ucla]
Prints one JSON line per dataset: samples, seconds to read, seconds to prepare (centre + resample).
"""
from __future__ import annotations

import argparse
import json
import time

from zssar.data.preprocess import prepare
from zssar.data.registry import load_dataset


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--datasets", nargs="+", default=["kard", "utkinect", "nw-ucla"])
    args = p.parse_args()
    for name in args.datasets:
        start = time.perf_counter()
        data = load_dataset(name)
        read = time.perf_counter() - start
        x = prepare(data, args.frames)
        total = time.perf_counter() - start
        print(json.dumps({"dataset": name, "samples": len(data), "dropped": data.summary()["dropped"],
                          "read_s": round(read, 2), "prepare_s": round(total - read, 2),
                          "total_s": round(total, 2), "shape": list(x.shape)}))


if __name__ == "__main__":
    main()
