"""Calibration of the verdicts on simulated studies, without training (numpy, seconds).

The scenarios are those of ``benchmarks/calibration.json``: generative models fitted to the
variance components of the real default (digits) and cats-vs-dogs runs, and synthetic extremes
(the seed part dominating, the image part dominating, no seed effect). Each simulated study has
the full design (none, 6 transforms alone, all, all minus each: 12 primary contrasts) and is
analysed by the workflow's own estimator, Holm's correction and verdict rule. The benchmark runs
thousands of studies per scenario and its numbers are in docs/statistics.md; here a few hundred
keep the suite fast, with a Monte Carlo allowance of 3 standard errors.
"""

import json
import math

import numpy as np
import pytest
from conftest import REPO

from augablate.inference import crossed_mean, design
from augablate.simulate import (
    DEFAULT_TRANSFORMS,
    Scenario,
    expected_components,
    simulate_family,
    simulate_study,
)

TRANSFORMS = DEFAULT_TRANSFORMS  # the default study's: 12 primary contrasts

CALIBRATION = json.loads((REPO / "benchmarks" / "calibration.json").read_text())
SCENARIOS = {
    name: (Scenario(**entry["scenario"]), entry["images"])
    for name, entry in CALIBRATION["scenarios"].items()
}
ALPHA, MARGIN = 0.05, 0.01


def allowance(rate: float, trials: float) -> float:
    return rate + 3 * math.sqrt(rate * (1 - rate) / trials)


def families(scenario, images, studies, seed, planted=None, seeds=3):
    rng = np.random.default_rng(seed)
    return [
        simulate_family(scenario, TRANSFORMS, seeds, images, rng, planted, ALPHA, MARGIN)
        for _ in range(studies)
    ]


def test_the_scenarios_include_both_real_studies():
    assert {"like digits", "like cats-vs-dogs"} <= set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_null_studies_reject_at_most_at_the_nominal_rate(name):
    scenario, images = SCENARIOS[name]
    studies = families(scenario, images, 250, seed=1)
    p = np.array([[row["p_value"] for row in study] for study in studies])
    claims = np.array(
        [[row["verdict"] in ("helps", "hurts") for row in study] for study in studies]
    )
    # the 12 tests of a study share baselines: count them as half as many independent ones
    assert (p < ALPHA).mean() <= allowance(ALPHA, p.size / 2), (p < ALPHA).mean()
    assert claims.any(axis=1).mean() <= allowance(ALPHA, len(studies))


def test_no_effect_larger_than_the_margin_is_not_claimed_at_the_margin():
    scenario, images = SCENARIOS["like cats-vs-dogs"]
    studies = families(scenario, images, 200, seed=2, planted={"rotation": MARGIN})
    target = [study[TRANSFORMS.index("rotation")] for study in studies]
    assert all(row["transform"] == "rotation" and row["family"] == "alone" for row in target)
    negligible = np.mean([row["verdict"] == "negligible" for row in target])
    assert negligible <= allowance(ALPHA, len(target))


@pytest.mark.parametrize("name", ["like digits", "like cats-vs-dogs", "synthetic: seed-dominated"])
def test_planted_effects_are_found_at_the_stated_power(name):
    """Planted effects are found at least as often as the power the report states (from a
    study's variance components): a 3-point effect at 3 seeds x 1,000 images, and the effect it
    calls detectable with 80% power. At mid-range accuracy the two agree; near 100% (digits,
    95%) the stated power is conservative, because a variant closer to the ceiling varies less
    from image to image than the null components say."""
    scenario, _ = SCENARIOS[name]
    rng = np.random.default_rng(3)
    components = expected_components(scenario, 1000, rng, studies=40)
    planned = design(*components, 3, 1000)
    for effect in (0.03, planned.minimum_detectable_effect(ALPHA)):
        trials = 400
        found = np.mean(
            [
                crossed_mean(
                    np.subtract(
                        *simulate_study(scenario, {"a": effect, "b": 0}, 3, 1000, rng).values()
                    )
                ).p_value()
                < ALPHA
                for _ in range(trials)
            ]
        )
        stated = planned.power(effect, ALPHA)
        tolerance = 3 * math.sqrt(stated * (1 - stated) / trials) + 0.03
        assert found >= stated - tolerance, (effect, found, stated)
        if scenario.accuracy < 0.9:  # no ceiling: the stated power is the power
            assert found <= stated + tolerance, (effect, found, stated)


def test_the_benchmark_measured_what_the_readme_quotes():
    """The committed benchmark was run with thousands of studies, and its null rates hold."""
    for name, entry in CALIBRATION["scenarios"].items():
        null = entry["null"]
        assert null["studies"] >= 1000, name
        assert null["false_positive_rate_per_test"] <= allowance(ALPHA, null["tests"] / 2), name
        assert null["familywise_false_verdict_rate"] <= allowance(ALPHA, null["studies"]), name
        assert entry["boundary"]["negligible_rate"] <= allowance(
            ALPHA, entry["boundary"]["studies"]
        )
