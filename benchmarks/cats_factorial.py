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
import functools
import json
import math
import shutil
import statistics
import textwrap
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
    table = pd.read_csv(tables / "runs.csv")
    analysed = set(table[["variant", "seed"]].itertuples(index=False))
    metrics = [json.loads(p.read_text()) for p in sorted(runs.glob("*/*/seed-*/metrics.json"))]
    metrics = [m for m in metrics if (m["variant"], m["seed"]) in analysed]  # this analysis's
    seconds = (table["train_seconds"] + table["evaluation_seconds"]).tolist()
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
        "training_hours": sum(seconds) / 3600,  # training and evaluation, as runs.csv
        "wall_hours": sum(m["wall_seconds"] for m in metrics) / 3600,  # with any pauses
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
    text += (
        " Augmentation as a whole (descriptive): a design point with any transform on is "
        f"{_points(anyone['difference'])} points from `none` on average "
        f"({_ci(anyone['ci_low'], anyone['ci_high'])}, unadjusted p = {anyone['p_value']:.2g})"
    )
    if "all vs none" in overall.index:
        both = overall.loc["all vs none"]
        text += (
            f", `all` against `none` {_points(both['difference'])} points "
            f"({_ci(both['ci_low'], both['ci_high'])})"
        )
    return text + "."


def readme_paragraph(docs: Path = DOCS, results: dict | None = None) -> str:
    """The project README's paragraph on the study: its answer, how sure, and its agreement
    with the none-vs-all example (a test regenerates it)."""
    if results is None:
        results = json.loads((REPO / "benchmarks" / "cats_factorial.json").read_text())
    effects = pd.read_csv(docs / "tables" / "effects.csv")
    main = effects[effects["kind"] == "main effect"]
    seeds = int(main["seeds"].iloc[0])
    found = results["agreement_with_none_vs_all_example"]
    none, both = found["none accuracy"], found["all vs none"]
    agree = all(row["agree"] for row in found.values())
    example = both["none_vs_all_example"]
    return (
        "The seed's protocol on `cats_and_dogs_filtered` for 50 epochs, as a 2^(6-2) factorial "
        "design over its six transforms "
        "([docs/cats-vs-dogs-factorial/](docs/cats-vs-dogs-factorial/README.md)). "
        + answer(docs)
        + " How sure: a main effect is detected from "
        f"{100 * main['minimum_detectable_effect'].median():.1f} points (95% CI "
        f"{100 * main['minimum_detectable_effect_ci_low'].median():.1f} to "
        f"{100 * main['minimum_detectable_effect_ci_high'].median():.1f}) with 80% power at "
        f"Holm's strictest level; the run part rests on {main['df'].median():g} degrees of "
        "freedom"
        + (
            ", from contrasts that take interactions of three or more transforms as negligible"
            if seeds == 1
            else ""
        )
        + _readme_check_words(docs)
        + f"; the margin is the default study's ±{100 * float(main['margin'].iloc[0]):g} points"
        + f". Its `none` ({100 * none['factorial']['estimate']:.1f}%) and `all` against `none` "
        f"({_points(both['factorial']['estimate'])} points) "
        + ("agree with" if agree else "differ from")
        + " the none-vs-all example's ("
        f"{100 * none['none_vs_all_example']['estimate']:.1f}%, "
        f"{_points(example['estimate'])} points, {_ci(*example['ci95'])}, 3 seeds"
        + (") within their intervals." if agree else ").")
    )


