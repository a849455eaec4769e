"""A factorial study with one seed per design point (augablate.inference.UnreplicatedModel).

Independent computations: pyDOE3's alias chains for the contrasts that only interactions of
three or more transforms share, statsmodels' least squares for the classical unreplicated
factorial t-test, and simulated studies for the calibration: no main effect rejects more often
than a nominal 5% test does (with probability 1e-4), the family's verdicts neither, an effect
planted at the stated MDE is found with the stated 80% power, and the same bounds catch an
analysis that ignores how runs vary (an interval over images only).
"""

import dataclasses
import json
import string

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import REPO, bound
from scipy import stats

from augablate.analysis import verdict
from augablate.design import build_design
from augablate.factorial import effect_weights, effects_table, error_weights
from augablate.inference import HIGHER_ORDER, SEEDS_AND_IMAGES, UnreplicatedModel
from augablate.simulate import DEFAULT_TRANSFORMS, Scenario, simulate_design

FRACTION = build_design(DEFAULT_TRANSFORMS, resolution=4)  # 2^(6-2): 16 points
ALPHA = 0.05
LEVEL = ALPHA / len(FRACTION.factors)
CALIBRATION = json.loads((REPO / "benchmarks" / "unreplicated_calibration.json").read_text())
SCENARIOS = {
    name: Scenario(**found["scenario"]) for name, found in CALIBRATION["scenarios"].items()
}
LIKE_CATS, RUNS_VARY = SCENARIOS.values()


def word_column(design, word: str) -> np.ndarray:
    """The contrast column of a pyDOE3 word (``"acd"``: factors a, c and d)."""
    factors = [string.ascii_lowercase.index(letter) for letter in word.strip()]
    return np.prod(design.matrix[:, factors], axis=1)


def test_the_higher_order_contrasts_are_pydoe3s_chains_of_three_factor_interactions_or_more():
    from pyDOE3 import fracfact_aliasing

    for design in (
        FRACTION,
        build_design(DEFAULT_TRANSFORMS[:4]),
        build_design(["rotation", "zoom"]),
    ):
        chains, _ = fracfact_aliasing(design.matrix)
        letters = {name: string.ascii_lowercase[i] for i, name in enumerate(design.factors)}
        expected = [  # the defining relation's words (a constant column) are no contrast
            chain
            for chain in chains
            if all(len(word.strip()) >= 3 for word in chain.split("="))
            and np.ptp(word_column(design, chain.split("=")[0])) > 0
        ]
        found = design.higher_order_columns()
        assert len(found) == len(expected), (design.how, expected)
        for label in found:
            word = "".join(letters[name] for name in label.split(":"))
            assert any(word in [w.strip() for w in c.split("=")] for c in expected), label
    assert len(FRACTION.higher_order_columns()) == 2  # 15 = 6 main + 7 interaction chains + 2
    lower = np.column_stack(list(FRACTION.effect_columns(order=2).values()))
    for column in FRACTION.higher_order_columns().values():
        assert not (column @ lower).any()  # orthogonal to every main effect and interaction


def test_without_image_effects_it_is_the_classical_unreplicated_factorial_t_test():
    """When every design point changes every image alike (scores = point + image), the image
    part is 0 and a main effect's p-value and interval are least squares' on the 16 run means
    with the 13 effects of the design, its residual (the 2 higher-order contrasts) the error."""
    rng = np.random.default_rng(3)
    means = 0.75 + rng.normal(0, 0.01, FRACTION.runs)
    scores = means[:, None] + rng.normal(0, 0.1, 200)[None, :]
    table = effects_table(scores[:, None, :], FRACTION, margin=0.02, detectable=False)
    columns = FRACTION.effect_columns(order=2)
    labels = list(table["effect"])
    fit = sm.OLS(means, sm.add_constant(np.column_stack([columns[x] for x in labels]))).fit()
    assert fit.df_resid == 2
    scale = [2 if ":" not in label else 4 for label in labels]  # +-1 coded: half the effect
    assert table["difference"].to_numpy() == pytest.approx(fit.params[1:] * scale, abs=1e-12)
    assert table["p_value"].to_numpy() == pytest.approx(fit.pvalues[1:], rel=1e-6)
    ci = fit.conf_int(0.05)[1:] * np.array(scale)[:, None]
    assert table[["ci_low", "ci_high"]].to_numpy() == pytest.approx(ci, rel=1e-6)
    assert (table["method"] == HIGHER_ORDER).all() and (table["df"] == 2).all()
    assert (table["population"] == SEEDS_AND_IMAGES).all()
    main = table[table["kind"] == "main effect"]
    assert main["verdict"].isin(["helps", "hurts", "negligible", "inconclusive"]).all()
    assert table.loc[table["kind"] == "interaction", "verdict"].eq("descriptive").all()


