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
    OWN,
    PER_VARIANT,
    POOLED,
    SEEDS_AND_IMAGES,
    CrossedEstimate,
    StudyModel,
    crossed_mean,
    design,
    holm,
    mcnemar_exact,
    mean_squares,
    reference_tail,
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
    # REML's optimizer stops within about 1e-4 of the ANOVA solution
    assert estimate.seed_variance == pytest.approx(components["seed"], rel=5e-4)
    assert estimate.image_variance == pytest.approx(components["image"], rel=5e-4)
    assert estimate.residual_variance == pytest.approx(fit.scale, rel=5e-4)
    assert estimate.estimate == pytest.approx(fit.fe_params["Intercept"], rel=1e-9)
    assert estimate.standard_error == pytest.approx(fit.bse["Intercept"], rel=5e-4)
    assert estimate.population == SEEDS_AND_IMAGES


def test_without_an_image_part_it_is_the_paired_t_test_over_seeds():
    values = table(seeds=4, images=50, image_sd=0.0, noise_sd=0.0, seed_sd=0.03)
    values = values + np.zeros((1, 50))  # every image alike: no image part
    estimate = crossed_mean(values)
    assert estimate.image_part == 0
    seed_means = values.mean(axis=1)
    test = stats.ttest_1samp(seed_means, 0.0)
    assert estimate.p_value() == pytest.approx(test.pvalue, rel=1e-9)
    low, high = stats.t.interval(0.95, 3, loc=seed_means.mean(), scale=stats.sem(seed_means))
    assert estimate.interval() == pytest.approx((low, high), rel=1e-9)


def test_two_one_sided_tests_match_statsmodels_when_there_is_no_image_part():
    from statsmodels.stats.weightstats import ttost_paired

    rng = np.random.default_rng(3)
    first = rng.normal(0.70, 0.01, (5, 1)) + np.zeros((1, 20))
    second = rng.normal(0.70, 0.01, (5, 1)) + np.zeros((1, 20))
    estimate = crossed_mean(first - second)
    p, _, _ = ttost_paired(first[:, 0], second[:, 0], -0.02, 0.02)
    assert estimate.equivalence_p_value(0.02) == pytest.approx(p, rel=1e-9)
    # a margin half as wide is another test
    assert estimate.equivalence_p_value(0.01) != pytest.approx(p, rel=1e-3)


def test_one_seed_is_a_t_test_over_images_and_says_so():
    values = table(seeds=1, images=200)
    estimate = crossed_mean(values)
    assert estimate.population == IMAGES_ONLY
    assert estimate.p_value() == pytest.approx(stats.ttest_1samp(values[0], 0.0).pvalue, rel=1e-9)
    assert estimate.standard_error == pytest.approx(stats.sem(values[0]), rel=1e-12)  # ddof 1
    assert estimate.uncertain_df == 199  # images - 1
    low, high = stats.t.interval(0.95, 199, loc=values[0].mean(), scale=stats.sem(values[0]))
    assert estimate.interval() == pytest.approx((low, high), rel=1e-9)


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
    assert planned.power(effect) == pytest.approx(expected, abs=1e-4)  # 2e-5 achieved
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


def reference_tail_by_quadrature(x, uncertain, df, known):
    """P(|Z| sqrt(uncertain df / W + known) > x) integrated over W's chi-square density."""
    from scipy import integrate

    def integrand(w):
        return 2 * stats.norm.sf(x / math.sqrt(uncertain * df / w + known)) * stats.chi2.pdf(w, df)

    return integrate.quad(integrand, 0, np.inf, epsabs=1e-15, limit=500)[0]