def _readme_check_words(docs: Path) -> str:
    check = _seed_check(docs)
    if check is None:
        return ""
    trainings, seed, _, around, spread = check
    return (
        f", and seed {seed}'s first {trainings} trainings spread around their shift from "
        f"the analysed seed by {100 * around:.1f} points where this model expects about "
        f"{100 * spread:.1f}: the verdicts may not hold when seed {seed} is done"
    )


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
        f"the {cost['peak_memory_trainings']} trainings that kept one: the next seed's, the "
        "first seed's were lost with an earlier machine)"
        if peak is not None
        else "no training kept a benchmark file"
    )
    report = (docs / "report.md").read_text().splitlines()
    sentence = next((line for line in report if line.startswith("Cost: ")), "")
    return (
        f"A training of {', '.join(map(str, cost['epochs']))} epochs took a median of "
        f"{cost['training_seconds_median'] / 60:.1f} min with its evaluation (the median epoch "
        f"{cost['epoch_seconds_median']:.1f} s; one thread, two trainings at a time on the "
        f"2-core development machine, shared: {results['machine_shared']}); {memory}. From "
        f"the report: {sentence}"
    )


def _row(table: pd.DataFrame, key: str, value: str) -> pd.Series:
    return table.set_index(key).loc[value]


def consistency_lines(docs: Path, results: dict) -> list[str]:
    """Why the factorial's baseline and overall effect agree or differ with the example's,
    in words made from the tables."""
    variants = pd.read_csv(docs / "tables" / "variants.csv")
    example = pd.read_csv(EXAMPLE / "variants.csv")
    convergence = pd.read_csv(docs / "tables" / "convergence.csv")
    runs = pd.read_csv(docs / "tables" / "runs.csv")
    overall = pd.read_csv(docs / "tables" / "overall.csv").set_index("effect")
    agree = results["agreement_with_none_vs_all_example"]
    mine, theirs = _row(variants, "variant", "none"), _row(example, "variant", "none")
    lines = [
        f"- **Baseline.** `none` here is {100 * mine['final_val_accuracy_mean']:.1f}%, with "
        f"clean training accuracy {100 * mine['final_clean_train_accuracy_mean']:.1f}% and a "
        f"generalization gap of {_points(mine['generalization_gap_mean'])} points (the "
        f"example: {100 * theirs['final_val_accuracy_mean']:.1f}%, "
        f"{_points(theirs['generalization_gap_mean'])} points): "
        + (
            "the model overfits as the seed says."
            if mine["generalization_gap_mean"] > 0.1
            else "less overfitting than the seed reports."
        )
    ]
    both = agree["all vs none"]
    seeds = int(_row(variants, "variant", "all")["seeds"])
    words = (
        f"- **Augmentation as a whole.** `all` against `none` is "
        f"{_points(both['factorial']['estimate'])} points here against "
        f"{_points(both['none_vs_all_example']['estimate'])} in the example; "
        + ("each lies inside the other's interval." if both["agree"] else "they disagree.")
    )
    collapsed = _row(convergence, "variant", "all")
    if seeds == 1:
        last = float(runs.set_index("variant").loc["all", "final_val_accuracy"])
        history = pd.read_csv(docs / "tables" / "histories.csv")
        epochs = history[history["variant"] == "all"].dropna(subset=["val_accuracy"])
        words += (
            f" Here `all` is a single run, and {int(collapsed['collapsed_epochs'])} of its last "
            f"{int(collapsed['endpoint_epochs'])} epochs (the endpoint) collapsed "
            "(`tables/convergence.csv`: at least 3 points below its median over them), which "
            f"pulls its endpoint down ({100 * last:.1f}%, against "
            f"{100 * float(epochs['val_accuracy'].iloc[-1]):.1f}% at its last epoch); the "
            "example's `all` is the mean of 3 seeds."
            if collapsed["collapsed_epochs"] > 0
            else " Here `all` is a single run; the example's `all` is the mean of 3 seeds."
        )
    anyone = overall.loc["any augmentation vs none"]
    words += (
        " The factorial's own measure of augmentation as a whole, every augmented design point "
        f"against `none`, is {_points(anyone['difference'])} points "
        f"({_ci(anyone['ci_low'], anyone['ci_high'])})."
    )
    return [*lines, words]