def test_a_transforms_own_image_effect_adds_its_part_to_its_main_effect_only():
    """Rotation changes single images systematically in every point it is on: its main effect's
    image part holds that change (var / I, over images), the others' none of it."""
    rng = np.random.default_rng(4)
    images = 2000
    own = rng.normal(0, 0.2, images)
    on = FRACTION.matrix[:, FRACTION.factors.index("rotation")] > 0
    scores = 0.75 + rng.normal(0, 0.05, (FRACTION.runs, images)) + np.outer(on, own)
    model = UnreplicatedModel.fit(scores, error_weights(FRACTION))
    rotation = model.contrast(effect_weights(FRACTION, "rotation"))
    zoom = model.contrast(effect_weights(FRACTION, "zoom"))
    assert rotation.image_part == pytest.approx(own.var() / images, rel=0.15)
    assert zoom.image_part < 0.1 * rotation.image_part


@pytest.mark.parametrize("scenario", [LIKE_CATS, RUNS_VARY], ids=["like-cats", "runs-vary"])
def test_null_one_seed_studies_are_calibrated_and_an_images_only_interval_is_caught(scenario):
    """Null studies, one seed per point: no main effect or interaction rejects at 5% more often
    than a nominal test does with probability 1e-4, nor does Holm's family of main effects give
    false verdicts; the interval over images only fails that bound where runs vary."""
    rng = np.random.default_rng(11)
    studies = 200
    right, wrong, family = np.zeros(13, int), np.zeros(13, int), 0
    for _ in range(studies):
        scores = simulate_design(scenario, FRACTION, 1, 300, rng)
        table = effects_table(scores, FRACTION, margin=0.02, detectable=False)
        right += (table["p_value"] < ALPHA).to_numpy()
        family += table["verdict"].isin(["helps", "hurts"]).any()
        for index, label in enumerate(table["effect"]):  # a t-test over images only
            per_image = effect_weights(FRACTION, label) @ scores[:, 0, :]
            wrong[index] += stats.ttest_1samp(per_image, 0.0).pvalue < ALPHA
    per_effect = bound(studies, ALPHA, 1e-4 / 13)
    assert right.max() <= per_effect, right
    assert family <= bound(studies, ALPHA, 1e-4), family
    if scenario is RUNS_VARY:
        assert wrong.max() > per_effect, wrong


@pytest.mark.parametrize("scenario", [LIKE_CATS, RUNS_VARY], ids=["like-cats", "runs-vary"])
def test_a_main_effect_at_the_stated_mde_is_found_with_the_stated_power(scenario):
    """The MDE at Holm's strictest level from the scenario's true parts (their means over null
    studies) planted as rotation's main effect: the share of studies that reject at that level
    is within the binomial bounds (1e-4) of the stated 80%."""
    rng = np.random.default_rng(13)
    weights = effect_weights(FRACTION, "rotation")
    parts = []
    for _ in range(60):
        model = UnreplicatedModel.fit(
            simulate_design(scenario, FRACTION, 1, 300, rng), error_weights(FRACTION)
        )
        estimate = model.contrast(weights)
        parts.append((estimate.uncertain_part, estimate.image_part))
    run_part, image_part = np.mean(parts, axis=0)
    stated = dataclasses.replace(estimate, uncertain_part=run_part, image_part=image_part)
    mde = stated.minimum_detectable_effect(LEVEL)
    trials = 150
    rejected = 0
    for _ in range(trials):
        scores = simulate_design(scenario, FRACTION, 1, 300, rng, {"rotation": mde})
        model = UnreplicatedModel.fit(scores, error_weights(FRACTION))
        rejected += model.contrast(weights).p_value() < LEVEL
    low, high = stats.binom.ppf(1e-4 / 2, trials, 0.8), stats.binom.isf(1e-4 / 2, trials, 0.8)
    assert low <= rejected <= high, (rejected, mde)