def test_the_exact_p_value_keeps_the_chi_square_tail():
    """The issue's case: 2.10e-4 by quadrature, where 2,048 midpoint quantile nodes gave
    1.78e-4 (they cannot see the chi-square below its 1/4096 quantile)."""
    estimate = CrossedEstimate(69.0, 3, 1000, uncertain_part=1.0, uncertain_df=2.0, image_part=0.1)
    expected = reference_tail_by_quadrature(69.0, 1.0, 2.0, 0.1)
    assert expected == pytest.approx(2.10e-4, abs=5e-7)
    assert estimate.p_value() == pytest.approx(expected, rel=1e-6)
    nodes = (np.arange(2048) + 0.5) / 2048
    scales = np.sqrt(1.0 * 2.0 / stats.chi2.ppf(nodes, 2.0) + 0.1)
    assert np.mean(2 * stats.norm.sf(69.0 / scales)) < 0.9 * expected  # what it was


@pytest.mark.parametrize("df", [2.0, 4.0, 26.0])
@pytest.mark.parametrize("x", [0.5, 2.0, 5.0, 15.0])
def test_the_reference_tail_matches_quadrature_everywhere(df, x):
    got = float(reference_tail(x, 0.8, df, 0.3))
    assert got == pytest.approx(reference_tail_by_quadrature(x, 0.8, df, 0.3), rel=1e-6, abs=1e-13)
    # and its interval is where the tail is 5%
    estimate = CrossedEstimate(0.0, 3, 100, 0.8, df, 0.3)
    low, high = estimate.interval()
    assert reference_tail_by_quadrature(high, 0.8, df, 0.3) == pytest.approx(0.05, rel=1e-6)


def study_cube(variants=4, seeds=4, images=30, run_sd=0.1, vi_sd=0.2, noise_sd=0.3, rng_seed=0):
    """y[v, s, i] with variant, seed, image, seed x image, run (variant x seed), variant x
    image and residual effects."""
    rng = np.random.default_rng(rng_seed)
    return (
        rng.normal(0, 0.05, (variants, 1, 1))
        + rng.normal(0, 0.1, (1, seeds, 1))
        + rng.normal(0, 0.5, (1, 1, images))
        + rng.normal(0, 0.1, (1, seeds, images))
        + rng.normal(0, run_sd, (variants, seeds, 1))
        + rng.normal(0, vi_sd, (variants, 1, images))
        + rng.normal(0, noise_sd, (variants, seeds, images))
    )


def cube_long_form(cube):
    variants, seeds, images = cube.shape
    v, s, i = np.meshgrid(np.arange(variants), np.arange(seeds), np.arange(images), indexing="ij")
    return pd.DataFrame({"y": cube.ravel(), "v": v.ravel(), "s": s.ravel(), "i": i.ravel()})


def test_study_mean_squares_match_statsmodels_three_way_anova():
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    cube = study_cube()
    fit = smf.ols("y ~ C(v) * C(s) + C(v) * C(i) + C(s) * C(i)", data=cube_long_form(cube)).fit()
    anova = sm.stats.anova_lm(fit)
    model = StudyModel.fit(cube)
    assert model.ms_run == pytest.approx(anova.loc["C(v):C(s)", "mean_sq"], rel=1e-9)
    assert model.ms_variant_image == pytest.approx(anova.loc["C(v):C(i)", "mean_sq"], rel=1e-9)
    assert model.ms_residual == pytest.approx(anova.loc["Residual", "mean_sq"], rel=1e-9)
    assert model.run_df == anova.loc["C(v):C(s)", "df"] == 9


