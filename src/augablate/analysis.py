"""Tidy tables and statistics over the runs of a study.

- histories: one row per (variant, seed, epoch);
- runs: one row per (variant, seed) with the per-run metrics defined in config/README.md;
- variants: one row per variant, mean, SD and a t-based 95% CI over seeds;
- contrasts: paired differences (the same seeds in every variant): every variant against
  ``none`` (what a transform adds alone) and ``all`` against each ``all-minus-X`` (what X adds in
  company), with a paired t-test, Holm-adjusted p-values and a paired effect size (Cohen's d_z).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from augablate.variants import ALL, ALL_MINUS, NONE, TRANSFORMS, all_variant_names

RUN_METRICS = {
    "final_val_accuracy": "mean validation accuracy over the last k epochs",
    "final_train_accuracy": "mean training accuracy over the last k epochs",
    "generalization_gap": "training minus validation accuracy over the last k epochs",
    "best_val_accuracy": "highest validation accuracy of any epoch",
    "best_val_accuracy_epoch": "first epoch that reached it",
    "min_val_loss": "lowest validation loss of any epoch",
    "min_val_loss_epoch": "first epoch that reached it",
    "final_val_loss": "validation loss of the last epoch",
    "val_loss_rise": "final minus minimum validation loss (the overfitting signature)",
}


def variant_order(variants: Iterable[str]) -> list[str]:
    """The study's canonical order (none, singles, all, all-minus), unknown names last."""
    canonical = all_variant_names()
    present = list(dict.fromkeys(variants))
    return sorted(
        present, key=lambda v: (canonical.index(v) if v in canonical else len(canonical), v)
    )


def tidy_histories(histories: Sequence[tuple[str, int, pd.DataFrame]]) -> pd.DataFrame:
    """Stack per-run histories into one table with ``variant`` and ``seed`` columns."""
    frames = []
    for variant, seed, history in histories:
        frame = history.copy()
        frame.insert(0, "seed", int(seed))
        frame.insert(0, "variant", variant)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    order = variant_order(table["variant"])
    table["variant"] = pd.Categorical(table["variant"], order, ordered=True)
    table = table.sort_values(["variant", "seed", "epoch"]).reset_index(drop=True)
    table["variant"] = table["variant"].astype(str)
    return table


def summarize_run(history: pd.DataFrame, last_k: int) -> dict:
    """The metrics of :data:`RUN_METRICS` for one run's history (one row per epoch)."""
    run = history.sort_values("epoch")
    tail = run.tail(last_k)
    best = run.loc[run["val_accuracy"].idxmax()]
    lowest = run.loc[run["val_loss"].idxmin()]
    final_val = float(tail["val_accuracy"].mean())
    final_train = float(tail["accuracy"].mean())
    return {
        "epochs": int(run["epoch"].max()),
        "final_val_accuracy": final_val,
        "final_train_accuracy": final_train,
        "generalization_gap": final_train - final_val,
        "best_val_accuracy": float(best["val_accuracy"]),
        "best_val_accuracy_epoch": int(best["epoch"]),
        "min_val_loss": float(lowest["val_loss"]),
        "min_val_loss_epoch": int(lowest["epoch"]),
        "final_val_loss": float(run["val_loss"].iloc[-1]),
        "val_loss_rise": float(run["val_loss"].iloc[-1] - lowest["val_loss"]),
        "train_seconds": float(run["epoch_seconds"].sum()),
    }


def run_summary(histories: pd.DataFrame, last_k: int) -> pd.DataFrame:
    """One row per (variant, seed) with the metrics of :data:`RUN_METRICS`."""
    rows = [
        {"variant": variant, "seed": int(seed), **summarize_run(run, last_k)}
        for (variant, seed), run in histories.groupby(["variant", "seed"], sort=False)
    ]
    return pd.DataFrame(rows)


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided t-based confidence interval of a mean; NaNs for fewer than two values."""
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


def variant_summary(runs: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per variant: seeds, and mean / SD / 95% CI of each metric over seeds."""
    metrics = list(
        metrics
        or [
            "final_val_accuracy",
            "final_train_accuracy",
            "generalization_gap",
            "best_val_accuracy",
            "min_val_loss",
            "val_loss_rise",
        ]
    )
    rows = []
    for variant in variant_order(runs["variant"]):
        group = runs[runs["variant"] == variant]
        row: dict = {"variant": variant, "seeds": int(group["seed"].nunique())}
        for metric in metrics:
            values = group[metric].to_numpy(float)
            low, high = t_interval(values)
            row[f"{metric}_mean"] = values.mean()
            row[f"{metric}_sd"] = values.std(ddof=1) if len(values) > 1 else math.nan
            row[f"{metric}_ci_low"] = low
            row[f"{metric}_ci_high"] = high
        rows.append(row)
    return pd.DataFrame(rows)


def contrast_pairs(variants: Iterable[str]) -> list[tuple[str, str, str]]:
    """(family, variant, baseline) pairs present in the study.

    add-one: each variant against ``none``; leave-one-out: ``all`` against ``all-minus-X``
    (the difference is what X adds in company).
    """
    present = set(variants)
    pairs = []
    if NONE in present:
        pairs += [("add-one", v, NONE) for v in variant_order(present) if v != NONE]
    if ALL in present:
        pairs += [
            ("leave-one-out", ALL, ALL_MINUS + name)
            for name in TRANSFORMS
            if ALL_MINUS + name in present
        ]
    return pairs


def contrasts(runs: pd.DataFrame, metric: str = "final_val_accuracy") -> pd.DataFrame:
    """Paired differences ``variant - baseline`` over the seeds both have.

    Paired t-test (scipy.stats.ttest_rel), t-based 95% CI of the mean difference, Holm-adjusted
    p-values within each family (statsmodels), and Cohen's d_z = mean / SD of the differences.
    With fewer than two common seeds no test is possible: p and CI are NaN.
    """
    table = runs.pivot_table(index="seed", columns="variant", values=metric)
    rows = []
    for family, variant, baseline in contrast_pairs(runs["variant"]):
        both = table[[variant, baseline]].dropna()
        diff = (both[variant] - both[baseline]).to_numpy(float)
        n = len(diff)
        low, high = t_interval(diff)
        if n >= 2 and np.std(diff, ddof=1) > 0:
            p = float(stats.ttest_rel(both[variant], both[baseline]).pvalue)
            effect = float(diff.mean() / diff.std(ddof=1))
        else:
            p, effect = math.nan, math.nan
        rows.append(
            {
                "family": family,
                "variant": variant,
                "baseline": baseline,
                "transform": _contrast_transform(family, variant, baseline),
                "metric": metric,
                "seeds": n,
                "difference": float(diff.mean()) if n else math.nan,
                "ci_low": low,
                "ci_high": high,
                "p_value": p,
                "effect_size_dz": effect,
            }
        )
    columns = [
        "family",
        "variant",
        "baseline",
        "transform",
        "metric",
        "seeds",
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
        "effect_size_dz",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["p_holm"] = math.nan
    for _family, group in frame.groupby("family"):
        valid = group["p_value"].notna()
        if valid.any():
            adjusted = multipletests(group.loc[valid, "p_value"], method="holm")[1]
            frame.loc[group.index[valid], "p_holm"] = adjusted
    return frame


def _contrast_transform(family: str, variant: str, baseline: str) -> str:
    if family == "leave-one-out":
        return baseline[len(ALL_MINUS) :]
    return variant


def binomial_standard_error(accuracy: float, count: int) -> float:
    """Standard error of an accuracy measured on ``count`` independent images."""
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / count)
