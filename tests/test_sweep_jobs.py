"""A sweep as independent jobs: planned, run one by one (or through submitit's local executor) into
their own record files, gathered once, with the numbers of the same sweep run in one process."""
import json

import pytest

from helpers import load_script
from zssar.cli import main
from zssar.data.interchange import save_npz
from zssar.results import load_records
from zssar.runner import RunConfig
from zssar.sweep import gather, plan, run_many

SPLITS = ["unseen=0,4,8", "unseen=1,5,9"]


@pytest.fixture
def setup(tiny_data, tiny_backbone, tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("ZSSAR_CACHE", str(tmp_path / "cache"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as every job runs
    path = save_npz(tiny_data, tmp_path / "tiny.npz")
    config = RunConfig(dataset=f"npz:{path}", backbone=tiny_backbone, text="label", method_settings={"epochs": 3})
    yield config, tmp_path
    torch.set_num_threads(before)


def _metrics(records):
    return sorted((r["split"]["name"], r["seed"], r["method"], json.dumps(r["metrics"], sort_keys=True))
                  for r in records)


def test_planned_jobs_run_apart_and_gather_to_the_one_process_sweep(setup, capsys):
    config, tmp = setup
    local = run_many(config, seeds=[0], splits=SPLITS, methods=["global"], show_progress=False)
    done = tmp / "done.jsonl"
    run_many(config, seeds=[0], splits=SPLITS[:1], methods=["global"], results=str(done), show_progress=False)
    jobs = plan(config, seeds=[0, 1], splits=SPLITS, methods=["global"], results=str(done))
    assert len(jobs) == 3 and jobs[0]["split"] == SPLITS[0] and jobs[0]["seed"] == 1  # the recorded run is left out
    plan_file = tmp / "plan.jsonl"
    plan_file.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    for index in range(len(jobs)):
        assert main(["jobs", "run", str(plan_file), "--index", str(index), "--out", str(tmp / "jobs"),
                     "--quiet"]) == 0
    assert len(list((tmp / "jobs").glob("*.jsonl"))) == 3
    assert gather(tmp / "jobs", done) == 3 and gather(tmp / "jobs", done) == 0  # once only
    gathered = load_records(done)
    assert len(gathered) == 4
    seed0 = [r for r in gathered if r["seed"] == 0]
    assert _metrics(seed0) == _metrics(local)  # the same numbers as the sweep in one process
    capsys.readouterr()


def test_the_command_line_writes_a_plan_and_refuses_a_bad_index(setup, capsys):
    config, tmp = setup
    path = config.dataset.split(":", 1)[1]
    plan_file = tmp / "p.jsonl"
    assert main(["run", "--dataset", f"npz:{path}", "--split", *SPLITS, "--seed", "0", "--text", "label",
                 "--plan", str(plan_file)]) == 0
    assert "2 jobs (2 runs) written" in capsys.readouterr().out
    assert main(["jobs", "run", str(plan_file), "--index", "5"]) == 2
    assert "job index 5: the plan" in capsys.readouterr().err
    assert main(["jobs", "run", str(tmp / "nope.jsonl"), "--index", "0"]) == 2
    assert "no plan at" in capsys.readouterr().err


@pytest.mark.slow
def test_submitit_local_executor_runs_the_plan(setup):
    pytest.importorskip("submitit")
    config, tmp = setup
    jobs = plan(config, seeds=[0], splits=SPLITS, methods=["global"])
    submitted = load_script("submit_jobs").submit(jobs, str(tmp / "jobs"), "local", str(tmp / "submitit"))
    records = [r for job in submitted for r in job.result()]
    assert _metrics(records) == _metrics(run_many(config, seeds=[0], splits=SPLITS, methods=["global"],
                                                  show_progress=False))
