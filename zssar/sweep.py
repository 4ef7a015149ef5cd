"""Many runs of one configuration: every (split, seed, method), one record each, resumable.

With ``resume``, a run whose identity (:func:`zssar.records.run_identity`: data, split, setting,
seed, method settings, encoder, backbone, objective, calibration) is already in the results file is
not run again and its stored record is returned, so an interrupted sweep continues where it stopped.
Backbones are shared across methods through the feature cache: the methods of one (split, seed)
train one backbone between them; ``jobs`` workers run (split, seed) groups side by side.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from .data.registry import load_dataset
from .data.skeleton import SkeletonSet
from .data.splits import parse_split
from .errors import InvalidConfig
from .records import record_identity, run_identity
from .results import append_record, check_writable, load_records
from .runner import RunConfig, run_experiment
from .utils import progress


def run_many(config: RunConfig, *, seeds=None, splits=None, methods=None, data: SkeletonSet | None = None,
             results: str | None = None, resume: bool = False, show_progress: bool = True, jobs: int = 1) -> list:
    """Run ``config`` for every (split, seed, method) and return one record each, as stored (a dict in
    the JSON shape of :class:`~zssar.records.ResultRecord`), appended to ``results``.

    ``jobs`` > 1 runs the missing runs in that many worker processes (one per core, one torch thread
    each). The methods of one (split, seed) stay in one worker, in order, so that they share the
    backbone they train through the feature cache and no backbone is trained twice. Records are
    returned in grid order whatever order the workers finish in."""
    if jobs < 1:
        raise InvalidConfig(f"jobs {jobs}: use 1 or more worker processes")
    if results:
        check_writable(results)  # before any work: a run must never end with nowhere to go
    if data is None:
        data = load_dataset(config.dataset, config.data_root, **config.dataset_options)
    done = load_records(results) if resume and results and Path(results).exists() else []
    done_ids = {json.dumps(record_identity(r), sort_keys=True): r for r in done}
    parsed = {spec: parse_split(spec, data.num_classes, class_names=data.class_names)
              for spec in (splits or [config.split])}
    combos = [(spec, int(seed), method) for spec in parsed for seed in (seeds or [config.seed])
              for method in (methods or [config.method])]
    identities = [json.dumps(run_identity(replace(config, split=spec, seed=seed, method=method), data, parsed[spec]),
                             sort_keys=True) for spec, seed, method in combos]
    todo = [combo for combo, identity in zip(combos, identities) if identity not in done_ids]
    groups: dict[tuple, list] = {}
    for spec, seed, method in todo:
        groups.setdefault((spec, seed), []).append(method)
    fresh: dict[tuple, dict] = {}
    if jobs == 1 or len(groups) <= 1:
        for (spec, seed), group in progress(list(groups.items()), desc="runs", enabled=show_progress and len(todo) > 1):
            fresh.update(_run_group(config, data, parsed[spec], spec, seed, group, results, show_progress))
    else:
        fresh = _run_parallel(config, data, parsed, groups, results, jobs, show_progress)
    return [done_ids[i] if i in done_ids else fresh[c] for c, i in zip(combos, identities)]


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
