"""Time the README's first command: the default study with ``snakemake --cores N`` in a fresh
temporary directory, several times, and where each training's time goes.

Per training (from its metrics.json timeline and its job's Snakemake benchmark file): the start
to its first epoch (for a job's first training from the process start: imports, device
discovery, data loading, model build; for a later one from its own start, right after the
training before), the
first epoch (tracing and compilation included), the steady epochs (median), finishing (metrics,
outputs), its share of the job's wall time (the job's over its trainings) and the overhead:
that share minus its steady epochs.

    .venv/bin/python benchmarks/default_study.py --runs 2 --json benchmarks/default_study.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def run_study(workdir: Path, cores: int, configs: list[str]) -> float:
    """Run the study in ``workdir`` as the tests run the workflow; its wall time in seconds."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import run_snakemake

    started = time.perf_counter()
    result = run_snakemake(workdir, "--cores", str(cores), "--configfile", *configs, timeout=7200)
    wall = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    return wall


def job_seconds(workdir: Path, configs: list[str]) -> dict[tuple[str, int], tuple[float, int]]:
    """(variant, seed) -> (wall time of the training job that ran it, runs in that job), from
    the jobs' Snakemake benchmark files (``benchmarks/train/<job>.tsv``, e.g.
    ``none-to-horizontal_flip_seeds-1-2-3.tsv``)."""
    from snakemake.utils import update_config

    from augablate.jobs import training_jobs
    from augablate.settings import load_config

    overrides: dict = {}  # the later config files over the first, as Snakemake merges them
    for path in configs[1:]:  # (with --configfile, the workflow's own config.yaml is not read)
        update_config(overrides, yaml.safe_load(Path(path).read_text()) or {})
    config = load_config(configs[0], overrides)
    jobs = {}
    for name, job in training_jobs(config).items():
        tsv = workdir / "benchmarks" / "train" / f"{name}.tsv"
        wall = float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
        runs = job.runs()
        for run in runs:
            jobs[run] = (wall, len(runs))
    return jobs


def training_phases(workdir: Path, configs: list[str]) -> pd.DataFrame:
    """One row per training. A job that trains several seeds in one process pays the process
    start-up once: its first run's start-up runs from the process start, a later run's from the
    end of the run before. A training's share of its job is the job's wall time over its runs;
    the overhead is that share minus the training's steady epochs."""
    jobs = job_seconds(workdir, configs)
    every = [
        json.loads(path.read_text())
        for path in sorted((workdir / "results" / "train").glob("*/*/seed-*/metrics.json"))
    ]
    rows = []
    for metrics in every:
        timeline = metrics["timeline"]
        ends = timeline["epoch_ends"]
        gaps = [later - earlier for earlier, later in zip(ends, ends[1:], strict=False)]
        steady = statistics.median(gaps) if gaps else 0.0
        wall, runs = jobs[metrics["variant"], metrics["seed"]]
        # the runs of the same process (the same process start time), trained one after another
        mates = [m for m in every if same_process(m, metrics)]
        first_in_process = timeline["run_start"] == min(m["timeline"]["run_start"] for m in mates)
        began = timeline["process_start"] if first_in_process else timeline["run_start"]
        rows.append(
            {
                "variant": metrics["variant"],
                "seed": metrics["seed"],
                "runs_in_job": runs,
                "first_in_process": first_in_process,
                "job_seconds": wall,
                "job_share_seconds": wall / runs,
                "start_to_first_epoch": timeline["first_epoch_begin"] - began,
                "first_epoch": ends[0] - timeline["first_epoch_begin"],
                "steady_epoch": steady,
                "finishing": timeline["outputs_written"] - ends[-1],
                "overhead": wall / runs - steady * len(ends),
                "epochs": len(ends),
            }
        )
    return pd.DataFrame(rows)


def same_process(one: dict, other: dict) -> bool:
    """Whether two runs' metrics come from the same process (the same process start time)."""
    return abs(one["timeline"]["process_start"] - other["timeline"]["process_start"]) < 1e-6


def same_tables(tables: Path, reference: Path) -> bool:
    """Histories and per-image results equal value for value (timings aside)."""
    timings = ["epoch_seconds", "evaluation_seconds"]
    ours = pd.read_csv(tables / "histories.csv").drop(columns=timings)
    theirs = pd.read_csv(reference / "histories.csv").drop(columns=timings)
    images = pd.read_csv(tables / "images.csv.gz").equals(pd.read_csv(reference / "images.csv.gz"))
    return bool(ours.equals(theirs) and images)


