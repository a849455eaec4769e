"""Aggregation, contrasts and verdicts on small made-up studies with known answers; every
statistic is checked against an independent computation."""

import math

import numpy as np
import pandas as pd
import pytest

from augablate.analysis import (
    ALONE,
    IN_COMPANY,
    OTHER,
    OVERALL,
    chance_level,
    clip_accuracy,
    contrast_pairs,
    contrasts,
    dose_response,
    image_scores,
    image_table,
    learning_curves,
    mcnemar_table,
    noise_floor,
    pair_noise,
    run_summary,
    study_power,
    t_interval,
    tidy_histories,
    variant_summary,
    verdict,
)
from augablate.inference import OWN, POOLED, CrossedEstimate, crossed_mean, design, holm
from augablate.simulate import Scenario, simulate_study


def history(val_accuracy, clean=None, augmented=None, val_loss=None):
    n = len(val_accuracy)
    return pd.DataFrame(
        {
            "epoch": np.arange(1, n + 1),
            "augmented_batch_loss": np.linspace(1, 0.1, n),
            "augmented_batch_accuracy": augmented
            if augmented is not None
            else np.linspace(0.5, 0.9, n),
            "clean_train_loss": np.linspace(1, 0.1, n),
            "clean_train_accuracy": clean if clean is not None else np.linspace(0.5, 1.0, n),
            "val_loss": val_loss if val_loss is not None else np.linspace(1, 0.5, n),
            "val_accuracy": val_accuracy,
            "epoch_seconds": np.ones(n),
            "evaluation_seconds": np.full(n, 0.5),
        }
    )


def predictions(correct_by_epoch, labels=None):
    """A run's predictions.csv: ``correct_by_epoch`` is [epochs, images] of 0/1."""
    correct = np.asarray(correct_by_epoch)
    epochs, images = correct.shape
    labels = labels if labels is not None else ["a"] * images
    return pd.DataFrame(
        {
            "epoch": np.repeat(np.arange(1, epochs + 1), images),
            "image": np.tile([f"validation/x/{i}.png" for i in range(images)], epochs),
            "label": np.tile(labels, epochs),
            "correct": correct.ravel(),
        }
    )


def test_image_scores_are_the_fraction_right_over_the_last_k_epochs():
    run = predictions([[1, 1, 0], [0, 1, 0], [1, 1, 1], [0, 1, 1]])
    scores = image_scores(run, last_k=2).set_index("image")
    assert scores["score"].tolist() == [0.5, 1.0, 1.0]
    assert scores["last_epoch_correct"].tolist() == [0, 1, 1]


def test_image_table_stacks_runs_in_study_order():
    run = predictions([[1, 0], [1, 1]])
    table = image_table([("all", 2, run), ("none", 1, run), ("none", 2, run)], last_k=1)
    assert table[["variant", "seed"]].drop_duplicates().values.tolist() == [
        ["none", 1],
        ["none", 2],
        ["all", 2],
    ]
    assert list(table.columns) == [
        "variant",
        "seed",
        "image",
        "label",
        "score",
        "last_epoch_correct",
    ]


def test_headline_accuracy_is_the_mean_of_the_per_image_scores():
    correct = np.random.default_rng(0).integers(0, 2, (6, 50))
    run = predictions(correct)
    val_accuracy = correct.mean(axis=1)  # what the training writes each epoch
    summary = run_summary(tidy_histories([("none", 1, history(val_accuracy))]), last_k=3)
    assert summary.loc[0, "final_val_accuracy"] == pytest.approx(
        image_scores(run, last_k=3)["score"].mean()
    )


def test_run_summary_known_answers_with_clean_accuracy_every_other_epoch():
    h = history(
        val_accuracy=[0.50, 0.70, 0.65, 0.60],
        clean=[math.nan, 0.8, math.nan, 1.0],
        augmented=[0.6, 0.7, 0.75, 0.8],
        val_loss=[0.9, 0.5, 0.6, 0.8],
    )
    row = run_summary(tidy_histories([("none", 7, h)]), last_k=3).iloc[0]
    assert row["final_val_accuracy"] == pytest.approx(0.65)
    assert row["final_clean_train_accuracy"] == pytest.approx(0.9)  # epochs 2 and 4
    assert row["generalization_gap"] == pytest.approx(0.25)
    assert row["final_augmented_batch_accuracy"] == pytest.approx(0.75)
    assert row["best_val_accuracy"] == pytest.approx(0.70) and row["best_val_accuracy_epoch"] == 2
    assert row["min_val_loss"] == pytest.approx(0.5) and row["min_val_loss_epoch"] == 2
    assert row["val_loss_rise"] == pytest.approx(0.3)
    assert row["epochs"] == 4 and row["train_seconds"] == 4 and row["evaluation_seconds"] == 2