def reach_words(docs: Path) -> str:
    """How sure: the main effects' median MDE, its interval, the narrowest margin."""
    effects = pd.read_csv(docs / "tables" / "effects.csv")
    main = effects[effects["kind"] == "main effect"]
    mde = 100 * main["minimum_detectable_effect"].median()
    low = 100 * main["minimum_detectable_effect_ci_low"].median()
    high = 100 * main["minimum_detectable_effect_ci_high"].median()
    smallest = 100 * main["smallest_margin"].median()
    margin = 100 * float(main["margin"].iloc[0])
    df = main["df"].median()
    if smallest > margin:
        reach = "not with 80% power (its verdicts are in practice an effect or inconclusive)"
    else:
        reach = "only just" if smallest > 0.8 * margin else "comfortably"
    return (
        "How sure: the six main effects are one family under Holm's correction, for the "
        f"difference tests and for the equivalence tests against ±{margin:g} points (the "
        "default study's margin, chosen after a first look at this study had shown the "
        "schema's ±1 point out of its reach). This design reaches "
        f'"no effect larger than ±{margin:g} points" {reach}: a main effect is detected with '
        f"80% power from about {mde:.1f} points, and the narrowest margin it rules out is "
        f"about ±{smallest:.1f} points ([`report.md`](report.md), Power); the run part has "
        f"{df:g} degrees of freedom, and the MDE's own 95% interval is {low:.1f} to "
        f"{high:.1f} points. The interactions are descriptive."
        + _company_words(effects, margin)
        + _next_seed_words(docs)
    )


@functools.lru_cache
def next_seed_check(docs: Path) -> tuple[list[float], float, int] | None:
    """The kept trainings of a seed not yet analysed against the analysed seed's at the same
    design points: their differences over the last 5 epochs, what the one-seed model says two
    runs of a point differ by (standard deviation), and that seed; None with nothing to check."""
    from augablate import analysis
    from augablate.design import build_design
    from augablate.factorial import design_scores, study_model
    from augablate.simulate import DEFAULT_TRANSFORMS

    analysed = pd.read_csv(docs / "tables" / "runs.csv")
    if analysed["seed"].nunique() != 1:
        return None
    seed = int(analysed["seed"].iloc[0])
    differences, other_seed = [], None
    for path in sorted(docs.glob("runs/*/*/seed-*/metrics.json")):
        m = json.loads(path.read_text())
        if m["seed"] == seed:
            continue
        predictions = pd.read_csv(path.parent / "predictions.csv.gz")
        mine = analysis.image_table([(m["variant"], m["seed"], predictions)], 5)["score"].mean()
        differences.append(
            mine - analysed.set_index("variant").loc[m["variant"], "final_val_accuracy"]
        )
        other_seed = m["seed"]
    if not differences:
        return None
    design = build_design(DEFAULT_TRANSFORMS, resolution=4)
    images = pd.read_csv(docs / "tables" / "images.csv.gz")
    model = study_model(design_scores(images, design.variants(DEFAULT_TRANSFORMS)), design)
    return differences, math.sqrt(2 * model.run_unit), other_seed


def _seed_check(docs: Path) -> tuple[int, int, float, float, float] | None:
    """The next seed's check in numbers: (trainings, seed, shift, spread around it, what the
    one-seed model expects), from :func:`next_seed_check`; None below 2 trainings. The shift
    is a seed's overall one (it cancels in every effect); the spread around it is what the
    effects feel (twice a run's variance, n - 1 degrees of freedom)."""
    check = next_seed_check(docs)
    if check is None or len(check[0]) < 2:
        return None
    differences, expected, seed = check
    return (
        len(differences),
        seed,
        statistics.mean(differences),
        statistics.stdev(differences),
        expected,
    )


def _next_seed_words(docs: Path) -> str:
    """How the kept trainings of the next seed compare with what the model expects."""
    check = _seed_check(docs)
    if check is None:
        return ""
    trainings, seed, shift, around, spread = check
    return (
        f" A check to come: the {trainings} trainings of seed {seed} done so far are "
        f"{_points(shift)} points from the analysed seed's at the same design points on "
        "average (over the last 5 epochs; a seed's overall shift, which cancels in every "
        f"effect), and spread around that by {100 * around:.1f} points (standard deviation), "
        f"where the one-seed model says two runs of a point differ by about {100 * spread:.1f}. "
        "If runs vary more than the design's two higher-order contrasts showed, the intervals "
        "are too narrow and the verdicts may not hold: the next seed measures how runs vary "
        "directly."
    )


