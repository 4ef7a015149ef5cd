"""Many runs of one configuration: every (split, seed, method), one record each, resumable.

With ``resume``, a run whose identity (:func:`zssar.records.run_identity`: data, split, setting,
seed, method settings, encoder, backbone, objective, calibration) is already in the results file is
not run again and its stored record is returned, so an interrupted sweep continues where it stopped.
Backbones are shared across methods through the feature cache: the methods of one (split, seed)
train one backbone between them.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from .data.registry import load_dataset
from .data.skeleton import SkeletonSet
from .data.splits import parse_split
from .records import record_identity, run_identity
from .results import append_record, check_writable, load_records
from .runner import RunConfig, run_experiment
from .utils import progress


def run_many(config: RunConfig, *, seeds=None, splits=None, methods=None, data: SkeletonSet | None = None,
             results: str | None = None, resume: bool = False, show_progress: bool = True) -> list:
    """Run ``config`` for every (split, seed, method) and return one record each, as stored (a dict in
    the JSON shape of :class:`~zssar.records.ResultRecord`), appended to ``results``."""
    if results:
        check_writable(results)  # before any work: a run must never end with nowhere to go
    if data is None:
        data = load_dataset(config.dataset, config.data_root, **config.dataset_options)
    done = load_records(results) if resume and results and Path(results).exists() else []
    done_ids = [json.dumps(record_identity(r), sort_keys=True) for r in done]
    parsed = {spec: parse_split(spec, data.num_classes, class_names=data.class_names)
              for spec in (splits or [config.split])}
    combos = [(spec, int(seed), method) for spec in parsed for seed in (seeds or [config.seed])
              for method in (methods or [config.method])]
    records = []
    for spec, seed, method in progress(combos, desc="runs", enabled=show_progress and len(combos) > 1):
        run_config = replace(config, split=spec, seed=seed, method=method)
        identity = json.dumps(run_identity(run_config, data, parsed[spec]), sort_keys=True)
        if identity in done_ids:
            records.append(done[done_ids.index(identity)])
            continue
        record = run_experiment(run_config, data=data, split=parsed[spec], show_progress=show_progress).record.to_dict()
        if results:
            append_record(record, results)
        records.append(record)
    return records