def test_t_interval_against_a_hand_computation_and_clipping():
    values = [0.70, 0.72, 0.75, 0.71]
    mean, sd = np.mean(values), np.std(values, ddof=1)
    half = 3.182446305284263 * sd / 2  # t(0.975, df=3)
    assert t_interval(values) == pytest.approx((mean - half, mean + half))
    assert all(math.isnan(v) for v in t_interval([0.7]))
    assert clip_accuracy((-0.178, 2.006)) == (0.0, 1.0)


EFFECTS = {
    "none": 0.0,
    "rotation": 0.08,
    "zoom": 0.0,
    "all": 0.08,
    "all-minus-rotation": 0.0,
    "all-minus-zoom": 0.08,
}


def study(effects=EFFECTS, seeds=3, images=600, scenario=None, rng_seed=4) -> pd.DataFrame:
    """A per-image table of a simulated study with planted effects."""
    scenario = scenario or Scenario(accuracy=0.75, run_sd=0.03, churn_sd=0.6)
    rng = np.random.default_rng(rng_seed)
    scores = simulate_study(scenario, effects, seeds, images, rng)
    labels = np.where(np.arange(images) % 3 == 0, "cat", "dog")
    rows = []
    for variant, values in scores.items():
        for seed in range(seeds):
            rows.append(
                pd.DataFrame(
                    {
                        "variant": variant,
                        "seed": seed + 1,
                        "image": [f"validation/{label}/{i}.png" for i, label in enumerate(labels)],
                        "label": labels,
                        "score": values[seed],
                        "last_epoch_correct": (values[seed] >= 0.5).astype(int),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def runs_of(images: pd.DataFrame, gap: float = 0.3) -> pd.DataFrame:
    """A runs table for ``images``: each run's accuracy the mean of its image scores, the
    other metrics made up: clean and augmented accuracy ``gap`` of the way from it to 100%
    (possible accuracies whatever the gap in 0..1)."""
    runs = (
        images.groupby(["variant", "seed"], sort=False)["score"]
        .mean()
        .rename("final_val_accuracy")
        .reset_index()
    )
    for metric in (
        "final_clean_train_accuracy",
        "final_augmented_batch_accuracy",
        "best_val_accuracy",
    ):
        runs[metric] = runs["final_val_accuracy"] + gap * (1 - runs["final_val_accuracy"])
    runs["generalization_gap"] = runs["final_clean_train_accuracy"] - runs["final_val_accuracy"]
    assert runs.drop(columns=["variant", "seed"]).apply(lambda c: c.between(0, 1).all()).all()
    runs["min_val_loss"], runs["val_loss_rise"] = 0.5, 0.05
    return runs


def test_contrast_families_and_the_primary_family():
    pairs = contrast_pairs(EFFECTS)
    assert [(p.family, p.variant, p.baseline, p.transform, p.primary) for p in pairs] == [
        (ALONE, "rotation", "none", "rotation", True),
        (ALONE, "zoom", "none", "zoom", True),
        (IN_COMPANY, "all", "all-minus-rotation", "rotation", True),
        (IN_COMPANY, "all", "all-minus-zoom", "zoom", True),
        (OVERALL, "all", "none", "all", False),
        (OTHER, "all-minus-rotation", "none", "rotation", False),
        (OTHER, "all-minus-zoom", "none", "zoom", False),
    ]
    # a study of none and all asks one question, and it is primary
    (only,) = contrast_pairs(["none", "all"])
    assert (only.family, only.primary) == (OVERALL, True)


def pooled_run_part_by_hand(images: pd.DataFrame) -> tuple[float, float]:
    """MS_VS / (S I) and its df (V - 1)(S - 1), from the run means by pandas: the variant x
    seed interaction of a variants x seeds table."""
    means = images.groupby(["variant", "seed"])["score"].mean().unstack("seed")
    interaction = (
        means.sub(means.mean(axis=1), axis=0).sub(means.mean(axis=0), axis=1)
        + means.to_numpy().mean()
    )
    variants, seeds = means.shape
    image_count = images["image"].nunique()
    df = (variants - 1) * (seeds - 1)
    ms_run = image_count * float((interaction.to_numpy() ** 2).sum()) / df
    return ms_run / (seeds * image_count), float(df)


def test_contrasts_match_an_independent_computation_and_holm_runs_over_the_primary_family():
    images = study()
    table = contrasts(images, alpha=0.05, margin=0.01)
    run_part, run_df = pooled_run_part_by_hand(images)
    assert run_df == 10  # 6 variants x 3 seeds
    for _, row in table.iterrows():
        first = images[images["variant"] == row["variant"]].pivot(
            index="seed", columns="image", values="score"
        )
        second = images[images["variant"] == row["baseline"]].pivot(
            index="seed", columns="image", values="score"
        )
        own = crossed_mean((first - second).to_numpy())
        assert row["difference"] == pytest.approx((first - second).to_numpy().mean())
        if row["method"] == POOLED:  # pooled run part (2 MS_VS / (S I)), own image part
            expected = CrossedEstimate(own.estimate, 3, 600, 2 * run_part, run_df, own.image_part)
            assert row["run_df"] == run_df
        else:
            assert row["method"] == OWN and row["run_df"] == 2
            expected = own
        assert row["p_value"] == pytest.approx(expected.p_value(), rel=1e-9)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected.interval(), rel=1e-9)
        assert row["standard_error"] == pytest.approx(expected.standard_error, rel=1e-9)
        assert row["p_equivalence"] == pytest.approx(expected.equivalence_p_value(0.01), rel=1e-9)
        # the design columns: the pooled run part whatever the test used, at Holm's
        # strictest level for the primary family (4 contrasts), alpha for the others
        level = 0.05 / 4 if row["primary"] else 0.05
        planned = CrossedEstimate(0.0, 3, 600, 2 * run_part, run_df, own.image_part)
        assert row["design_level"] == level
        assert row["minimum_detectable_effect"] == pytest.approx(
            planned.minimum_detectable_effect(level), rel=1e-6
        )
        assert row["smallest_margin"] == pytest.approx(
            planned.smallest_equivalence_margin(level), rel=1e-6
        )
        assert (
            row["minimum_detectable_effect_ci_low"],
            row["minimum_detectable_effect_ci_high"],
        ) == pytest.approx(planned.minimum_detectable_effect_interval(level), rel=1e-6)
    assert set(table["method"]) == {POOLED, OWN}  # this study has a noisy pair of variants
    primary = table[table["primary"]]
    assert len(primary) == 4 and set(primary["family"]) == {ALONE, IN_COMPANY}
    # Holm over the 4 primary contrasts only, by hand
    p = primary["p_value"].to_numpy()
    order = np.argsort(p)
    by_hand = np.empty(4)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (4 - rank) * p[index]))
        by_hand[index] = running
    np.testing.assert_allclose(primary["p_holm"], by_hand)
    np.testing.assert_allclose(primary["p_equivalence_holm"], holm(primary["p_equivalence"]))
    assert table.loc[~table["primary"], "p_holm"].isna().all()
    assert (table.loc[~table["primary"], "verdict"] == "descriptive").all()
    # the planted answers: rotation helps alone and in company, zoom does not matter much
    verdicts = dict(zip(table["family"] + ":" + table["transform"], table["verdict"], strict=True))
    assert verdicts["alone:rotation"] == "helps" and verdicts["in company:rotation"] == "helps"
    assert verdicts["alone:zoom"] in ("negligible", "inconclusive")


