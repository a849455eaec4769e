"""Time the README's first command: the default study with ``snakemake --cores N`` in a fresh
temporary directory, several times, and where each training's time goes.

Per training (from its metrics.json timeline and its Snakemake benchmark file): process start
to the first epoch (imports, device discovery, data loading, model build), the first epoch
(tracing and compilation included), the steady epochs (median), finishing (metrics, outputs),
and the overhead: the job's wall time minus its steady epochs.

    .venv/bin/python benchmarks/default_study.py --runs 3 --json benchmarks/default_study.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

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


def training_phases(workdir: Path) -> pd.DataFrame:
    rows = []
    for metrics_path in sorted((workdir / "results" / "runs").glob("*/seed-*/metrics.json")):
        metrics = json.loads(metrics_path.read_text())
        timeline = metrics["timeline"]
        ends = timeline["epoch_ends"]
        gaps = [later - earlier for earlier, later in zip(ends, ends[1:], strict=False)]
        steady = statistics.median(gaps) if gaps else 0.0
        tsv = workdir / "benchmarks" / "train" / metrics["variant"] / f"seed-{metrics['seed']}.tsv"
        job = float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
        rows.append(
            {
                "variant": metrics["variant"],
                "seed": metrics["seed"],
                "job_seconds": job,
                "start_to_first_epoch": timeline["first_epoch_begin"] - timeline["process_start"],
                "first_epoch": ends[0] - timeline["first_epoch_begin"],
                "steady_epoch": steady,
                "finishing": timeline["outputs_written"] - ends[-1],
                "overhead": job - steady * len(ends),
                "epochs": len(ends),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--configfile", nargs="+", default=[str(REPO / "config" / "config.yaml")])
    parser.add_argument(
        "--threads", type=int, help="resources.train_threads (default: the config's)"
    )
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--keep", type=Path, help="copy the last run's tables here")
    args = parser.parse_args()
    walls, phases, histories = [], [], []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="augablate-default-") as tmp:
            workdir = Path(tmp)
            configs = list(args.configfile)
            if args.threads:
                (workdir / "threads.yaml").write_text(
                    f"resources: {{train_threads: {args.threads}}}\n"
                )
                configs.append(str(workdir / "threads.yaml"))
            walls.append(run_study(workdir, args.cores, configs))
            table = training_phases(workdir)
            phases.append(table.assign(run=index))
            histories.append(pd.read_csv(workdir / "results" / "tables" / "histories.csv"))
            if args.keep and index == args.runs - 1:
                args.keep.mkdir(parents=True, exist_ok=True)
                for path in (workdir / "results" / "tables").iterdir():
                    (args.keep / path.name).write_bytes(path.read_bytes())
        print(f"run {index + 1}: {walls[-1]:.1f} s", flush=True)
    timings = ["epoch_seconds", "evaluation_seconds"]
    identical = all(
        h.drop(columns=timings).equals(histories[0].drop(columns=timings)) for h in histories
    )
    every = pd.concat(phases, ignore_index=True)
    columns = [
        "job_seconds",
        "start_to_first_epoch",
        "first_epoch",
        "steady_epoch",
        "finishing",
        "overhead",
    ]
    report = {
        "command": f"benchmarks/default_study.py --runs {args.runs} --cores {args.cores}"
        + (f" --threads {args.threads}" if args.threads else ""),
        "train_threads": args.threads or "the config's",
        "configfile": [os.path.relpath(c, REPO) for c in args.configfile],
        "wall_seconds": walls,
        "wall_seconds_median": statistics.median(walls),
        "trainings_per_run": int(len(phases[0])),
        "per_training_median": {c: float(every[c].median()) for c in columns},
        "per_training_mean": {c: float(every[c].mean()) for c in columns},
        "histories_identical_across_runs": bool(identical),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
