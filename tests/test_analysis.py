"""Aggregation and statistics on small hand-made histories with known answers, each statistic
checked against an independent computation."""

import math

import numpy as np
import pandas as pd
import pytest

from augablate.analysis import (
    binomial_standard_error,
    contrast_pairs,
    contrasts,
    run_summary,
    t_interval,
    tidy_histories,
    variant_summary,
)


def history(val_accuracy, accuracy=None, val_loss=None):
    n = len(val_accuracy)
    return pd.DataFrame(
        {
            "epoch": np.arange(1, n + 1),
            "loss": np.linspace(1, 0.1, n),
            "accuracy": accuracy if accuracy is not None else np.linspace(0.5, 1.0, n),
            "val_loss": val_loss if val_loss is not None else np.linspace(1, 0.5, n),
            "val_accuracy": val_accuracy,
            "epoch_seconds": np.ones(n),
        }
    )


def test_tidy_history_has_one_row_per_variant_seed_epoch_in_study_order():
    runs = [
        ("all", 2, history([0.1, 0.2])),
        ("none", 1, history([0.3, 0.4])),
        ("none", 2, history([0.5, 0.6])),
    ]
    table = tidy_histories(runs)
    assert len(table) == 6
    assert table[["variant", "seed"]].drop_duplicates().values.tolist() == [
        ["none", 1],
        ["none", 2],
        ["all", 2],
    ]


def test_run_summary_known_answers():
    h = history(
        val_accuracy=[0.50, 0.70, 0.65, 0.60],
        accuracy=[0.6, 0.8, 0.9, 1.0],
        val_loss=[0.9, 0.5, 0.6, 0.8],
    )
    row = run_summary(tidy_histories([("none", 7, h)]), last_k=2).iloc[0]
    assert row["final_val_accuracy"] == pytest.approx(0.625)
    assert row["final_train_accuracy"] == pytest.approx(0.95)
    assert row["generalization_gap"] == pytest.approx(0.325)
    assert row["best_val_accuracy"] == pytest.approx(0.70) and row["best_val_accuracy_epoch"] == 2
    assert row["min_val_loss"] == pytest.approx(0.5) and row["min_val_loss_epoch"] == 2
    assert row["val_loss_rise"] == pytest.approx(0.3)
    assert row["epochs"] == 4 and row["train_seconds"] == 4


def test_t_interval_against_a_hand_computation():
    values = [0.70, 0.72, 0.75, 0.71]
    mean, sd = np.mean(values), np.std(values, ddof=1)
    half = 3.182446305284263 * sd / 2  # t(0.975, df=3)
    assert t_interval(values) == pytest.approx((mean - half, mean + half))
    assert all(math.isnan(v) for v in t_interval([0.7]))


def planted_runs(effect, noise_sd=0.004, seeds=6, base=0.70):
    """Paired runs: seed effects shared by every variant, plus small per-run noise."""
    rng = np.random.default_rng(42)
    seed_effect = rng.normal(0, 0.02, seeds)
    rows = []
    for variant, shift in effect.items():
        for seed in range(seeds):
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "final_val_accuracy": base
                    + seed_effect[seed]
                    + shift
                    + rng.normal(0, noise_sd),
                }
            )
    return pd.DataFrame(rows)


def test_planted_effect_is_found_and_null_is_not():
    runs = planted_runs({"none": 0.0, "rotation": 0.05, "zoom": 0.0})
    table = contrasts(runs).set_index("variant")
    assert table.loc["rotation", "difference"] == pytest.approx(0.05, abs=0.01)
    assert table.loc["rotation", "p_holm"] < 0.05
    assert table.loc["zoom", "p_holm"] > 0.05
    # independent computation: the paired t statistic by hand
    wide = runs.pivot(index="seed", columns="variant", values="final_val_accuracy")
    diff = wide["rotation"] - wide["none"]
    t = diff.mean() / (diff.std(ddof=1) / math.sqrt(len(diff)))
    from scipy import stats

    p = 2 * stats.t.sf(abs(t), len(diff) - 1)
    p_zoom = 2 * stats.t.sf(
        abs(
            (wide["zoom"] - wide["none"]).mean()
            / ((wide["zoom"] - wide["none"]).std(ddof=1) / math.sqrt(6))
        ),
        5,
    )
    # Holm by hand for two tests: the smaller p times 2, the larger at least that
    small, large = sorted([p, p_zoom])
    holm = {small: min(1, 2 * small), large: min(1, max(2 * small, large))}
    assert table.loc["rotation", "p_value"] == pytest.approx(p)
    assert table.loc["rotation", "p_holm"] == pytest.approx(holm[p])
    assert table.loc["zoom", "p_holm"] == pytest.approx(holm[p_zoom])
    assert table.loc["rotation", "effect_size_dz"] == pytest.approx(diff.mean() / diff.std(ddof=1))


def test_one_seed_gives_numbers_and_no_test():
    runs = planted_runs({"none": 0.0, "all": 0.05}, seeds=1)
    row = contrasts(runs).iloc[0]
    assert row["seeds"] == 1 and row["difference"] == pytest.approx(0.05, abs=0.01)
    assert math.isnan(row["p_value"]) and math.isnan(row["p_holm"])


def test_contrast_families():
    variants = ["none", "zoom", "all", "all-minus-zoom", "all-minus-shear"]
    assert contrast_pairs(variants) == [
        ("add-one", "zoom", "none"),
        ("add-one", "all", "none"),
        ("add-one", "all-minus-shear", "none"),
        ("add-one", "all-minus-zoom", "none"),
        ("leave-one-out", "all", "all-minus-shear"),
        ("leave-one-out", "all", "all-minus-zoom"),
    ]


def test_variant_summary_mean_sd_ci():
    runs = planted_runs({"none": 0.0, "all": 0.05}, seeds=4)
    runs["final_train_accuracy"] = 1.0
    summary = variant_summary(runs, ["final_val_accuracy"]).set_index("variant")
    values = runs.loc[runs["variant"] == "all", "final_val_accuracy"]
    assert summary.loc["all", "final_val_accuracy_mean"] == pytest.approx(values.mean())
    assert summary.loc["all", "final_val_accuracy_sd"] == pytest.approx(values.std(ddof=1))
    assert (
        summary.loc["all", "final_val_accuracy_ci_low"],
        summary.loc["all", "final_val_accuracy_ci_high"],
    ) == pytest.approx(t_interval(values))
    assert summary.index.tolist() == ["none", "all"]


def test_binomial_standard_error():
    assert binomial_standard_error(0.75, 1000) == pytest.approx(math.sqrt(0.75 * 0.25 / 1000))


def test_a_study_without_contrasts_gives_an_empty_table():
    runs = planted_runs({"none": 0.0}, seeds=2)
    table = contrasts(runs)
    assert table.empty and "p_holm" in table.columns and "family" in table.columns