def test_a_holm_correction_over_every_contrast_would_differ():
    """Guards the family: correcting the descriptive contrasts too gives other numbers."""
    table = contrasts(study(), alpha=0.05, margin=0.01)
    everything = holm(table["p_value"])
    primary = table["primary"].to_numpy()
    assert not np.allclose(everything[primary], table.loc[primary, "p_holm"])


ROW = {
    "primary": True,
    "seeds": 3,
    "difference": 0.02,
    "p_value": 0.01,
    "p_holm": 0.03,
    "p_equivalence_holm": 0.9,
}


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({}, "helps"),
        ({"difference": -0.02}, "hurts"),
        ({"p_holm": 0.2, "p_equivalence_holm": 0.01}, "negligible"),
        ({"p_holm": 0.2}, "inconclusive"),
        ({"seeds": 1}, "single seed"),
        ({"p_value": math.nan, "p_holm": math.nan}, "untestable"),
        ({"primary": False}, "descriptive"),
    ],
)
def test_verdict_rules(changes, expected):
    assert verdict({**ROW, **changes}) == expected


def test_variant_summary_accuracy_interval_is_over_seeds_and_images():
    images = study()
    runs = runs_of(images)
    summary = variant_summary(runs, images).set_index("variant")
    matrix = images[images["variant"] == "rotation"].pivot(
        index="seed", columns="image", values="score"
    )
    expected = crossed_mean(matrix.to_numpy())
    assert summary.loc["rotation", "final_val_accuracy_mean"] == pytest.approx(expected.estimate)
    assert (
        summary.loc["rotation", "final_val_accuracy_ci_low"],
        summary.loc["rotation", "final_val_accuracy_ci_high"],
    ) == pytest.approx(clip_accuracy(expected.interval()))
    assert summary.loc["rotation", "final_val_accuracy_ci_population"] == "seeds and images"
    assert summary.loc["rotation", "chance_level"] == pytest.approx(2 / 3)  # dogs: 2 of 3
    assert chance_level(images) == pytest.approx(2 / 3)
    gap = runs.loc[runs["variant"] == "rotation", "generalization_gap"]
    assert summary.loc["rotation", "generalization_gap_ci_low"] == pytest.approx(t_interval(gap)[0])
    assert list(summary.index) == list(EFFECTS)


