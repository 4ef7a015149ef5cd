"""``zssar jobs``: run the jobs of a sweep plan one by one (anywhere), and gather their records.

``zssar run ... --results FILE --plan PLAN`` writes the runs not yet in FILE as jobs, one JSON line per
(split, seed); ``zssar jobs run PLAN --index N`` runs job N (``--index`` defaults to
``$SLURM_ARRAY_TASK_ID``, so a SLURM array runs the plan), writing its records to ``--out/<id>.jsonl``;
``zssar jobs gather DIR --results FILE`` appends every job's records to FILE once.
"""
from __future__ import annotations

NAME = "jobs"
HELP = "run one job of a sweep plan (zssar run --plan), list a plan, or gather the jobs' records"


def add_arguments(p) -> None:
    p.add_argument("action", choices=["run", "list", "gather"])
    p.add_argument("path", help="the plan file (run, list) or the folder of job records (gather)")
    p.add_argument("--index", type=int, default=None,
                   help="the job to run (0-based; default: $SLURM_ARRAY_TASK_ID)")
    p.add_argument("--all", action="store_true", help="run every job of the plan, one after the other")
    p.add_argument("--out", default="results/jobs", help="folder for the jobs' records (default: results/jobs)")
    p.add_argument("--results", default=None, help="gather: the results file to append to")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def read_plan(path: str) -> list[dict]:
    import json
    from pathlib import Path

    from ..errors import InvalidConfig

    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        raise InvalidConfig(f"no plan at {path}: write one with `zssar run ... --plan {path}`") from None
    jobs = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                jobs.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidConfig(f"{path}, line {number}: not a job ({exc.msg}); write the plan again") from None
    return jobs


def main(args) -> dict:
    import os

    from ..errors import InvalidConfig
    from ..sweep import gather, run_job

    if args.action == "gather":
        if not args.results:
            raise InvalidConfig("zssar jobs gather DIR needs --results FILE: the results file to append to")
        return {"gathered": gather(args.path, args.results), "results": args.results}
    jobs = read_plan(args.path)
    if args.action == "list":
        return {"jobs": [{"index": i, "id": j["id"], "methods": j["methods"]} for i, j in enumerate(jobs)]}
    if args.all:
        chosen = list(range(len(jobs)))
    else:
        index = args.index if args.index is not None else os.environ.get("SLURM_ARRAY_TASK_ID")
        if index is None:
            raise InvalidConfig("which job? pass --index N (0-based), --all, or run as a SLURM array task")
        chosen = [int(index)]
    bad = [i for i in chosen if not 0 <= i < len(jobs)]
    if bad:
        raise InvalidConfig(f"job index {bad[0]}: the plan {args.path} has jobs 0..{len(jobs) - 1}")
    runs = sum(len(run_job(jobs[i], args.out, show_progress=not args.quiet)) for i in chosen)
    return {"ran": [jobs[i]["id"] for i in chosen], "runs": runs, "out": args.out}


def human(out: dict) -> None:
    if "gathered" in out:
        print(f"{out['gathered']} new record(s) appended to {out['results']}")
    elif "ran" in out:
        print(f"{len(out['ran'])} job(s), {out['runs']} run(s); records in {out['out']}: {', '.join(out['ran'])}")
    else:
        for job in out["jobs"]:
            print(f"  {job['index']:4d}  {job['id']}  {' '.join(job['methods'])}")