def test_a_pooled_contrast_is_the_crossed_mixed_model_s_fixed_effect():
    """statsmodels' MixedLM (variance components: seed, image, seed x image, run, variant x
    image) on a balanced study: its REML components are the ANOVA's and the standard error of
    a variant difference is sqrt(2 [MS_VS + MS_VI - MS_VSI] / (S I))."""
    import statsmodels.formula.api as smf

    cube = study_cube(variants=3, seeds=4, images=20, run_sd=0.15, vi_sd=0.25, rng_seed=4)
    variants, seeds, images = cube.shape
    data = cube_long_form(cube).assign(group=1)
    data["run"] = data["v"] * 100 + data["s"]
    data["vi"] = data["v"] * 1000 + data["i"]
    data["si"] = data["s"] * 1000 + data["i"]
    model = smf.mixedlm(
        "y ~ C(v)",
        data,
        groups="group",
        re_formula="0",
        vc_formula={
            "seed": "0 + C(s)",
            "image": "0 + C(i)",
            "si": "0 + C(si)",
            "run": "0 + C(run)",
            "vi": "0 + C(vi)",
        },
    )
    fit = model.fit(reml=True, method="lbfgs")
    components = dict(zip(model.exog_vc.names, fit.vcomp, strict=True))
    study = StudyModel.fit(cube)
    # REML's optimizer stops within about 1e-4 of the ANOVA solution
    assert components["run"] == pytest.approx((study.ms_run - study.ms_residual) / images, rel=5e-4)
    assert components["vi"] == pytest.approx(
        (study.ms_variant_image - study.ms_residual) / seeds, rel=5e-4
    )
    assert fit.scale == pytest.approx(study.ms_residual, rel=5e-4)
    by_formula = math.sqrt(
        2 * (study.ms_run + study.ms_variant_image - study.ms_residual) / (seeds * images)
    )
    assert fit.bse["C(v)[T.1]"] == pytest.approx(by_formula, rel=5e-4)
    pooled = study.contrast([-1, 1, 0], POOLED)
    assert pooled.estimate == pytest.approx(fit.fe_params["C(v)[T.1]"])
    # the run part is the model's; the image part the contrast's own (here about the model's)
    assert pooled.uncertain_part == pytest.approx(2 * study.ms_run / (seeds * images), rel=1e-12)
    assert pooled.standard_error == pytest.approx(by_formula, rel=0.05)  # 0.022 here


def test_a_pooled_contrast_recomputed_by_hand():
    """Independent of StudyModel's code: the variant x seed interaction of the run means,
    the contrast's own image part, and the (V - 1)(S - 1) df."""
    cube = study_cube(variants=5, seeds=3, images=40, rng_seed=2)
    variants, seeds, images = cube.shape
    weights = np.array([1.0, -1.0, 0.0, 0.0, 0.0]) / 2 + np.array([0, 0, 0.5, -0.5, 0])
    means = pd.DataFrame(cube.mean(axis=2))  # variants x seeds
    interaction = means.sub(means.mean(axis=1), axis=0).sub(means.mean(axis=0), axis=1)
    interaction += means.to_numpy().mean()
    ms_run = images * (interaction.to_numpy() ** 2).sum() / ((variants - 1) * (seeds - 1))
    table = np.einsum("v,vsi->si", weights, cube)
    own = crossed_mean(table)
    estimate = StudyModel.fit(cube).contrast(weights, POOLED)
    assert estimate.uncertain_part == pytest.approx((weights**2).sum() * ms_run / (seeds * images))
    assert estimate.uncertain_df == (variants - 1) * (seeds - 1) == 8
    assert estimate.image_part == pytest.approx(own.image_part)
    assert estimate.estimate == pytest.approx(table.mean())
    assert estimate.method == POOLED
    # the contrast's own seeds: the old per-contrast estimator, S - 1 df
    assert StudyModel.fit(cube).contrast(weights, OWN) == own and own.uncertain_df == 2
    # a design of more seeds keeps the pooled df per seed
    assert estimate.design(6).uncertain_df == (variants - 1) * 5


def test_contrast_weights_must_sum_to_zero():
    model = StudyModel.fit(study_cube())
    with pytest.raises(ValueError, match="summing to 0"):
        model.contrast([1, 0, 0, 0])