def test_learning_curves_are_mean_and_t_interval_over_seeds_per_epoch():
    histories = tidy_histories(
        [
            ("none", 1, history([0.5, 0.6], clean=[math.nan, 0.9])),
            ("none", 2, history([0.55, 0.7], clean=[math.nan, 0.8])),
            ("none", 3, history([0.45, 0.65], clean=[math.nan, 1.0])),
        ]
    )
    curves = learning_curves(histories).set_index(["measure", "epoch"])
    row = curves.loc[("val_accuracy", 2)]
    assert row["mean"] == pytest.approx(0.65) and row["seeds"] == 3
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        clip_accuracy(t_interval([0.6, 0.7, 0.65]))
    )
    assert ("clean_train_accuracy", 1) not in curves.index  # not measured at epoch 1
    assert curves.loc[("clean_train_accuracy", 2), "ci_high"] <= 1.0


def test_mcnemar_table_noise_floor_and_power():
    images = study()
    pairs = contrast_pairs(images["variant"].unique())
    table = mcnemar_table(images, pairs)
    assert len(table) == len(pairs) * 3
    row = table[(table["variant"] == "rotation") & (table["seed"] == 2)].iloc[0]
    first = images[(images["variant"] == "rotation") & (images["seed"] == 2)][
        "last_epoch_correct"
    ].to_numpy()
    second = images[(images["variant"] == "none") & (images["seed"] == 2)][
        "last_epoch_correct"
    ].to_numpy()
    assert row["only_variant_right"] == int(((first == 1) & (second == 0)).sum())
    assert row["test"].startswith("exact McNemar: one seed") and "last-epoch" in row["test"]
    # the same pair of runs on the report's endpoint: last-k scores
    scores = [
        images[(images["variant"] == v) & (images["seed"] == 2)]["score"].to_numpy()
        for v in ("rotation", "none")
    ]
    differences = scores[0] - scores[1]
    assert row["score_difference"] == pytest.approx(differences.mean(), rel=1e-12)
    assert row["score_disagreement"] == pytest.approx((differences != 0).mean())
    assert row["score_standard_error"] == pytest.approx(
        differences.std(ddof=1) / math.sqrt(len(differences)), rel=1e-12
    )
    floor = noise_floor(table)
    assert floor == {
        "images": 600,
        "disagreement": pytest.approx(table["score_disagreement"].median(), rel=1e-12),
        "standard_error": pytest.approx(table["score_standard_error"].median(), rel=1e-12),
    }


def test_the_noise_floor_of_two_runs_that_differ_a_lot():
    """Runs 40 points apart: the SE of their difference is the SD of the per-image
    differences (the mean's square subtracted) over sqrt(images), not sqrt(mean square)."""
    first = np.array([1.0] * 70 + [0.0] * 30)
    second = np.array([0.6] * 50 + [0.0] * 50)
    mean, disagreement, standard_error = pair_noise(first, second)
    differences = first - second
    assert mean == pytest.approx(0.4)
    assert disagreement == pytest.approx(0.7)
    assert standard_error == pytest.approx(np.std(differences, ddof=1) / 10, rel=1e-12)
    assert standard_error < 0.8 * math.sqrt((differences**2).mean() / 100)


