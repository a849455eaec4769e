"""Tidy tables and statistics over the runs of a study (definitions: config/README.md).

- images: one row per (variant, seed, validation image): the image's score, its accuracy over
  the last k epochs, the evidence every accuracy statistic is built from;
- histories: one row per (variant, seed, epoch);
- runs: one row per (variant, seed), the per-run metrics of :data:`RUN_METRICS`;
- variants: one row per variant: validation accuracy with a 95% CI over seeds *and* images,
  the other metrics with a t-interval over seeds;
- curves: one row per (variant, epoch, measure): mean and 95% t-interval over seeds, the bands
  the learning-curve figures draw;
- contrasts: paired differences between variants with a 95% CI and tests over seeds and images
  (:mod:`augablate.inference`), Holm's correction over the primary family, and a verdict;
- mcnemar: the exact McNemar cross-check of every contrast, one row per seed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from augablate.inference import (
    POOLED,
    SEEDS_AND_IMAGES,
    CrossedEstimate,
    StudyModel,
    crossed_mean,
    design,
    holm,
    mcnemar_exact,
)
from augablate.variants import (
    ALL,
    ALL_MINUS,
    NONE,
    registry_position,
    strength_of,
    variant_kind,
    variant_sort_key,
)

RUN_METRICS = {
    "final_val_accuracy": "validation accuracy over the last k epochs: the mean of the "
    "per-image scores (each image's fraction right over those epochs)",
    "final_clean_train_accuracy": "accuracy on the fixed sample of un-augmented training "
    "images, mean over the epochs within the last k at which it was measured",
    "generalization_gap": "final_clean_train_accuracy minus final_val_accuracy",
    "final_augmented_batch_accuracy": "Keras' running accuracy over the training batches as "
    "fed (augmented), mean over the last k epochs",
    "best_val_accuracy": "highest validation accuracy of any epoch",
    "best_val_accuracy_epoch": "first epoch that reached it",
    "min_val_loss": "lowest validation loss of any epoch",
    "min_val_loss_epoch": "first epoch that reached it",
    "final_val_loss": "validation loss of the last epoch",
    "val_loss_rise": "final minus minimum validation loss (the overfitting signature)",
}
#: Run metrics that are accuracies (their intervals are kept within 0..1).
ACCURACY_METRICS = (
    "final_val_accuracy",
    "final_clean_train_accuracy",
    "final_augmented_batch_accuracy",
    "best_val_accuracy",
)
SEED_METRICS = (
    "final_clean_train_accuracy",
    "generalization_gap",
    "final_augmented_batch_accuracy",
    "best_val_accuracy",
    "min_val_loss",
    "val_loss_rise",
)
CURVE_MEASURES = (
    "augmented_batch_accuracy",
    "clean_train_accuracy",
    "val_accuracy",
    "augmented_batch_loss",
    "clean_train_loss",
    "val_loss",
)

# Families of contrasts. The primary family (single transforms against none, and all against
# all minus each) is corrected together; a study with neither asks the overall question.
ALONE, IN_COMPANY, OVERALL, OTHER = "alone", "in company", "overall", "other"
STRENGTH, COMBINATION = "strength", "combination"
FAMILY_QUESTIONS = {
    ALONE: "what a transform does alone (X vs none)",
    IN_COMPANY: "what a transform adds to the others (all vs all minus X)",
    OVERALL: "what all transforms together do (all vs none)",
    OTHER: "all minus X vs none",
    STRENGTH: "a transform at a chosen strength (X@value vs none)",
    COMBINATION: "a named combination (X+Y vs none)",
}


def variant_order(variants: Iterable[str]) -> list[str]:
    """The study's canonical order (:func:`augablate.variants.variant_sort_key`)."""
    return sorted(dict.fromkeys(variants), key=variant_sort_key)


