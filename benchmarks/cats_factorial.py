"""The cats-vs-dogs factorial example (docs/cats-vs-dogs-factorial/) from a finished study.

Copies a study folder's report, tables and figures into the docs folder, keeps its trainings
there (``runs/``, so that the study resumes on any machine) with their Snakemake benchmark
files (``benchmarks/``), and writes a JSON of what the answer cost (trainings, hours, peak
memory) and whether it agrees with the none-vs-all example (docs/example-cats-vs-dogs/): the
`none` and `all` accuracies and the difference of the two, each study's estimate inside the
other's 95% interval.

    .venv/bin/python benchmarks/cats_factorial.py --study /work/runs/cats-factorial \
        --json benchmarks/cats_factorial.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import statistics
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "cats-vs-dogs-factorial"
EXAMPLE = REPO / "docs" / "example-cats-vs-dogs" / "tables"
RUN_FILES = ("history.csv", "predictions.csv.gz", "metrics.json")


def collect(study: Path, docs: Path = DOCS) -> None:
    """The study's report, tables and figures, and every training, into ``docs``."""
    results = study / "results"
    shutil.copy2(results / "report.md", docs / "report.md")
    for folder in ("tables", "figures"):
        shutil.rmtree(docs / folder, ignore_errors=True)
        shutil.copytree(results / folder, docs / folder)
    for run in sorted(results.glob("train/*/*/seed-*")):
        if not (run / "metrics.json").exists():
            continue
        target = docs / "runs" / run.relative_to(results / "train")
        target.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            shutil.copy2(run / name, target / name)
    for tsv in sorted((study / "benchmarks" / "train").glob("*.tsv")):
        (docs / "benchmarks").mkdir(exist_ok=True)
        shutil.copy2(tsv, docs / "benchmarks" / tsv.name)


def _level(variants: pd.DataFrame, name: str) -> dict:
    row = variants.set_index("variant").loc[name]
    return {
        "estimate": float(row["final_val_accuracy_mean"]),
        "ci95": [float(row["final_val_accuracy_ci_low"]), float(row["final_val_accuracy_ci_high"])],
        "population": str(row["final_val_accuracy_ci_population"]),
        "seeds": int(row["seeds"]),
    }


def _difference(row) -> dict:
    return {
        "estimate": float(row["difference"]),
        "ci95": [float(row["ci_low"]), float(row["ci_high"])],
        "population": str(row["population"]),
        "seeds": int(row["seeds"]),
    }


def agreement(tables: Path, example: Path = EXAMPLE) -> dict:
    """The factorial study against the none-vs-all example: `none`'s and `all`'s validation
    accuracy (last-k mean) and `all` vs `none`, with each study's 95% CI; ``agree``: each
    estimate inside the other study's interval."""
    mine_variants = pd.read_csv(tables / "variants.csv")
    theirs_variants = pd.read_csv(example / "variants.csv")
    overall = pd.read_csv(tables / "overall.csv").set_index("effect")
    contrasts = pd.read_csv(example / "contrasts.csv")
    theirs_contrast = contrasts[(contrasts["variant"] == "all") & (contrasts["baseline"] == "none")]
    rows = {
        "none accuracy": (_level(mine_variants, "none"), _level(theirs_variants, "none")),
        "all accuracy": (_level(mine_variants, "all"), _level(theirs_variants, "all")),
        "all vs none": (
            _difference(overall.loc["all vs none"]),
            _difference(theirs_contrast.iloc[0]),
        ),
    }
    found = {}
    for name, (mine, theirs) in rows.items():
        inside = [
            theirs["ci95"][0] <= mine["estimate"] <= theirs["ci95"][1],
            mine["ci95"][0] <= theirs["estimate"] <= mine["ci95"][1],
        ]
        found[name] = {
            "factorial": mine,
            "none_vs_all_example": theirs,
            "factorial_minus_example": mine["estimate"] - theirs["estimate"],
            "agree": all(inside),
        }
    return found


def peak_memory_mb(benchmarks: Path) -> float:
    """The largest resident memory of a training (Snakemake's benchmark files, max_rss MB)."""
    peaks = []
    for tsv in sorted(benchmarks.glob("*.tsv")):
        with tsv.open() as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                if row.get("max_rss") not in (None, "", "NA", "-"):
                    peaks.append(float(row["max_rss"]))
    return max(peaks) if peaks else math.nan


def cost(tables: Path, runs: Path, benchmarks: Path) -> dict:
    """What the answer took: trainings, their hours (each training's own wall time, from its
    metrics.json) and median epoch, peak memory, and what a one-at-a-time study of the same
    transforms would need for the same MDE (effects.csv's ``one_at_a_time_seeds_*``)."""
    metrics = [json.loads(p.read_text()) for p in sorted(runs.glob("*/*/seed-*/metrics.json"))]
    seconds = [m["wall_seconds"] for m in metrics]
    epochs = [s for m in metrics for s in m["epoch_seconds"]]
    effects = pd.read_csv(tables / "effects.csv")
    main = effects[effects["kind"] == "main effect"]
    factors = len(main)
    variants = 2 * factors + 2
    each = statistics.median(seconds)
    needed = {}
    for end in ("low", "high"):
        seeds = float(main[f"one_at_a_time_seeds_{end}"].median())
        needed[end] = {
            "seeds_per_variant": seeds,
            "trainings": variants * seeds,
            "hours": variants * seeds * each / 3600,
        }
    return {
        "trainings": len(metrics),
        "seeds": sorted({m["seed"] for m in metrics}),
        "epochs": sorted({m["epochs"] for m in metrics}),
        "training_hours": sum(seconds) / 3600,
        "training_seconds_median": each,
        "epoch_seconds_median": statistics.median(epochs),
        "peak_memory_mb": peak_memory_mb(benchmarks),
        "peak_memory_trainings": len(list(benchmarks.glob("*.tsv"))),
        "mde_points_median": 100 * float(main["minimum_detectable_effect"].median()),
        "one_at_a_time_variants": variants,
        "one_at_a_time_same_mde": needed,
        "machines": sorted(
            {
                f"{m['environment']['processor']}, {m['environment']['cpu_count']} CPUs"
                for m in metrics
            }
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, required=True, help="the finished study's folder")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--shared", default="", help="what else ran on the machine meanwhile")
    args = parser.parse_args()
    collect(args.study)
    results = {
        "command": f"benchmarks/cats_factorial.py --study {args.study} --json {args.json}",
        "cost": cost(DOCS / "tables", DOCS / "runs", DOCS / "benchmarks"),
        "agreement_with_none_vs_all_example": agreement(DOCS / "tables"),
        "machine_shared": args.shared,
    }
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