def code_version() -> str:
    """The commit measured, and whether the working tree differed from it."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with uncommitted changes" if git("status", "--porcelain") else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--configfile", nargs="+", default=[str(REPO / "config" / "config.yaml")])
    parser.add_argument(
        "--threads", type=int, help="resources.train_threads (default: the config's)"
    )
    parser.add_argument(
        "--variants-per-job", type=int, help="resources.variants_per_job (default: the config's)"
    )
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--keep", type=Path, help="copy the last run's tables here")
    parser.add_argument(
        "--keep-report", type=Path, help="copy the last run's report.md and figures/ here"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        help="tables of an earlier study (--keep): are histories and per-image results identical?",
    )
    args = parser.parse_args()
    walls, phases, histories, same_as_before = [], [], [], []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="augablate-default-") as tmp:
            workdir = Path(tmp)
            configs = list(args.configfile)
            resources = {
                "train_threads": args.threads,
                "variants_per_job": args.variants_per_job,
            }
            resources = {key: value for key, value in resources.items() if value}
            if resources:
                (workdir / "resources.yaml").write_text(yaml.safe_dump({"resources": resources}))
                configs.append(str(workdir / "resources.yaml"))
            walls.append(run_study(workdir, args.cores, configs))
            table = training_phases(workdir, configs)
            training_jobs = len(list((workdir / "benchmarks" / "train").glob("*.tsv")))
            phases.append(table.assign(run=index))
            histories.append(pd.read_csv(workdir / "results" / "tables" / "histories.csv"))
            if args.compare:
                same_as_before.append(same_tables(workdir / "results" / "tables", args.compare))
            if args.keep and index == args.runs - 1:
                args.keep.mkdir(parents=True, exist_ok=True)
                for path in (workdir / "results" / "tables").iterdir():
                    (args.keep / path.name).write_bytes(path.read_bytes())
            if args.keep_report and index == args.runs - 1:
                shutil.copytree(workdir / "results" / "figures", args.keep_report / "figures")
                shutil.copy(workdir / "results" / "report.md", args.keep_report / "report.md")
        print(f"run {index + 1}: {walls[-1]:.1f} s", flush=True)
    timings = ["epoch_seconds", "evaluation_seconds"]
    identical = all(
        h.drop(columns=timings).equals(histories[0].drop(columns=timings)) for h in histories
    )
    every = pd.concat(phases, ignore_index=True)
    columns = [
        "job_seconds",
        "job_share_seconds",
        "start_to_first_epoch",
        "first_epoch",
        "steady_epoch",
        "finishing",
        "overhead",
    ]
    report = {
        "command": f"benchmarks/default_study.py --runs {args.runs} --cores {args.cores}"
        + (f" --threads {args.threads}" if args.threads else "")
        + (f" --variants-per-job {args.variants_per_job}" if args.variants_per_job else ""),
        "train_threads": args.threads or "the config's",
        "variants_per_job": args.variants_per_job or "the config's",
        "configfile": [os.path.relpath(c, REPO) for c in args.configfile],
        "wall_seconds": walls,
        "wall_seconds_median": statistics.median(walls),
        "trainings_per_run": int(len(phases[0])),
        "per_training_median": {c: float(every[c].median()) for c in columns},
        "per_training_mean": {c: float(every[c].mean()) for c in columns},
        # a job's first run pays the process start-up and the compilation, the others not
        "start_to_first_epoch_median": {
            "first_run_in_process": float(
                every.loc[every["first_in_process"], "start_to_first_epoch"].median()
            ),
            "later_runs": float(
                every.loc[~every["first_in_process"], "start_to_first_epoch"].median()
            ),
        },
        "first_epoch_median": {
            "first_run_in_process": float(
                every.loc[every["first_in_process"], "first_epoch"].median()
            ),
            "later_runs": float(every.loc[~every["first_in_process"], "first_epoch"].median()),
        },
        "training_jobs_per_run": training_jobs,
        "histories_identical_across_runs": bool(identical),
        "identical_to_compared_tables": all(same_as_before) if args.compare else None,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "code": code_version(),
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