def test_a_variant_whose_runs_vary_more_keeps_its_own_seeds():
    """The auto rule: one-sided F test of the contrast's variants' spread of run means
    against the other variants'; a noisy variant's contrasts fall back to their own seeds."""
    cube = study_cube(variants=8, seeds=3, images=50, run_sd=0.02, rng_seed=5)
    cube[0] += np.random.default_rng(6).normal(0, 0.5, (3, 1))  # variant 0: noisy runs
    model = StudyModel.fit(cube)
    noisy = model.contrast([1, -1, 0, 0, 0, 0, 0, 0])
    calm = model.contrast([0, 0, 1, -1, 0, 0, 0, 0])
    assert noisy.method == OWN and "vary more" in noisy.method_reason
    assert calm.method == POOLED and calm.uncertain_df == 14
    # the ratio and p by hand: spreads of the interaction of run means, F(4, 12)
    means = cube.mean(axis=2)
    run = means - means.mean(1, keepdims=True) - means.mean(0, keepdims=True) + means.mean()
    spreads = (run**2).sum(axis=1) / 2
    ratio = spreads[:2].mean() / spreads[2:].mean()
    assert model.run_variance_ratio([1, -1, 0, 0, 0, 0, 0, 0]) == pytest.approx(
        (ratio, stats.f.sf(ratio, 4, 12))
    )


def test_per_variant_run_variances_are_unbiased():
    """Shukla's estimator: each variant's run variance, averaged over many simulated tables,
    is its true one (here 1, 4 and 1 ...), and a contrast's Satterthwaite df are at most
    2 (S - 1) for a pair."""
    rng = np.random.default_rng(8)
    sds = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    found = []
    for _ in range(4000):
        cube = rng.normal(0, 1, (1, 4, 1)) + rng.normal(0, sds[:, None, None], (6, 4, 1))
        found.append(StudyModel.fit(np.repeat(cube, 2, axis=2) * [[[1, 1]]]).run_variances)
    # 4000 tables: the SE of each mean is about 2 * var * sqrt(2/3) / sqrt(4000) < 0.11
    np.testing.assert_allclose(np.mean(found, axis=0), sds**2, atol=0.12)
    model = StudyModel.fit(study_cube(variants=6, seeds=4))
    estimate = model.contrast([1, -1, 0, 0, 0, 0], PER_VARIANT)
    assert 0 < estimate.uncertain_df <= 6.0 + 1e-9


def test_the_smallest_equivalence_margin_and_the_mde_interval_by_formula():
    """With a seed part known almost exactly (df huge), TOST at alpha reaches a margin m with
    80% power at a true 0 when m = se (z_(1 - alpha) + z_0.9); the MDE is se (z_(1 - alpha/2)
    + z_0.8); its interval comes from the chi-square law of the seed part."""
    level = 0.05 / 12
    planned = design(4e-4, 0.0, 0.0, seeds=3, images=1000, df_per_seed=1e7)
    se = planned.standard_error
    z = stats.norm.ppf
    assert planned.smallest_equivalence_margin(level) == pytest.approx(
        se * (z(1 - level) + z(0.9)), rel=1e-4
    )
    assert planned.equivalence_power(se * (z(1 - level) + z(0.9)), level) == pytest.approx(
        0.8, abs=1e-4
    )
    assert planned.minimum_detectable_effect(level) == pytest.approx(
        se * (z(1 - level / 2) + z(0.8)), rel=1e-4
    )
    # few df: the interval's ends are the MDEs at the chi-square limits of the seed part
    few = design(4e-4, 0.0, 0.0, seeds=3, images=1000, df_per_seed=13)
    low, high = few.minimum_detectable_effect_interval(level)
    df = few.uncertain_df
    for end, q in ((low, 0.975), (high, 0.025)):
        part = few.uncertain_part * df / stats.chi2.ppf(q, df)
        expected = CrossedEstimate(0.0, 3, 1000, part, df, 0.0).minimum_detectable_effect(level)
        assert end == pytest.approx(expected, rel=1e-9)
    assert low < few.minimum_detectable_effect(level) < high