def test_study_power_is_the_contrasts_design_at_holm_s_strictest_level():
    images = study()
    table = contrasts(images)
    power = study_power(table)
    primary = table[table["primary"]]
    assert power["level"] == pytest.approx(0.05 / 4) and power["contrasts"] == 4
    components = [
        primary[c].median()
        for c in ("design_seed_variance", "image_variance", "design_residual_variance")
    ]
    planned = design(*components, 3, 600, 5.0)  # pooled: V - 1 = 5 df per seed
    assert power["run_df"] == 10
    assert power["detectable"] == pytest.approx(
        planned.minimum_detectable_effect(0.05 / 4), rel=1e-9
    )
    assert (power["detectable_ci_low"], power["detectable_ci_high"]) == pytest.approx(
        planned.minimum_detectable_effect_interval(0.05 / 4), rel=1e-9
    )
    assert power["detectable_twice_the_seeds"] == pytest.approx(
        design(*components, 6, 600, 5.0).minimum_detectable_effect(0.05 / 4), rel=1e-9
    )
    assert power["smallest_margin"] == pytest.approx(
        planned.smallest_equivalence_margin(0.05 / 4), rel=1e-9
    )
    assert 0 < power["detectable_twice_the_seeds"] < power["detectable"]
    # the per-contrast column agrees: a family whose contrasts share their components
    same = table.copy()
    for column in ("design_seed_variance", "image_variance", "design_residual_variance"):
        same.loc[same["primary"], column] = same.loc[same["primary"], column].iloc[0]
    assert study_power(same)["detectable"] == pytest.approx(
        primary["minimum_detectable_effect"].iloc[0], rel=1e-6
    )
    assert study_power(same)["smallest_margin"] == pytest.approx(
        primary["smallest_margin"].iloc[0], rel=1e-6
    )
    # medians, not means: one contrast with a large image part moves a mean, not a median
    skewed = same.copy()
    skewed.loc[skewed.index[0], "image_variance"] *= 50
    assert study_power(skewed)["detectable"] == pytest.approx(
        study_power(same)["detectable"], rel=1e-9
    )


def test_strength_and_combination_variants_get_descriptive_contrasts_and_a_dose_response():
    effects = {"none": 0.0, "rotation@10": 0.02, "rotation@20": 0.05, "rotation+zoom": 0.03}
    images = study(effects=effects)
    pairs = contrast_pairs(images["variant"].unique())
    assert [(p.family, p.variant, p.transform, p.primary) for p in pairs] == [
        ("strength", "rotation@10", "rotation", False),
        ("strength", "rotation@20", "rotation", False),
        ("combination", "rotation+zoom", "rotation+zoom", False),
    ]
    table = contrasts(images)
    assert (table["verdict"] == "descriptive").all()
    variants = variant_summary(runs_of(images), images)
    assert variants["variant"].tolist() == ["none", "rotation@10", "rotation@20", "rotation+zoom"]
    dose = dose_response(variants, table)
    assert dose["variant"].tolist() == ["none", "rotation@10", "rotation@20"]
    assert dose["strength"].tolist() == [0.0, 10.0, 20.0]
    row = table.set_index("variant").loc["rotation@20"]
    assert dose.loc[2, "difference"] == row["difference"]
    assert dose.loc[2, "difference_ci_low"] == row["ci_low"]


def test_the_margin_is_a_fraction_and_points_are_refused():
    """analysis.equivalence_margin is in points; the workflow divides by 100. A margin of 1
    (100 points) would call every contrast negligible: refused with the culprit named."""
    images = study(images=60)
    with pytest.raises(ValueError, match="equivalence_margin"):
        contrasts(images, margin=1.0)
    assert (contrasts(images, margin=0.025)["margin"] == 0.025).all()


def test_an_unbalanced_study_keeps_each_contrast_s_own_seeds_and_says_why():
    images = study(images=60)
    images = images[~((images["variant"] == "zoom") & (images["seed"] == 3))]
    table = contrasts(images)
    assert set(table["method"]) == {OWN}
    assert table["method_reason"].str.contains("other seeds").all()
    zoom = table[table["variant"] == "zoom"].iloc[0]
    assert zoom["seeds"] == 2 and zoom["run_df"] == 1
