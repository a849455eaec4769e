"""The inference over seeds and images, each statistic checked against an independent
computation: statsmodels' crossed mixed model and ANOVA, scipy's t-tests, statsmodels' TOST and
t-test power, the binomial test behind McNemar's, and Holm by hand."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from augablate.inference import (
    IMAGES_ONLY,
    SEEDS_AND_IMAGES,
    crossed_mean,
    design,
    holm,
    mcnemar_exact,
    mean_squares,
    seeds_for_power,
)


def table(seeds=3, images=40, seed_sd=0.05, image_sd=0.2, noise_sd=0.3, shift=0.02, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    return (
        shift
        + rng.normal(0, seed_sd, (seeds, 1))
        + rng.normal(0, image_sd, (1, images))
        + rng.normal(0, noise_sd, (seeds, images))
    )


def long_form(values: np.ndarray) -> pd.DataFrame:
    seeds, images = values.shape
    return pd.DataFrame(
        {
            "y": values.ravel(),
            "seed": np.repeat(np.arange(seeds), images),
            "image": np.tile(np.arange(images), seeds),
        }
    )


def test_mean_squares_match_statsmodels_two_way_anova():
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    values = table(seeds=4, images=25)
    fit = smf.ols("y ~ C(seed) + C(image)", data=long_form(values)).fit()
    anova = sm.stats.anova_lm(fit)
    ms_seed, ms_image, ms_residual = mean_squares(values)
    assert ms_seed == pytest.approx(anova.loc["C(seed)", "mean_sq"])
    assert ms_image == pytest.approx(anova.loc["C(image)", "mean_sq"])
    assert ms_residual == pytest.approx(anova.loc["Residual", "mean_sq"])


def test_standard_error_and_components_match_a_crossed_mixed_model():
    """REML on a balanced crossed design gives the ANOVA components (when positive), and the
    standard error of its intercept is ours."""
    import statsmodels.formula.api as smf

    values = table(seeds=5, images=30, seed_sd=0.1, image_sd=0.3, noise_sd=0.2)
    data = long_form(values).assign(group=1)
    model = smf.mixedlm(
        "y ~ 1",
        data,
        groups="group",
        re_formula="0",
        vc_formula={"seed": "0 + C(seed)", "image": "0 + C(image)"},
    )
    fit = model.fit(reml=True)
    estimate = crossed_mean(values)
    components = dict(zip(model.exog_vc.names, fit.vcomp, strict=True))
    assert estimate.seed_variance == pytest.approx(components["seed"], rel=1e-3)
    assert estimate.image_variance == pytest.approx(components["image"], rel=1e-3)
    assert estimate.residual_variance == pytest.approx(fit.scale, rel=1e-3)
    assert estimate.estimate == pytest.approx(fit.fe_params["Intercept"])
    assert estimate.standard_error == pytest.approx(fit.bse["Intercept"], rel=1e-3)
    assert estimate.population == SEEDS_AND_IMAGES


def test_without_an_image_part_it_is_the_paired_t_test_over_seeds():
    values = table(seeds=4, images=50, image_sd=0.0, noise_sd=0.0, seed_sd=0.03)
    values = values + np.zeros((1, 50))  # every image alike: no image part
    estimate = crossed_mean(values)
    assert estimate.image_part == 0
    seed_means = values.mean(axis=1)
    test = stats.ttest_1samp(seed_means, 0.0)
    assert estimate.p_value() == pytest.approx(test.pvalue, rel=2e-3)
    low, high = stats.t.interval(0.95, 3, loc=seed_means.mean(), scale=stats.sem(seed_means))
    assert estimate.interval() == pytest.approx((low, high), rel=1e-3)


def test_two_one_sided_tests_match_statsmodels_when_there_is_no_image_part():
    from statsmodels.stats.weightstats import ttost_paired

    rng = np.random.default_rng(3)
    first = rng.normal(0.70, 0.01, (5, 1)) + np.zeros((1, 20))
    second = rng.normal(0.70, 0.01, (5, 1)) + np.zeros((1, 20))
    estimate = crossed_mean(first - second)
    p, _, _ = ttost_paired(first[:, 0], second[:, 0], -0.02, 0.02)
    assert estimate.equivalence_p_value(0.02) == pytest.approx(p, rel=2e-3)


def test_one_seed_is_a_t_test_over_images_and_says_so():
    values = table(seeds=1, images=200)
    estimate = crossed_mean(values)
    assert estimate.population == IMAGES_ONLY
    assert estimate.p_value() == pytest.approx(stats.ttest_1samp(values[0], 0.0).pvalue, rel=1e-3)


def test_identical_runs_give_no_test_instead_of_a_tiny_p():
    values = np.zeros((3, 100))
    values[:, 0] = 1e-16  # floating-point dust
    estimate = crossed_mean(values)
    assert not estimate.testable
    assert math.isnan(estimate.p_value()) and math.isnan(estimate.interval()[0])


def test_power_matches_statsmodels_t_test_power_without_an_image_part():
    from statsmodels.stats.power import TTestPower

    # seed means with SD 0.02: a contrast whose only variance is the seed part
    planned = design(0.02**2, 0.0, 0.0, seeds=5, images=1000)
    effect = 0.03
    expected = TTestPower().power(effect_size=effect / 0.02, nobs=5, alpha=0.05)
    assert planned.power(effect) == pytest.approx(expected, abs=0.01)
    detectable = planned.minimum_detectable_effect()
    assert planned.power(detectable) == pytest.approx(0.8, abs=1e-6)
    assert seeds_for_power(crossed_mean(table(seed_sd=0.02, image_sd=0, noise_sd=0)), 0.03)


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_images():
    rng = np.random.default_rng(1)
    first, second = rng.random(300) < 0.75, rng.random(300) < 0.70
    only_first, only_second, p = mcnemar_exact(first, second)
    assert only_first == int((first & ~second).sum())
    assert only_second == int((~first & second).sum())
    expected = stats.binomtest(only_first, only_first + only_second, 0.5).pvalue
    assert p == pytest.approx(expected)


def test_holm_by_hand_against_statsmodels_and_nans_outside_the_family():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, math.nan, 0.2]
    adjusted = holm(p)
    # sorted 0.01, 0.03, 0.04, 0.2 (m = 4): 0.04, 0.09, 0.09 (monotone), 0.2
    expected = [0.04, 0.09, 0.09, math.nan, 0.2]
    np.testing.assert_allclose(adjusted, expected)
    many = np.random.default_rng(0).random((50, 12)) ** 3
    for row in many:
        np.testing.assert_allclose(holm(row), multipletests(row, method="holm")[1])