def _company_words(effects: pd.DataFrame, margin: float) -> str:
    """The caveat of a main effect beside large interactions (else nothing)."""
    pairs = effects[effects["kind"] == "interaction"]
    if pairs.empty:
        return ""
    largest = pairs.loc[pairs["difference"].abs().idxmax()]
    if abs(100 * largest["difference"]) < margin / 2:
        return ""
    first, second = largest["effect"].split(":")
    return (
        " A main effect is an average over the other transforms' settings: with interactions "
        f"as large as {abs(100 * largest['difference']):.1f} points (`{first}`'s effect with "
        f"`{second}` on against off, or its aliases'), a transform's effect depends on which "
        "others are on, so a main effect within the margin says the transform adds little on "
        "average in this design's company, not that it does nothing alone (`tables/contrasts.csv`"
        " compares every design point with `none`)."
    )


def status_lines(docs: Path) -> list[str]:
    """Every training kept in runs/, one row each (a test ties the rows to the runs)."""
    rows = []
    for path in sorted(docs.glob("runs/*/*/seed-*/metrics.json")):
        m = json.loads(path.read_text())
        rows.append(
            f"| `{m['variant']}` | {m['seed']} | {m['epochs']} | "
            f"{100 * m['last_epoch_val_accuracy']:.1f}% | {m['wall_seconds'] / 60:.1f} | "
            f"{statistics.median(m['epoch_seconds']):.1f} |"
        )
    return [
        "| design point | seed | epochs | validation accuracy, last epoch | wall time (min) "
        "| median epoch (s) |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def _wrapped(lines: list[str]) -> list[str]:
    """Prose paragraphs and bullets wrapped at 100 characters; tables, images, code as they are."""
    out, code = [], False
    for line in lines:
        if line.startswith("```"):
            code = not code
        if code or line.startswith(("```", "|", "!", "#")) or len(line) <= 100:
            out.append(line)
        elif line.startswith("- "):
            out.append(textwrap.fill(line, 100, subsequent_indent="  ", break_on_hyphens=False))
        else:
            out.append(textwrap.fill(line, 100, break_on_hyphens=False))
    return out


def readme(docs: Path = DOCS, results: dict | None = None) -> str:
    """docs/cats-vs-dogs-factorial/README.md, made from the committed tables, runs and JSON
    (a test regenerates it)."""
    if results is None:
        results = json.loads((REPO / "benchmarks" / "cats_factorial.json").read_text())
    analysed = pd.read_csv(docs / "tables" / "runs.csv")
    seeds = sorted(int(s) for s in analysed["seed"].unique())
    kept = sorted(docs.glob("runs/*/*/seed-*/metrics.json"))
    extra = len(kept) - len(analysed)
    seed_words = (
        f"the {len(analysed)} trainings of seed {seeds[0]}, one per design point. How runs "
        "vary is then measured by the design's contrasts that only interactions of three or "
        "more transforms share ([docs/statistics.md](../statistics.md#one-seed-per-design-point)"
        ": calibrated on simulated studies)"
        if len(seeds) == 1
        else f"the {len(analysed)} trainings of seeds {', '.join(map(str, seeds))}"
    )
    if extra > 0:
        seed_words += (
            f"; {extra} more trainings of the next seed are done and kept in `runs/` for the "
            "next analysis (below)"
        )
    return "\n".join(
        _wrapped(
            [
                "# Cats vs dogs: every reference transform's effect on real photos",
                "",
                "The reference study designed to fit a small machine: the seed's protocol (150x150 "
                "RGB, the 4-block CNN, RMSprop 1e-4, batch 20 x 100 steps, the reference ranges "
                "with shear 0.2 degrees) for 50 epochs, as the 2^(6-2) factorial design of "
                "resolution IV over the six reference transforms: 16 design points, every training "
                "informing every main effect "
                "([`config/cats_vs_dogs_factorial.yaml`](../../config/cats_vs_dogs_factorial.yaml)),"
                " on the repacked archive beside the repository "
                f"(`../shared/datasets/cats_and_dogs_filtered.zip`). Analysed here: {seed_words}.",
                "",
                "[`report.md`](report.md) is the workflow's report; [`tables/`](tables/) every "
                "table (`effects.csv` the main effects and interactions, `overall.csv` "
                "augmentation as a whole, `images.csv.gz` the per-image evidence), "
                "[`figures/`](figures/) its figures, and [`runs/`](runs/) every finished training "
                "as the workflow wrote it (history, per-image predictions, metrics; "
                "[`benchmarks/`](benchmarks/) their Snakemake benchmark files where kept), so that "
                "the study resumes on any machine without training them again. This page is made "
                "from those files and "
                "[`benchmarks/cats_factorial.json`](../../benchmarks/cats_factorial.json) by "
                "[`benchmarks/cats_factorial.py`](../../benchmarks/cats_factorial.py).",
                "",
                "## The answer",
                "",
                answer(docs),
                "",
                reach_words(docs),
                "",
                "![Main effects](figures/main_effects.png)",
                "",
                "![Two-factor interactions](figures/interactions.png)",
                "",
                "## Consistent with what is known",
                "",
                "The known result (the seed notebook: validation accuracy near 70-75% without "
                "augmentation, the generalization gap closing with it) and the committed none-vs-"
                "all example ([docs/example-cats-vs-dogs/](../example-cats-vs-dogs/README.md): the "
                "same protocol, 3 seeds, `none` and `all`):",
                "",
                agreement_markdown(results),
                "",
                *consistency_lines(docs, results),
                "",
                "## What it cost",
                "",
                cost_markdown(results, docs),
                "",
                "The trainings ran on the 2-core development machine (Intel Xeon with AVX-512, no "
                "GPU). Seed 1's wall times also hold the minutes its trainings were paused while "
                "other benchmarks were timed; the median epoch is the better measure of speed. A "
                "training from another CPU is another draw of the same training, as another seed "
                "would be (TensorFlow's CPU kernels differ between instruction sets); each run's "
                "`metrics.json` says which machine ran it (`environment`).",
                "",
                "## The trainings kept here",
                "",
                *status_lines(docs),
                "",
                "## Resuming it, and the next seed",
                "",
                "In a folder outside the checkout (`<folder>`; the archive's path absolute in a "
                "small file, since a relative one is read from the working directory), with "
                f"`train: {{seeds: {[*seeds, max(seeds) + 1]}}}` in `<folder>/seeds.yaml` for the "
                "next seed:",
                "",
                "```",
                "printf 'data:\\n  url: /abs/path/to/cats_and_dogs_filtered.zip\\n' > <folder>/mirror.yaml",
                'S=".venv/bin/snakemake --directory <folder> --configfile config/cats_vs_dogs_factorial.yaml config/cats_vs_dogs_mirror.yaml <folder>/mirror.yaml <folder>/seeds.yaml"',
                "$S --cores 2 --until cache                    # the data first: the trainings' input",
                "mkdir -p <folder>/results/train && cp -r docs/cats-vs-dogs-factorial/runs/* <folder>/results/train/",
                "find <folder>/results/train -exec touch {} +  # newer than the cache: finished, not redone",
                "$S --cores 2 -n                               # plans only the trainings not kept here",
                "$S --cores 2",
                ".venv/bin/python benchmarks/cats_factorial.py --study <folder> --json benchmarks/cats_factorial.json",
                "```",
                "",
            ]
        )
    )


def finite(value):
    """``value`` with every NaN or infinity None (JSON has neither)."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
    args.json.write_text(json.dumps(finite(results), indent=1, allow_nan=False) + "\n")
    (DOCS / "README.md").write_text(readme(DOCS, finite(results)))
    print(answer(DOCS))


if __name__ == "__main__":
    main()