def test_a_design_with_no_higher_order_contrast_says_why_and_gives_no_verdict():
    """2^(3-1) with one seed: every one of its 3 contrasts is a main effect (aliased with an
    interaction), so nothing measures how runs vary."""
    design = build_design(["rotation", "zoom", "horizontal_flip"], generators="a b ab")
    assert design.runs == 4 and not design.higher_order_columns()
    rng = np.random.default_rng(5)
    scores = 0.75 + rng.normal(0, 0.1, (4, 1, 100))
    table = effects_table(scores, design, detectable=False)
    assert table["p_value"].isna().all() and table["ci_low"].isna().all()
    assert set(table.loc[table["primary"], "verdict"]) == {"single seed"}
    model = UnreplicatedModel.fit(scores, [])
    assert "add a seed" in model.contrast(effect_weights(design, "zoom")).method_reason


def test_a_one_at_a_time_contrast_of_one_seed_still_gets_no_verdict():
    """One seed of a contrast samples images only: no verdict. A factorial effect of one seed
    per point samples both populations (its runs from the higher-order contrasts): a verdict."""
    row = {"primary": True, "seeds": 1, "p_value": 0.001, "p_holm": 0.001}
    row |= {"p_equivalence_holm": 1.0, "difference": 0.02}
    assert verdict(pd.Series({**row, "population": "images (one seed)"})) == "single seed"
    assert verdict(pd.Series({**row, "population": SEEDS_AND_IMAGES})) == "helps"


def test_the_statistics_page_quotes_the_committed_one_seed_calibration():
    """docs/statistics.md's table is the committed JSON's, and the JSON is within nominal:
    per-test and family-wise rates at most 5% (their Monte Carlo intervals reach it), the
    power at the stated MDE within its interval of 80%."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "unreplicated_calibration", REPO / "benchmarks" / "unreplicated_calibration.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.markdown(CALIBRATION) in (REPO / "docs" / "statistics.md").read_text()
    for name, found in CALIBRATION["scenarios"].items():
        null, planted = found["null"], found["planted"]
        assert null["studies"] >= 1000 and planted["studies"] >= 200, name
        for key in ("false_positive_rate_per_test_main", "familywise_false_verdict_rate"):
            assert null[key]["ci95"][0] <= ALPHA, (name, key)
        low, high = planted["power_at_holm_strictest_level_measured"]["ci95"]
        assert low <= 0.8 <= high + 0.02, name
        assert planted["negligible_rate_at_the_margin"]["ci95"][0] <= ALPHA, name


def test_one_seed_components_rebuild_its_uncertainty_and_price_a_one_at_a_time_study():
    """A one-seed effect's components give back its run and image parts (so the report's
    planning and cost use what was measured); the all-churn bracket keeps its total variance,
    the no-churn one its image parts with the runs' luck floored at 0; in both the planned
    one-at-a-time MDE never grows with seeds, and the seeds found are the fewest that reach
    the target."""
    from augablate.factorial import _cost_brackets, one_at_a_time_seeds
    from augablate.inference import design

    rng = np.random.default_rng(6)
    scores = simulate_design(LIKE_CATS, FRACTION, 1, 400, rng)
    model = UnreplicatedModel.fit(scores, error_weights(FRACTION))
    estimate = model.contrast(effect_weights(FRACTION, "rotation"))
    images = estimate.images
    rebuilt = estimate.seed_variance + estimate.residual_variance / images
    assert rebuilt == pytest.approx(estimate.uncertain_part)
    assert estimate.image_variance / images == pytest.approx(estimate.image_part)
    churn, fixed = _cost_brackets(estimate)
    assert churn[0] is estimate and fixed[0].residual_variance == 0 and fixed[0].seed_variance >= 0
    images_part = (estimate.image_variance + estimate.residual_variance) / images
    assert fixed[0].image_variance / images == pytest.approx(images_part)
    level, target = ALPHA / 12, 0.03
    scale = FRACTION.runs / 2
    for components, share in (churn, fixed):
        image = (share + (1 - share) * scale) * components.image_variance

        def planned(seeds, components=components, image=image):
            return design(
                scale * components.seed_variance,
                image,
                scale * components.residual_variance,
                seeds,
                images,
                13.0,
            ).minimum_detectable_effect(level)

        mdes = [planned(seeds) for seeds in (2, 3, 5, 10, 40)]
        assert all(a >= b - 1e-9 for a, b in zip(mdes, mdes[1:], strict=False)), mdes
        needed = one_at_a_time_seeds(components, FRACTION.runs, 14, level, target, share)
        if np.isfinite(needed):
            assert planned(int(needed)) <= target
            assert needed == 2 or planned(int(needed) - 1) > target
        else:
            assert planned(10_000) > target
