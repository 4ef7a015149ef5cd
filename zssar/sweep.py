"""Many runs of one configuration: every (split, seed, method), one record each, resumable.

With ``resume``, a run whose identity (:func:`zssar.records.run_identity`: data, split, setting,
seed, method settings, encoder, backbone, objective, calibration) is already in the results file is
not run again and its stored record is returned, so an interrupted sweep continues where it stopped.
Backbones are shared across methods through the feature cache: the methods of one (split, seed)
train one backbone between them; ``jobs`` workers run (split, seed) groups side by side.

Beyond one machine: :func:`plan` writes the missing runs as independent jobs (one per split and seed,
plain JSON), :func:`run_job` runs one anywhere into its own records file (``zssar jobs run``, a SLURM
array task through ``scripts/submit_jobs.py``), and :func:`gather` appends every job's records to the
results file once. A job runs on one torch thread, as the local workers do, so its numbers are theirs.
"""
from __future__ import annotations

import contextlib
import json
import re
from dataclasses import replace
from pathlib import Path

from .data.registry import load_dataset
from .data.skeleton import SkeletonSet
from .data.splits import parse_split
from .errors import InvalidConfig
from .records import identity_key, record_identity, run_identity
from .results import append_record, check_writable, load_records
from .runner import RunConfig, run_experiment
from .utils import one_thread, progress


def run_many(config: RunConfig, *, seeds=None, splits=None, methods=None, data: SkeletonSet | None = None,
             results: str | None = None, resume: bool = False, show_progress: bool = True, jobs: int = 1) -> list:
    """Run ``config`` for every (split, seed, method) and return one record each, as stored (a dict in
    the JSON shape of :class:`~zssar.records.ResultRecord`), appended to ``results``.

    ``jobs`` > 1 runs the missing runs in that many worker processes (one per core, one torch thread
    each). The methods of one (split, seed) stay in one worker, in order, so that they share the
    backbone they train through the feature cache and no backbone is trained twice. Records are
    returned in grid order whatever order the workers finish in. With ``jobs`` > 1 and one (split,
    seed) left to run (a resumed sweep near its end), it runs here, on one torch thread as a worker
    would: a run's last bits depend on the thread count (its record says which), so a sweep's records
    do not depend on how many of its runs were left when it was resumed."""
    if jobs < 1:
        raise InvalidConfig(f"jobs {jobs}: use 1 or more worker processes")
    if results:
        check_writable(results)  # before any work: a run must never end with nowhere to go
    if data is None:
        data = load_dataset(config.dataset, config.data_root, **config.dataset_options)
    grid = _grid(config, data, seeds, splits, methods, results if resume else None)
    combos, identities, done_ids, parsed, groups = grid
    todo = sum(len(g) for g in groups.values())
    fresh: dict[tuple, dict] = {}
    if jobs == 1 or len(groups) <= 1:
        with one_thread() if jobs > 1 else contextlib.nullcontext():
            for (spec, seed), group in progress(list(groups.items()), desc="runs",
                                                enabled=show_progress and todo > 1):
                fresh.update(_run_group(config, data, parsed[spec], spec, seed, group, results, show_progress))
    else:
        fresh = _run_parallel(config, data, parsed, groups, results, jobs, show_progress)
    return [done_ids[i] if i in done_ids else fresh[c] for c, i in zip(combos, identities)]


def _grid(config: RunConfig, data: SkeletonSet, seeds, splits, methods, done_file):
    """The sweep's runs in grid order, their identities, those already in ``done_file`` (by identity),
    the parsed splits, and the missing runs grouped per (split, seed) in method order."""
    done = load_records(done_file) if done_file and Path(done_file).exists() else []
    done_ids = {identity_key(record_identity(r)): r for r in done}
    parsed = {spec: parse_split(spec, data.num_classes, class_names=data.class_names)
              for spec in (splits or [config.split])}
    combos = [(spec, int(seed), method) for spec in parsed for seed in (seeds or [config.seed])
              for method in (methods or [config.method])]
    identities = [identity_key(run_identity(replace(config, split=spec, seed=seed, method=method), data, parsed[spec]))
                  for spec, seed, method in combos]
    groups: dict[tuple, list] = {}
    for (spec, seed, method), identity in zip(combos, identities):
        if identity not in done_ids:
            groups.setdefault((spec, seed), []).append(method)
    return combos, identities, done_ids, parsed, groups


