"""Peak memory of reading a full-size CTR-GCN NTU-60 file and preparing the backbone input.

Usage: python scripts/bench_ntu_memory.py [--samples 56578] [--out DIR] [--keep] [--frames 64]

Writes a random ``NTU60_CS.npz`` (uncompressed, as CTR-GCN writes it; 40,091 + 16,487 sequences of
300 frames x 150 values at full size, about 10 GB) and a matching ``skes_available_name.txt`` into a
new folder under ``--out`` (default: the system temp folder), in chunks, so the generator stays
small. Then, in a fresh Python process each, it loads it with ``load_dataset("ntu60", ...)`` and
runs ``prepare(data, frames)`` and ``data.fingerprint()`` twice: with an empty cache (``ZSSAR_CACHE``
inside the folder: the first read builds it) and again from that cache. The folder is deleted
afterwards unless ``--keep``. Prints JSON lines: the machine, the file, then per run the peak
resident memory (``ru_maxrss`` of that process) after each stage and the seconds each took.

The same command run on another checkout (``PYTHONPATH=/that/checkout``) measures that code.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

import zssar
from zssar.data.settings import NTU60_TRAIN_SUBJECTS

FULL_TRAIN, FULL_TEST, FRAMES, VALUES = 40091, 16487, 300, 150
CHUNK = 512  # samples generated and written at a time (~90 MB)

CHILD = r"""
import json, resource, sys, time
peak = lambda: round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)  # KiB -> GiB
from zssar.data.registry import load_dataset
from zssar.data.preprocess import prepare
root, frames = sys.argv[1], int(sys.argv[2])
row = {"peak_rss_gib_imports": peak()}
start = time.perf_counter()
data = load_dataset("ntu60", root, metadata=root + "/ntu-metadata", show_progress=False)
row.update(load_s=round(time.perf_counter() - start, 1), peak_rss_gib_load=peak())
start = time.perf_counter()
x = prepare(data, frames)
row.update(prepare_s=round(time.perf_counter() - start, 1), peak_rss_gib_load_prepare=peak())
start = time.perf_counter()
fingerprint = data.fingerprint()
row.update(fingerprint_s=round(time.perf_counter() - start, 1), peak_rss_gib_load_prepare_fingerprint=peak(),
           samples=len(data), x_shape=list(data.x.shape), x_is_memory_map=not data.x.flags.owndata and
           type(data.x.base).__name__ in ("memmap", "mmap"), prepared_shape=list(x.shape), fingerprint=fingerprint,
           dropped=data.summary()["dropped"])
print(json.dumps(row))
"""


def sample_names(n_train: int, n_test: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Distinct NTU-60 names (sorted, as CTR-GCN lists them): n_train by training performers, n_test by the others."""
    grid = (17, 3, 2, 60)  # setups, cameras, replications, actions
    names = []
    test_performers = sorted(set(range(1, 41)) - set(NTU60_TRAIN_SUBJECTS))
    for performers, n in ((NTU60_TRAIN_SUBJECTS, n_train), (test_performers, n_test)):
        cells = len(performers) * int(np.prod(grid))
        if n > cells:
            raise SystemExit(f"--samples too large: at most {cells} distinct names per side")
        p, s, c, r, a = np.unravel_index(rng.choice(cells, size=n, replace=False), (len(performers), *grid))
        names += [f"S{s_ + 1:03d}C{c_ + 1:03d}P{performers[p_]:03d}R{r_ + 1:03d}A{a_ + 1:03d}"
                  for p_, s_, c_, r_, a_ in zip(p, s, c, r, a)]
    names.sort()
    return names, np.isin([int(n[9:12]) for n in names], NTU60_TRAIN_SUBJECTS)


def write_member(archive: zipfile.ZipFile, name: str, actions: np.ndarray, rng: np.random.Generator) -> None:
    """x_<side>: (N, 300, 150) random float32, written CHUNK samples at a time into a stored zip member."""
    with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
        npy.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (len(actions), FRAMES, VALUES)})
        for start in range(0, len(actions), CHUNK):
            a = actions[start:start + CHUNK]
            block = rng.standard_normal((len(a), FRAMES, VALUES), dtype=np.float32)
            lengths = rng.integers(32, FRAMES + 1, size=len(a))
            lengths[0] = FRAMES if start == 0 else lengths[0]
            block[np.arange(FRAMES)[None, :] >= lengths[:, None]] = 0.0
            block[a < 50, :, VALUES // 2:] = 0.0  # one person, but in the two-person actions A050-A060
            f.write(block)


def generate(folder: Path, samples: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    n_train = round(samples * FULL_TRAIN / (FULL_TRAIN + FULL_TEST))
    names, train = sample_names(n_train, samples - n_train, rng)
    meta = folder / "ntu-metadata" / "ntu60"
    meta.mkdir(parents=True)
    (meta / "skes_available_name.txt").write_text("\n".join(names) + "\n")
    actions = np.array([int(n[-3:]) for n in names])
    (folder / "ntu60").mkdir()
    path = folder / "ntu60" / "NTU60_CS.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for side, rows in (("train", train), ("test", ~train)):
            write_member(archive, f"x_{side}", actions[rows], rng)
            with archive.open(f"y_{side}.npy", "w", force_zip64=True) as f:
                npy.write_array(f, np.eye(60, dtype=np.float32)[actions[rows] - 1])
    return path


def machine() -> dict:
    meminfo = Path("/proc/meminfo")
    total = next((int(line.split()[1]) for line in meminfo.read_text().splitlines()
                  if line.startswith("MemTotal")), 0) if meminfo.exists() else 0
    return {"machine": platform.platform(), "cpus": os.cpu_count(), "memory_gib": round(total / 2**20, 1),
            "python": platform.python_version(), "numpy": np.__version__,
            "zssar": str(Path(zssar.__file__).resolve().parent)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=FULL_TRAIN + FULL_TEST)
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    p.add_argument("--keep", action="store_true", help="keep the generated file and the cache")
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    need = 2.2 * args.samples * FRAMES * VALUES * 4  # the npz and the cached copy
    args.out.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(args.out).free < need:
        raise SystemExit(f"{args.out}: needs about {need / 2**30:.1f} GiB free disk; pass --out or --samples.")
    folder = Path(tempfile.mkdtemp(prefix="bench_ntu_memory-", dir=args.out))
    try:
        print(json.dumps(machine()), flush=True)
        start = time.perf_counter()
        path = generate(folder, args.samples, args.seed)
        print(json.dumps({"file": str(path), "file_gib": round(path.stat().st_size / 2**30, 2),
                          "samples": args.samples, "generate_s": round(time.perf_counter() - start, 1)}), flush=True)
        code = str(Path(zssar.__file__).resolve().parent.parent)
        env = {**os.environ, "ZSSAR_CACHE": str(folder / "cache"),
               "PYTHONPATH": os.pathsep.join(filter(None, [code, os.environ.get("PYTHONPATH")]))}
        for run in ("first, empty cache", "second, same cache"):
            done = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(args.frames)], env=env,
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{run}: the loading process failed ({done.returncode}):\n{done.stderr[-3000:]}")
            print(json.dumps({"run": run, **json.loads(done.stdout.strip().splitlines()[-1])}), flush=True)
    finally:
        if args.keep:
            print(json.dumps({"kept": str(folder)}))
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
