"""Sweeps in parallel: the same records as one process, each run once in the file, in grid order."""
import pytest

from zssar.errors import InvalidConfig
from zssar.results import load_records
from zssar.runner import RunConfig
from zssar.sweep import run_many


def _strip(record):
    return {k: record[k] for k in ("split", "seed", "method", "metrics", "selected", "backbone_cache")} | {
        "backbone_cache": {k: v for k, v in record["backbone_cache"].items() if k != "hit"}}


def test_two_workers_give_the_records_of_one_process(tiny_data, tiny_backbone, tmp_path):
    """Each worker computes with one torch thread; so does the one process here (another thread count
    rounds reductions differently and moves gamma in its sixth digit)."""
    import torch

    config = RunConfig(dataset="tiny", backbone=tiny_backbone, method_settings={"epochs": 2})
    grid = dict(seeds=[0, 1], splits=["random:3:seed=1", "random:3:seed=2"], methods=["global"], data=tiny_data,
                show_progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = run_many(replace_cache(config, tmp_path / "a"), results=str(tmp_path / "one.jsonl"), **grid)
    finally:
        torch.set_num_threads(threads)
    two = run_many(replace_cache(config, tmp_path / "b"), results=str(tmp_path / "two.jsonl"), jobs=2, **grid)
    assert [_strip(r) for r in one] == [_strip(r) for r in two]
    stored = load_records(tmp_path / "two.jsonl")
    assert sorted((r["split"]["name"], r["seed"]) for r in stored) == sorted((r["split"]["name"], r["seed"])
                                                                           for r in one)
    with pytest.raises(InvalidConfig, match="jobs 0"):
        run_many(config, jobs=0, data=tiny_data)


def replace_cache(config, folder):
    from dataclasses import replace

    return replace(config, cache_dir=str(folder))


def test_a_resumed_parallel_sweep_runs_its_last_group_as_a_worker_would(tiny_data, tiny_backbone, tmp_path,
                                                                       two_threads):
    """One (split, seed) left: it runs in this process, but on one torch thread like the workers, so the
    record equals the one a worker wrote; the caller's thread count comes back."""
    import torch

    config = replace_cache(RunConfig(dataset="tiny", backbone=tiny_backbone, method_settings={"epochs": 2}),
                           tmp_path / "c")
    grid = dict(seeds=[0, 1], splits=["random:3:seed=1"], methods=["global"], data=tiny_data, show_progress=False)
    workers = run_many(config, results=str(tmp_path / "all.jsonl"), jobs=2, **grid)
    first = load_records(tmp_path / "all.jsonl")
    rest = [r for r in first if r["seed"] == 1]
    (tmp_path / "resumed.jsonl").write_text("".join(
        __import__("json").dumps(r) + "\n" for r in first if r["seed"] == 0))
    resumed = run_many(config, results=str(tmp_path / "resumed.jsonl"), resume=True, jobs=2, **grid)
    assert torch.get_num_threads() == 2
    assert [r["versions"]["threads"] for r in workers + resumed] == [1, 1, 1, 1]
    assert _strip(resumed[1]) == _strip(rest[0])