def plan(config: RunConfig, *, seeds=None, splits=None, methods=None, data: SkeletonSet | None = None,
         results: str | None = None, threads: int = 1) -> list[dict]:
    """The runs of a sweep not yet in ``results``, as independent jobs for other processes or machines.

    One job per (split, seed), holding its methods in order (they share the backbone the first one
    trains, through the feature cache when the jobs share one). A job is plain JSON: ``id``,
    ``config`` (:meth:`RunConfig.to_dict`), ``split``, ``seed``, ``methods`` and ``threads`` (torch
    threads, 1 as in the local sweep's workers, so a job's numbers equal the local sweep's). Run one
    with :func:`run_job` (``zssar jobs run PLAN --index N``, e.g. as a SLURM array task), then collect
    every job's records with :func:`gather`."""
    data = data if data is not None else load_dataset(config.dataset, config.data_root, **config.dataset_options)
    *_, groups = _grid(config, data, seeds, splits, methods, results)
    jobs = []
    for index, ((spec, seed), group) in enumerate(groups.items()):
        name = re.sub(r"[^A-Za-z0-9]+", "_", f"{data.name}-{spec}-seed{seed}").strip("_")
        jobs.append({"id": f"{index:04d}-{name}", "config": json.loads(json.dumps(config.to_dict())), "split": spec,
                     "seed": seed, "methods": group, "threads": threads})
    return jobs


def run_job(job: dict, out: str | Path, show_progress: bool = False) -> list[dict]:
    """Run one job of :func:`plan`; its records go to ``out/<id>.jsonl`` (resumable: a method already
    recorded there is not run again)."""
    import torch

    missing = [k for k in ("id", "config", "split", "seed", "methods") if k not in job]
    if missing:
        raise InvalidConfig(f"a sweep job needs {missing}; write the plan with `zssar run ... --plan FILE`")
    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    config = RunConfig.from_dict(job["config"])
    path = Path(out) / f"{job['id']}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return run_many(config, seeds=[job["seed"]], splits=[job["split"]], methods=job["methods"], results=str(path),
                    resume=True, show_progress=show_progress)


def gather(folder: str | Path, results: str | Path) -> int:
    """Append to ``results`` every record of the job files in ``folder`` (in job order) whose run is
    not there yet; returns how many were appended. Gathering twice appends nothing."""
    files = sorted(Path(folder).glob("*.jsonl"))
    if not files:
        raise InvalidConfig(f"no job records (*.jsonl) in {folder}: run the jobs first (`zssar jobs run`)")
    check_writable(results)
    have = {identity_key(record_identity(r)) for r in load_records(results)} \
        if Path(results).exists() else set()
    added = 0
    for file in files:
        for record in load_records(file):
            identity = identity_key(record_identity(record))
            if identity not in have:
                append_record(record, results)
                have.add(identity)
                added += 1
    return added


def _run_group(config, data, split, spec, seed, methods, results, show_progress) -> dict:
    out = {}
    for method in methods:
        run_config = replace(config, split=spec, seed=seed, method=method)
        record = run_experiment(run_config, data=data, split=split, show_progress=show_progress).record.to_dict()
        if results:
            append_record(record, results)
        out[(spec, seed, method)] = record
    return out


def _worker(args):
    import torch

    torch.set_num_threads(1)  # one core per worker
    config, data, split, spec, seed, methods, results = args
    return _run_group(config, data, split, spec, seed, methods, results, False)


def _run_parallel(config, data, parsed, groups, results, jobs, show_progress) -> dict:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    tasks = [(config, data, parsed[spec], spec, seed, methods, results) for (spec, seed), methods in groups.items()]
    fresh = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_worker, task) for task in tasks]
        for future in progress(as_completed(futures), total=len(futures), desc=f"runs ({jobs} workers)",
                               enabled=show_progress):
            fresh.update(future.result())
    return fresh