def _in_study_order(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    order = variant_order(table["variant"])
    table = table.assign(variant=pd.Categorical(table["variant"], order, ordered=True))
    table = table.sort_values(list(keys)).reset_index(drop=True)
    return table.assign(variant=table["variant"].astype(str))


# --------------------------------------------------------------------------------------------
# Per-image evidence and per-run tables
# --------------------------------------------------------------------------------------------


def image_scores(predictions: pd.DataFrame, last_k: int) -> pd.DataFrame:
    """One run's per-image scores: the fraction of the last k epochs each validation image was
    right, and whether it was right at the last epoch."""
    last = int(predictions["epoch"].max())
    tail = predictions[predictions["epoch"] > last - last_k]
    grouped = tail.groupby("image", sort=False)
    scores = grouped.agg(label=("label", "first"), score=("correct", "mean")).reset_index()
    final = predictions[predictions["epoch"] == last].set_index("image")["correct"]
    scores["last_epoch_correct"] = scores["image"].map(final).astype(int)
    return scores


def image_table(runs: Sequence[tuple[str, int, pd.DataFrame]], last_k: int) -> pd.DataFrame:
    """One row per (variant, seed, image) from each run's predictions."""
    frames = []
    for variant, seed, predictions in runs:
        frame = image_scores(predictions, last_k)
        frame.insert(0, "seed", int(seed))
        frame.insert(0, "variant", variant)
        frames.append(frame)
    return _in_study_order(pd.concat(frames, ignore_index=True), ["variant", "seed"])


def tidy_histories(histories: Sequence[tuple[str, int, pd.DataFrame]]) -> pd.DataFrame:
    """Stack per-run histories into one table with ``variant`` and ``seed`` columns."""
    frames = []
    for variant, seed, history in histories:
        frame = history.copy()
        frame.insert(0, "seed", int(seed))
        frame.insert(0, "variant", variant)
        frames.append(frame)
    return _in_study_order(pd.concat(frames, ignore_index=True), ["variant", "seed", "epoch"])


def summarize_run(history: pd.DataFrame, last_k: int) -> dict:
    """The metrics of :data:`RUN_METRICS` for one run's history (one row per epoch)."""
    run = history.sort_values("epoch")
    tail = run.tail(last_k)
    best = run.loc[run["val_accuracy"].idxmax()]
    lowest = run.loc[run["val_loss"].idxmin()]
    final_val = float(tail["val_accuracy"].mean())
    final_clean = float(tail["clean_train_accuracy"].mean())  # NaN-skipping: measured epochs
    return {
        "epochs": int(run["epoch"].max()),
        "final_val_accuracy": final_val,
        "final_clean_train_accuracy": final_clean,
        "generalization_gap": final_clean - final_val,
        "final_augmented_batch_accuracy": float(tail["augmented_batch_accuracy"].mean()),
        "best_val_accuracy": float(best["val_accuracy"]),
        "best_val_accuracy_epoch": int(best["epoch"]),
        "min_val_loss": float(lowest["val_loss"]),
        "min_val_loss_epoch": int(lowest["epoch"]),
        "final_val_loss": float(run["val_loss"].iloc[-1]),
        "val_loss_rise": float(run["val_loss"].iloc[-1] - lowest["val_loss"]),
        "train_seconds": float(run["epoch_seconds"].sum()),
        "evaluation_seconds": float(run["evaluation_seconds"].sum()),
    }


def run_summary(histories: pd.DataFrame, last_k: int) -> pd.DataFrame:
    """One row per (variant, seed) with the metrics of :data:`RUN_METRICS`."""
    rows = [
        {"variant": variant, "seed": int(seed), **summarize_run(run, last_k)}
        for (variant, seed), run in histories.groupby(["variant", "seed"], sort=False)
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------------


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided t-based confidence interval of a mean over seeds; NaNs for fewer than two
    values, the mean itself when they are all equal."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return (math.nan, math.nan)
    mean = values.mean()
    sem = values.std(ddof=1) / math.sqrt(n)
    if sem == 0:
        return (mean, mean)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    return (float(low), float(high))


def clip_accuracy(interval: tuple[float, float]) -> tuple[float, float]:
    """An accuracy interval kept within 0..1 (NaNs stay NaN)."""
    low, high = interval
    return (
        low if math.isnan(low) else min(max(low, 0.0), 1.0),
        high if math.isnan(high) else min(max(high, 0.0), 1.0),
    )


#: The population of an accuracy interval when every run scored every image alike.
ALIKE = "images (every run alike)"


def wilson_interval(accuracy: float, images: int, confidence: float = 0.95):
    """The Wilson score interval of an accuracy measured on ``images`` images (statsmodels):
    unlike the normal one it is not empty at 0% or 100%."""
    from statsmodels.stats.proportion import proportion_confint

    correct = int(round(accuracy * images))
    low, high = proportion_confint(correct, images, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def score_matrix(images: pd.DataFrame, variant: str, column: str = "score") -> pd.DataFrame:
    """A variant's per-image scores as a seeds x images table (rows sorted by seed)."""
    rows = images[images["variant"] == variant]
    return rows.pivot(index="seed", columns="image", values=column).sort_index()


def chance_level(images: pd.DataFrame) -> float:
    """The majority class's share of the distinct validation images scored."""
    labels = images.drop_duplicates("image")["label"]
    return float(labels.value_counts(normalize=True).max())


def variant_summary(runs: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: validation accuracy with its 95% CI over seeds and images, and
    mean / SD / 95% t-interval over seeds of the other run metrics."""
    chance = chance_level(images)
    rows = []
    for variant in variant_order(runs["variant"]):
        group = runs[runs["variant"] == variant]
        estimate = crossed_mean(score_matrix(images, variant).to_numpy(float))
        low, high = clip_accuracy(estimate.interval())
        population = estimate.population
        if not estimate.testable:  # every run scored every image alike (e.g. all right)
            low, high = wilson_interval(estimate.estimate, estimate.images)
            population = ALIKE
        values = group["final_val_accuracy"].to_numpy(float)
        row: dict = {
            "variant": variant,
            "seeds": int(group["seed"].nunique()),
            "images": estimate.images,
            "final_val_accuracy_mean": estimate.estimate,
            "final_val_accuracy_sd": values.std(ddof=1) if len(values) > 1 else math.nan,
            "final_val_accuracy_ci_low": low,
            "final_val_accuracy_ci_high": high,
            "final_val_accuracy_ci_population": population,
            "chance_level": chance,
            "above_chance": bool(low > chance) if not math.isnan(low) else False,
        }
        for metric in SEED_METRICS:
            values = group[metric].to_numpy(float)
            interval = t_interval(values)
            if metric in ACCURACY_METRICS:
                interval = clip_accuracy(interval)
            row[f"{metric}_mean"] = float(np.nanmean(values))
            row[f"{metric}_sd"] = values.std(ddof=1) if len(values) > 1 else math.nan
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = interval
        rows.append(row)
    return pd.DataFrame(rows)


def learning_curves(histories: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, epoch, measure): mean and 95% t-interval over seeds. Epochs at
    which a measure was not taken (clean training accuracy between evaluations) are left out."""
    rows = []
    for (variant, epoch), group in histories.groupby(["variant", "epoch"], sort=False):
        for measure in CURVE_MEASURES:
            values = group[measure].dropna().to_numpy(float)
            if not len(values):
                continue
            low, high = t_interval(values)
            if measure.endswith("accuracy"):
                low, high = clip_accuracy((low, high))
            rows.append(
                {
                    "variant": variant,
                    "epoch": int(epoch),
                    "measure": measure,
                    "seeds": len(values),
                    "mean": float(values.mean()),
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return _in_study_order(pd.DataFrame(rows), ["variant", "measure", "epoch"])


# --------------------------------------------------------------------------------------------
# Contrasts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contrast:
    family: str
    variant: str
    baseline: str
    transform: str  # the transform the contrast is about ("all" for the overall one)
    primary: bool


def contrast_pairs(variants: Iterable[str]) -> list[Contrast]:
    """The contrasts a study's variants allow, primary family first."""
    present = set(variants)
    order = variant_order(present)
    singles = [v for v in order if variant_kind(v) == "single"]
    alone = singles if NONE in present else []
    company = [
        v[len(ALL_MINUS) :] for v in order if variant_kind(v) == "all-minus" and ALL in present
    ]
    primary = bool(alone or company)
    pairs = [Contrast(ALONE, t, NONE, t, True) for t in alone]
    pairs += [Contrast(IN_COMPANY, ALL, ALL_MINUS + t, t, True) for t in company]
    if NONE not in present:
        return pairs
    if ALL in present:
        pairs.append(Contrast(OVERALL, ALL, NONE, ALL, not primary))
    for variant in order:
        kind = variant_kind(variant)
        if kind == "all-minus":
            pairs.append(Contrast(OTHER, variant, NONE, variant[len(ALL_MINUS) :], False))
        elif kind == "strength":
            pairs.append(Contrast(STRENGTH, variant, NONE, strength_of(variant)[0], False))
        elif kind == "combination":
            pairs.append(Contrast(COMBINATION, variant, NONE, variant, False))
    return pairs


def dose_response(variants: pd.DataFrame, contrasts: pd.DataFrame) -> pd.DataFrame:
    """For every transform the study sweeps (``X@value`` variants): one row per strength,
    with ``none`` as strength 0, the accuracy with its 95% CI (seeds and images) and the
    difference from ``none`` with its CI; empty when nothing is swept."""
    rows = []
    by_variant = variants.set_index("variant")
    differences = contrasts[contrasts["baseline"] == NONE].set_index("variant")
    strengths = {v: s for v in by_variant.index if (s := strength_of(v))}  # (transform, value)
    swept = sorted(
        {name for name, _ in strengths.values()}, key=lambda n: (registry_position(n), n)
    )
    for transform in swept:
        levels = [(NONE, 0.0)] + [
            (variant, value) for variant, (name, value) in strengths.items() if name == transform
        ]
        for variant, strength in levels:
            row = by_variant.loc[variant]
            diff = differences.loc[variant] if variant in differences.index else None
            rows.append(
                {
                    "transform": transform,
                    "variant": variant,
                    "strength": strength,
                    "accuracy": row["final_val_accuracy_mean"],
                    "accuracy_ci_low": row["final_val_accuracy_ci_low"],
                    "accuracy_ci_high": row["final_val_accuracy_ci_high"],
                    "difference": 0.0 if diff is None else diff["difference"],
                    "difference_ci_low": math.nan if diff is None else diff["ci_low"],
                    "difference_ci_high": math.nan if diff is None else diff["ci_high"],
                }
            )
    columns = [
        "transform",
        "variant",
        "strength",
        "accuracy",
        "accuracy_ci_low",
        "accuracy_ci_high",
        "difference",
        "difference_ci_low",
        "difference_ci_high",
    ]
    return (
        pd.DataFrame(rows, columns=columns)
        .sort_values(["transform", "strength"], kind="stable")
        .reset_index(drop=True)
    )


def variant_tables(images: pd.DataFrame, column: str = "score") -> dict[str, pd.DataFrame]:
    """Every variant's seeds x images table of ``column`` (:func:`score_matrix`), from one
    pivot of the whole table."""
    wide = images.pivot(index=["variant", "seed"], columns="image", values=column)
    return {
        variant: wide.xs(variant, level="variant").dropna(axis=1, how="all").sort_index()
        for variant in wide.index.get_level_values("variant").unique()
    }


def paired_matrices(
    images: pd.DataFrame,
    variant: str,
    baseline: str,
    column: str = "score",
    tables: dict[str, pd.DataFrame] | None = None,
):
    """(seeds, first, second): the two variants' seeds x images tables over the seeds and
    images both have, in the same order (``tables``: :func:`variant_tables`, to pivot once)."""
    if tables is None:
        first, second = (
            score_matrix(images, variant, column),
            score_matrix(images, baseline, column),
        )
    else:
        first, second = tables[variant], tables[baseline]
    seeds = sorted(set(first.index) & set(second.index))
    common = sorted(set(first.columns) & set(second.columns))
    return (
        seeds,
        first.loc[seeds, common].to_numpy(float),
        second.loc[seeds, common].to_numpy(float),
    )


CONTRAST_COLUMNS = [
    "family",
    "primary",
    "variant",
    "baseline",
    "transform",
    "metric",
    "population",
    "seeds",
    "images",
    "difference",
    "ci_low",
    "ci_high",
    "standard_error",
    "p_value",
    "p_holm",
    "margin",
    "p_equivalence",
    "p_equivalence_holm",
    "verdict",
    "seed_variance",
    "image_variance",
    "residual_variance",
    "minimum_detectable_effect",
    "mcnemar_seeds",
    "mcnemar_agreeing_seeds",
    # how the run (seed) part was estimated, and why (see inference.StudyModel.contrast)
    "method",
    "method_reason",
    "run_df",
    "run_variance_ratio",
    "run_variance_ratio_p",
    # what the design can show, from the study's pooled components (minimum_detectable_effect
    # too): the level, the MDE's 95% interval, the smallest equivalence margin within reach
    "design_level",
    "design_seed_variance",
    "design_residual_variance",
    "design_df_per_seed",
    "minimum_detectable_effect_ci_low",
    "minimum_detectable_effect_ci_high",
    "smallest_margin",
]


ADJUSTED = ("p_holm", "p_equivalence_holm", "verdict")


def study_model(images: pd.DataFrame) -> tuple[StudyModel | None, list[str], str]:
    """The model of all runs (:class:`augablate.inference.StudyModel`) when the study is
    balanced (every variant has the same seeds, every run the same images), with the variants
    in its order; else None and why."""
    order = variant_order(images["variant"])
    runs = images.groupby("variant")["seed"].agg(lambda s: tuple(sorted(set(s))))
    if len(order) < 3:
        return None, order, "fewer than 3 variants: each contrast's own seeds"
    if runs.nunique() != 1 or len(runs.iloc[0]) < 2:
        return None, order, "variants with other seeds, or one seed: each contrast's own seeds"
    per_run = images.groupby(["variant", "seed"])["image"].agg(frozenset)
    if per_run.nunique() != 1:
        return None, order, "runs scored other images: each contrast's own seeds"
    tables = variant_tables(images)
    cube = np.stack([tables[v].to_numpy(float) for v in order])
    return StudyModel.fit(cube), order, ""


def _margin_checked(margin: float) -> float:
    if not 0 < margin < 0.25:
        raise ValueError(
            f"the equivalence margin is a fraction of accuracy (0.01 = 1 point), got {margin!r}: "
            "was analysis.equivalence_margin (points) passed without dividing by 100?"
        )
    return margin


def contrasts(
    images: pd.DataFrame, alpha: float = 0.05, margin: float = 0.01, primary: bool = True
) -> pd.DataFrame:
    """Every contrast of :func:`contrast_pairs`, estimated over seeds and images.

    The run (seed) part of every contrast's uncertainty comes from one model of all runs
    (:meth:`augablate.inference.StudyModel.contrast`, ``method`` and ``method_reason`` say
    which estimate each contrast used); unbalanced studies fall back to each contrast's own
    seeds. Holm's correction runs over the primary family, once for the difference tests and
    once for the equivalence tests (``|difference| >= margin``, ``margin`` a fraction: 0.01 is
    1 point); ``primary`` False makes every contrast descriptive. Verdicts (:func:`verdict`) are given for the primary family; the others are
    ``descriptive``. The design columns (MDE, its interval, the smallest equivalence margin
    within reach) come from the study's pooled components at the contrast's level: Holm's
    strictest (alpha / family size) for the primary family, alpha for the others.
    """
    margin = _margin_checked(margin)
    pairs = contrast_pairs(images["variant"].unique())
    if not primary:  # a factorial study's verdicts are its main effects' (augablate.factorial)
        pairs = [dataclasses.replace(pair, primary=False) for pair in pairs]
    primary_count = sum(pair.primary for pair in pairs)
    mcnemar = mcnemar_table(images, pairs, alpha)
    model, order, unbalanced = study_model(images)
    rows = []
    for pair in pairs:
        if model is not None:
            weights = np.zeros(len(order))
            weights[order.index(pair.variant)], weights[order.index(pair.baseline)] = 1, -1
            estimate = model.contrast(weights)
            ratio, ratio_p = model.run_variance_ratio(weights)
            planned = model.contrast(weights, POOLED)
        else:
            _, first, second = paired_matrices(images, pair.variant, pair.baseline)
            estimate = crossed_mean(first - second)  # unbalanced: pivoted per pair
            if estimate.seeds > 1:
                estimate = replace_reason(estimate, unbalanced)
            ratio = ratio_p = math.nan
            planned = estimate
        level = alpha / max(primary_count, 1) if pair.primary else alpha
        low, high = estimate.interval()
        checks = mcnemar[
            (mcnemar["variant"] == pair.variant) & (mcnemar["baseline"] == pair.baseline)
        ]
        same_sign = np.sign(checks["difference"]) == np.sign(estimate.estimate)
        agreeing = checks["significant"] & same_sign
        rows.append(
            {
                "family": pair.family,
                "primary": pair.primary,
                "variant": pair.variant,
                "baseline": pair.baseline,
                "transform": pair.transform,
                "metric": "final_val_accuracy",
                "population": estimate.population,
                "seeds": estimate.seeds,
                "images": estimate.images,
                "difference": estimate.estimate,
                "ci_low": low,
                "ci_high": high,
                "standard_error": estimate.standard_error,
                "p_value": estimate.p_value(),
                "margin": margin,
                "p_equivalence": estimate.equivalence_p_value(margin),
                "seed_variance": estimate.seed_variance,
                "image_variance": estimate.image_variance,
                "residual_variance": estimate.residual_variance,
                "mcnemar_seeds": len(checks),
                "mcnemar_agreeing_seeds": int(agreeing.sum()),
                "method": estimate.method,
                "method_reason": estimate.method_reason,
                "run_df": estimate.uncertain_df,
                "run_variance_ratio": ratio,
                "run_variance_ratio_p": ratio_p,
                **design_columns(planned, level),
            }
        )
    table = pd.DataFrame(rows, columns=[c for c in CONTRAST_COLUMNS if c not in ADJUSTED])
    return with_verdicts(table, alpha)[CONTRAST_COLUMNS]


def with_verdicts(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Holm's correction over the rows marked ``primary`` (difference and equivalence tests,
    each its own family) and every row's :func:`verdict`: contrasts and factorial effects."""
    table = table.copy()
    table["p_holm"] = math.nan
    table["p_equivalence_holm"] = math.nan
    primary = table["primary"].astype(bool)
    if primary.any():
        table.loc[primary, "p_holm"] = holm(table.loc[primary, "p_value"])
        table.loc[primary, "p_equivalence_holm"] = holm(table.loc[primary, "p_equivalence"])
    table["verdict"] = [verdict(row, alpha) for _, row in table.iterrows()]
    return table


def replace_reason(estimate: CrossedEstimate, reason: str) -> CrossedEstimate:
    from dataclasses import replace

    return replace(estimate, method_reason=reason)


def planned_design(planned: CrossedEstimate, seeds: int | None = None) -> CrossedEstimate:
    """The design of a contrast (estimate 0) from its components, at its seeds or others; with
    one seed (no components) the estimate's own uncertainty over images. The seed component is
    the method-of-moments one, not floored at 0: the design then has exactly the estimate's
    run part at its seeds (a negative luck component says the runs vary no more than their
    churn on single images does)."""
    if planned.seeds < 2:
        return planned
    luck = planned.uncertain_part * planned.seeds - planned.residual_variance / planned.images
    return design(
        luck,
        planned.image_variance,
        planned.residual_variance,
        planned.seeds if seeds is None else seeds,
        planned.images,
        planned.df_per_seed,
    )


def design_columns(planned: CrossedEstimate, level: float) -> dict:
    """What the design of ``planned`` (the study's pooled components of a contrast) can show
    at ``level``: the MDE with 80% power and its 95% interval (the chi-square law of the
    estimated run part), and the smallest equivalence margin TOST establishes with 80% power
    when the true effect is 0."""
    planned_now = planned_design(planned)
    mde_low, mde_high = planned_now.minimum_detectable_effect_interval(level)
    return {
        "design_level": level,
        "design_seed_variance": planned_now.seed_variance if planned.seeds > 1 else math.nan,
        "design_residual_variance": planned.residual_variance,
        "design_df_per_seed": planned.df_per_seed,
        "minimum_detectable_effect": planned_now.minimum_detectable_effect(level),
        "minimum_detectable_effect_ci_low": mde_low,
        "minimum_detectable_effect_ci_high": mde_high,
        "smallest_margin": planned_now.smallest_equivalence_margin(level),
    }


#: The verdicts a primary contrast can get, in words (``{margin}`` in points).
VERDICTS = {
    "helps": "helps",
    "hurts": "hurts",
    "negligible": "no effect larger than {margin}",
    "inconclusive": "inconclusive: we could not tell",
    "single seed": "no verdict: one seed says nothing about other seeds",
    "untestable": "no verdict: the runs agree on every image",
    "descriptive": "descriptive (not part of the corrected family)",
}


def verdict(row, alpha: float = 0.05) -> str:
    """The verdict of one contrast row (a key of :data:`VERDICTS`).

    helps / hurts: the difference test rejects zero after Holm's correction;
    negligible: the equivalence test rejects |difference| >= margin after Holm's correction;
    inconclusive: neither. Only primary contrasts with at least two seeds get one of these.
    """
    if not row["primary"]:
        return "descriptive"
    if row["seeds"] < 2 and row.get("population") != SEEDS_AND_IMAGES:
        return "single seed"
    if math.isnan(row["p_value"]):
        return "untestable"
    if row["p_holm"] < alpha:
        return "helps" if row["difference"] > 0 else "hurts"
    if row["p_equivalence_holm"] < alpha:
        return "negligible"
    return "inconclusive"


MCNEMAR_COLUMNS = [
    "variant",
    "baseline",
    "seed",
    "images",
    "only_variant_right",
    "only_baseline_right",
    "difference",
    "p_value",
    "significant",
    "test",
    # the same pair of runs on the report's own endpoint (each image's score over the last k
    # epochs): what the noise floor is computed from
    "score_difference",
    "score_disagreement",
    "score_standard_error",
]

#: What the McNemar cross-check measures (the ``test`` column of the mcnemar table).
MCNEMAR_TEST = (
    "exact McNemar: one seed's two runs, last-epoch correctness, conditional on the two trained "
    "models (image sampling only, not seed variance)"
)


def pair_noise(first: np.ndarray, second: np.ndarray) -> tuple[float, float, float]:
    """(mean difference, share of images scored differently, image-sampling SE of the mean
    difference) of two runs' per-image scores on the same images: the SE is the sample
    standard deviation of the per-image differences over sqrt(images)."""
    differences = np.asarray(first, float) - np.asarray(second, float)
    images = len(differences)
    mean = float(differences.mean())
    variance = (float((differences**2).sum()) - images * mean**2) / (images - 1)
    return (
        mean,
        float((differences != 0).mean()),
        math.sqrt(max(variance, 0.0) / images),
    )


def mcnemar_table(images: pd.DataFrame, pairs: Sequence[Contrast], alpha: float = 0.05):
    """The exact McNemar test of every contrast in every seed, on last-epoch correctness, and
    the same pair of runs' difference on the last-k scores with its image-sampling SE."""
    rows = []
    correct, scores = variant_tables(images, "last_epoch_correct"), variant_tables(images)
    for pair in pairs:
        seeds, first, second = paired_matrices(
            images, pair.variant, pair.baseline, "last_epoch_correct", correct
        )
        _, first_scores, second_scores = paired_matrices(
            images, pair.variant, pair.baseline, tables=scores
        )
        for index, seed in enumerate(seeds):
            only_variant, only_baseline, p = mcnemar_exact(first[index], second[index])
            mean, disagreement, standard_error = pair_noise(
                first_scores[index], second_scores[index]
            )
            rows.append(
                {
                    "variant": pair.variant,
                    "baseline": pair.baseline,
                    "seed": seed,
                    "images": first.shape[1],
                    "only_variant_right": only_variant,
                    "only_baseline_right": only_baseline,
                    "difference": (only_variant - only_baseline) / first.shape[1],
                    "p_value": p,
                    "significant": p < alpha,
                    "test": MCNEMAR_TEST,
                    "score_difference": mean,
                    "score_disagreement": disagreement,
                    "score_standard_error": standard_error,
                }
            )
    return pd.DataFrame(rows, columns=MCNEMAR_COLUMNS)


def noise_floor(mcnemar: pd.DataFrame) -> dict:
    """How much two single runs differ from image sampling alone, on the report's endpoint
    (each image's score over the last k epochs): the median share of images two compared runs
    score differently and the median image-sampling standard error of their accuracy
    difference (:func:`pair_noise`), over the pairs of runs of the mcnemar table."""
    if mcnemar.empty:
        return {}
    return {
        "images": int(mcnemar["images"].median()),
        "disagreement": float(mcnemar["score_disagreement"].median()),
        "standard_error": float(mcnemar["score_standard_error"].median()),
    }


def study_power(contrasts: pd.DataFrame, alpha: float = 0.05) -> dict:
    """What the study could detect, from the median of its verdict contrasts' (the primary
    family, else all) *design* components (the pooled run part, :func:`design_columns`), at
    Holm's strictest level (alpha / primary family size): the effect detected with 80% power,
    its 95% interval (the chi-square law of the estimated run variance), the same with twice
    the seeds, and the smallest equivalence margin established with 80% power when the true
    effect is 0. The contrasts table's per-contrast columns come from the same components, so
    a contrast with the median components has these numbers."""
    testable = contrasts.dropna(subset=["design_seed_variance"])
    chosen = testable[testable["primary"].astype(bool)]
    chosen = chosen if len(chosen) else testable
    if chosen.empty:
        return {}
    components = [
        float(chosen[c].median())
        for c in ("design_seed_variance", "image_variance", "design_residual_variance")
    ]
    seeds, images = int(chosen["seeds"].median()), int(chosen["images"].median())
    df_per_seed = float(chosen["design_df_per_seed"].median())
    level = alpha / max(int(contrasts["primary"].astype(bool).sum()), 1)
    now = design(*components, seeds, images, df_per_seed)
    low, high = now.minimum_detectable_effect_interval(level)
    return {
        "contrasts": len(chosen),
        "level": level,
        "seeds": seeds,
        "images": images,
        "run_df": now.uncertain_df,
        "seed_variance": components[0],
        "image_variance": components[1],
        "residual_variance": components[2],
        "detectable": now.minimum_detectable_effect(level),
        "detectable_ci_low": low,
        "detectable_ci_high": high,
        "detectable_twice_the_seeds": design(
            *components, 2 * seeds, images, df_per_seed
        ).minimum_detectable_effect(level),
        "smallest_margin": now.smallest_equivalence_margin(level),
    }
