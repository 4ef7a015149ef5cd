"""Submit the jobs of a sweep plan through submitit: to SLURM, or to the local executor to try it.

    .venv/bin/zssar run --method global purls --dataset kard --setting cross_subject \\
        --split random:5:0 random:5:1 --seed 0 1 2 --results results/kard.jsonl --plan kard-plan.jsonl
    .venv/bin/python scripts/submit_jobs.py kard-plan.jsonl --executor slurm --partition gpu \\
        --timeout-min 60 --out results/jobs --results results/kard.jsonl

Each job is one array task that calls ``zssar.sweep.run_job`` (the same code as ``zssar jobs run``)
and writes its own records file under ``--out``; when every task has ended, the records are gathered
into ``--results`` once (``zssar jobs gather``). Jobs that share a feature cache (``ZSSAR_CACHE`` on a
shared file system) reuse each other's backbones. Needs the ``cluster`` extra (``pip install
'zssar[cluster]'``).
"""
from __future__ import annotations

import argparse
from pathlib import Path


def submit(jobs: list[dict], out: str, executor: str = "local", folder: str = "results/jobs/submitit",
           timeout_min: int = 60, partition: str | None = None, gpus: int = 0, cpus: int = 1) -> list:
    """Submit ``jobs`` as one array; returns the submitit jobs (``.result()`` waits for one)."""
    import submitit

    from zssar.sweep import run_job

    if executor == "local":
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=timeout_min)
    elif executor == "slurm":
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        ex.update_parameters(timeout_min=timeout_min, cpus_per_task=cpus, gpus_per_node=gpus,
                             **({"slurm_partition": partition} if partition else {}))
    else:
        raise SystemExit(f"executor {executor!r}: use local or slurm")
    return ex.map_array(run_job, jobs, [out] * len(jobs))


def main(argv=None) -> None:
    from zssar.commands.jobs import read_plan
    from zssar.sweep import gather

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", help="a plan written by `zssar run ... --plan FILE`")
    parser.add_argument("--executor", default="local", choices=["local", "slurm"])
    parser.add_argument("--out", default="results/jobs", help="folder for each job's records")
    parser.add_argument("--results", default=None, help="gather the records into this results file at the end")
    parser.add_argument("--timeout-min", type=int, default=60)
    parser.add_argument("--partition", default=None)
    parser.add_argument("--gpus", type=int, default=0)
    parser.add_argument("--cpus", type=int, default=1)
    args = parser.parse_args(argv)
    jobs = read_plan(args.plan)
    submitted = submit(jobs, args.out, args.executor, str(Path(args.out) / "submitit"), args.timeout_min,
                       args.partition, args.gpus, args.cpus)
    print(f"{len(submitted)} job(s) submitted ({args.executor}); waiting for them")
    for job, spec in zip(submitted, jobs):
        records = job.result()  # raises with the job's own error if it failed
        print(f"  {spec['id']}: {len(records)} record(s)")
    if args.results:
        print(f"{gather(args.out, args.results)} new record(s) appended to {args.results}")


if __name__ == "__main__":
    main()
