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


def collect(study: Path, trainings: list[Path], docs: Path = DOCS) -> None:
    """The study's report, tables and figures into ``docs``, and every finished training of
    the study folders ``trainings`` (with their benchmark files) into its ``runs/``."""
    results = study / "results"
    shutil.copy2(results / "report.md", docs / "report.md")
    for folder in ("tables", "figures"):
        shutil.rmtree(docs / folder, ignore_errors=True)
        shutil.copytree(results / folder, docs / folder)
    for folder in trainings:
        for run in sorted((folder / "results").glob("train/*/*/seed-*")):
            if not all((run / name).exists() for name in RUN_FILES):
                continue  # a training still running
            target = docs / "runs" / run.relative_to(folder / "results" / "train")
            target.mkdir(parents=True, exist_ok=True)
            for name in RUN_FILES:
                shutil.copy2(run / name, target / name)
        for tsv in sorted((folder / "benchmarks" / "train").glob("*.tsv")):
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
    analysed = set(pd.read_csv(tables / "runs.csv")[["variant", "seed"]].itertuples(index=False))
    metrics = [json.loads(p.read_text()) for p in sorted(runs.glob("*/*/seed-*/metrics.json"))]
    metrics = [m for m in metrics if (m["variant"], m["seed"]) in analysed]  # this analysis's
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


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _ci(low: float, high: float) -> str:
    return f"95% CI {_points(low)} to {_points(high)}"


def _pair(effect: str) -> str:
    return " x ".join(f"`{name}`" for name in effect.split(":"))


def answer(docs: Path = DOCS) -> str:
    """The study's answer in one paragraph, from its committed tables: the main effects'
    verdicts, the interactions whose interval excludes 0, and augmentation as a whole (the
    README and docs/cats-vs-dogs-factorial/README.md quote it; a test regenerates it)."""
    from augablate.report import effects_in_brief

    effects = pd.read_csv(docs / "tables" / "effects.csv")
    overall = pd.read_csv(docs / "tables" / "overall.csv").set_index("effect")
    main = effects[effects["kind"] == "main effect"]
    pairs = effects[(effects["kind"] == "interaction")]
    shown = pairs[(pairs["ci_low"] > 0) | (pairs["ci_high"] < 0)]
    seeds = int(main["seeds"].iloc[0])
    text = (
        f"Each transform's main effect on validation accuracy, averaged over the other "
        f"transforms' settings ({len(main) and int(main['runs'].iloc[0])} design points x "
        f"{seeds} seed{'s' if seeds > 1 else ''}, 95% CIs over seeds and images, Holm over the "
        f"six): {effects_in_brief(effects)}"
    )
    if len(shown):
        words = []
        for _, row in shown.iterrows():
            alias = row["aliases"] if isinstance(row["aliases"], str) else ""
            also = f" (or {', '.join(_pair(a.strip()) for a in alias.split('='))})" if alias else ""
            words.append(
                f"{_pair(row['effect'])}{also} {_points(row['difference'])} points "
                f"({_ci(row['ci_low'], row['ci_high'])})"
            )
        kind = "stand in for one another" if (shown["difference"] < 0).all() else "interact"
        text += (
            f" The transforms {kind}: {len(shown)} of the {len(pairs)} two-factor interaction "
            f"chains lie away from 0, " + "; ".join(words) + " (descriptive, unadjusted for the "
            f"{len(pairs)} chains; this fraction cannot tell the pairs of a chain apart)."
        )
    anyone = overall.loc["any augmentation vs none"]
    helps = anyone["ci_low"] > 0
    text += (
        f" {'Augmentation as a whole helps' if helps else 'Augmentation as a whole'}: a design "
        f"point with any transform on is {_points(anyone['difference'])} points from `none` on "
        f"average ({_ci(anyone['ci_low'], anyone['ci_high'])})"
    )
    if "all vs none" in overall.index:
        both = overall.loc["all vs none"]
        text += (
            f", `all` against `none` is {_points(both['difference'])} points "
            f"({_ci(both['ci_low'], both['ci_high'])})"
        )
    return text + "."


def agreement_markdown(results: dict) -> str:
    """The table of the agreement with the none-vs-all example (from the JSON)."""

    def cell(found: dict, level: bool) -> str:
        low, high = found["ci95"]
        if level:
            return f"{100 * found['estimate']:.1f}% ({100 * low:.1f}% to {100 * high:.1f}%, {found['population']})"
        return f"{_points(found['estimate'])} points ({_points(low)} to {_points(high)}, {found['population']})"

    lines = [
        "| over the last 5 epochs | this factorial study | none-vs-all example (3 seeds) | each inside the other's 95% CI |",
        "|---|---|---|---|",
    ]
    for name, found in results["agreement_with_none_vs_all_example"].items():
        level = name.endswith("accuracy")
        lines.append(
            f"| {name} | {cell(found['factorial'], level)} | "
            f"{cell(found['none_vs_all_example'], level)} | {'yes' if found['agree'] else 'no'} |"
        )
    return "\n".join(lines)


def cost_markdown(results: dict, docs: Path = DOCS) -> str:
    """What the answer took (from the JSON), and the report's own Cost sentence: what a
    one-at-a-time study would have needed for the same MDE."""
    cost = results["cost"]
    peak = cost["peak_memory_mb"]
    memory = (
        f"peak resident memory of a training {peak:.0f} MB (Snakemake's benchmark files of "
        f"the {cost['peak_memory_trainings']} trainings that have one)"
        if math.isfinite(peak)
        else "no training kept a benchmark file"
    )
    report = (docs / "report.md").read_text().splitlines()
    sentence = next((line for line in report if line.startswith("Cost: ")), "")
    return (
        f"{cost['trainings']} trainings of {', '.join(map(str, cost['epochs']))} epochs took "
        f"{cost['training_hours']:.2f} hours of training (each training's own wall time, a "
        f"median of {cost['training_seconds_median'] / 60:.1f} min; the median epoch "
        f"{cost['epoch_seconds_median']:.1f} s, one thread, two trainings at a time on the "
        f"2-core development machine, shared: {results['machine_shared']}); {memory}. The "
        f"report's cost sentence: {sentence.removeprefix('Cost: ')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, required=True, help="the finished study's folder")
    parser.add_argument(
        "--trainings",
        type=Path,
        nargs="*",
        default=[],
        help="more study folders whose "
        "finished trainings to keep in runs/ (a longer study still under way)",
    )
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--shared", default="", help="what else ran on the machine meanwhile")
    args = parser.parse_args()
    collect(args.study, [args.study, *args.trainings])
    results = {
        "command": f"benchmarks/cats_factorial.py --study {args.study} --json {args.json}",
        "analysed": pd.read_csv(DOCS / "tables" / "runs.csv")[["variant", "seed"]]
        .astype(str)
        .agg(" seed ".join, axis=1)
        .tolist(),
        "cost": cost(DOCS / "tables", DOCS / "runs", DOCS / "benchmarks"),
        "agreement_with_none_vs_all_example": agreement(DOCS / "tables"),
        "machine_shared": args.shared,
    }
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
