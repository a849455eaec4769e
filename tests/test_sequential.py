"""The sequential top-up's statistics (augablate.sequential) against independent computations:
published Lan-DeMets boundaries, scipy's multivariate normal integral of the looks' joint law,
plain Holm at a single look, and simulated studies in which a planted effect settles only after
added seeds and null studies keep the error rate."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from augablate.sequential import (
    HELPS,
    Plan,
    SequentialState,
    boundaries,
    holm_step,
    nominal_levels,
    spending,
)
from augablate.sequential_simulate import planned_seeds, run_topup, simulate_topup
from augablate.simulate import Scenario, family_design, family_variants, simulate_study


def test_boundaries_are_the_published_lan_demets_obrien_fleming_ones():
    """Five equally spaced looks, two-sided 0.05 (Jennison & Turnbull 2000, table 7.6; R's
    ldbounds and gsDesign sfLDOF give 4.877, 3.357, 2.680, 2.290, 2.031)."""
    found = boundaries([0.2, 0.4, 0.6, 0.8, 1.0], 0.05)
    assert found == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=6e-4)
    # a one-sided test at 0.025 has the same upper boundaries
    assert boundaries([0.2, 0.4, 0.6, 0.8, 1.0], 0.025, sides=1) == pytest.approx(found, abs=1e-6)
    # a single look at full information is the fixed-sample test
    assert boundaries([1.0], 0.05)[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-8)


@pytest.mark.parametrize("sides", [2, 1])
def test_each_look_spends_what_the_function_says_by_the_joint_normal_law(sides):
    """Independently of the recursion: scipy's multivariate normal integral of the looks'
    z-statistics (correlation sqrt(t_j / t_k)) gives the chance of no crossing up to each look,
    which must be 1 minus the error the spending function allows by then."""
    fractions = [3 / 9, 5 / 9, 7 / 9, 1.0]  # the workflow's default plan: 3 seeds, 2 a round
    alpha = 0.05 / 3
    bounds = boundaries(fractions, alpha, sides)
    for k in range(1, len(fractions) + 1):
        t = np.array(fractions[:k])
        correlation = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
        law = stats.multivariate_normal(
            np.zeros(k), correlation, maxpts=10**6, abseps=1e-8, releps=1e-6
        )
        lower = -bounds[:k] if sides == 2 else np.full(k, -np.inf)
        kept = law.cdf(bounds[:k], lower_limit=lower, rng=np.random.default_rng(1))
        assert 1 - kept == pytest.approx(spending(fractions[k - 1], alpha, sides), rel=1e-4)
    assert spending(1.0, alpha, sides) == pytest.approx(alpha, rel=1e-12)


def test_at_a_single_look_sequential_holm_is_holm():
    """A plan without rounds has one look at full information: its Holm step rejects exactly
    what statsmodels' Holm rejects."""
    rng = np.random.default_rng(4)
    plan = Plan((1, 2, 3), 2, 0, alpha=0.05)
    for _ in range(20):
        p = rng.uniform(0, 0.03, 8) ** rng.uniform(0.5, 2)
        names = [f"c{i}" for i in range(8)]
        made, _ = holm_step(plan, 0, dict(zip(names, p, strict=True)), 8, set(), 2)
        expected = multipletests(p, 0.05, method="holm")[0]
        assert made == {n for n, r in zip(names, expected, strict=True) if r}


def test_a_claim_made_passes_its_level_to_the_others():
    """Group-sequential Holm: with one of 3 claims made at an earlier look, the others are
    tested at the boundary of alpha / 2; with none made, at alpha / 3."""
    plan = Plan((1, 2, 3), 2, 2, alpha=0.05)
    fractions = plan.fractions(1)
    _, fresh = holm_step(plan, 1, {"b": 0.5, "c": 0.5}, 3, set(), 2)
    _, passed = holm_step(plan, 1, {"b": 0.5, "c": 0.5}, 3, {"a"}, 2)
    assert fresh["b"] == pytest.approx(nominal_levels(fractions, 0.05 / 3)[-1])
    assert passed["b"] == pytest.approx(nominal_levels(fractions, 0.05 / 2)[-1])
    assert passed["b"] > fresh["b"]


def test_nominal_levels_are_strict_early_and_near_the_fixed_level_at_the_end():
    levels = nominal_levels(Plan((1, 2, 3), 2, 3).fractions(3), 0.05)
    # the first look's level is what the spending function allows by then
    assert levels[0] == pytest.approx(spending(3 / 9, 0.05), rel=1e-6)
    assert levels[0] < 5e-4 and np.all(np.diff(levels) > 0)
    assert levels[-1] == pytest.approx(0.043, abs=5e-4)  # docs/statistics.md quotes it


SCENARIO = Scenario(accuracy=0.8, variant_image_sd=0.5, run_sd=0.15, churn_sd=0.5)
TRANSFORMS = ("rotation", "zoom", "horizontal_flip")


def test_a_planted_effect_becomes_conclusive_only_after_added_seeds():
    """A 3-point effect the finished study (3 seeds) cannot settle: the top-up adds seeds to the
    variants of the open contrasts only, and the effect is found to help at a later look; the
    nulls settle as negligible or stay open, none is called helps or hurts."""
    plan = Plan((1, 2, 3), 2, 3, alpha=0.05, margin=0.02)
    variants = family_variants(TRANSFORMS)
    pairs = [(v, b) for _, _, v, b in family_design(TRANSFORMS)]
    scores = simulate_study(
        SCENARIO,
        {v: 0.03 if v == "rotation" else 0.0 for v in variants},
        plan.maximum_seeds,
        400,
        np.random.default_rng(0),
    )
    state = run_topup(scores, plan, pairs)
    rotation = next(c for c in state.contrasts if c.name == "rotation vs none")
    assert rotation.status == HELPS and rotation.decided_at >= 1
    assert rotation.history[0]["status"] == "open"
    assert rotation.history[-1]["p_value"] <= rotation.history[-1]["level"]
    others = {n: v for n, v in state.verdicts().items() if n != "rotation vs none"}
    assert not {"helps", "hurts"} & set(others.values()), others
    # seeds went to the variants of open contrasts only, whole rounds at a time
    for variant, seeds in state.seeds.items():
        assert seeds == planned_seeds(plan)[: len(seeds)]
        rounds_open = max(
            (c.decided_at if c.decided_at is not None else state.look)
            for c in state.contrasts
            if variant in (c.variant, c.baseline)
        )
        assert len(seeds) == plan.seeds_at(min(rounds_open, state.look))
    # the state survives its JSON form (what each round's file holds)
    again = SequentialState.from_dict(state.as_dict())
    assert again.as_dict() == state.as_dict()


def test_the_look_statistics_are_the_study_models_on_the_open_variants():
    """At the first look of a study of 3 variants the open contrasts' p-values are those of the
    one model of all runs (augablate.analysis.contrasts' statistics)."""
    from augablate.inference import StudyModel

    plan = Plan((1, 2, 3), 2, 1, alpha=0.05, margin=0.02)
    scores = simulate_study(
        SCENARIO, {"none": 0, "rotation": 0.01, "zoom": 0}, 3, 200, np.random.default_rng(5)
    )
    state = SequentialState.start(plan, [("rotation", "none"), ("zoom", "none")])
    state.look_at(scores)
    model = StudyModel.fit(np.stack([scores[v] for v in ("rotation", "none", "zoom")]))
    expected = model.contrast(np.array([1.0, -1.0, 0.0]))
    row = state.contrasts[0].history[0]
    assert row["p_value"] == pytest.approx(expected.p_value(), rel=1e-12)
    assert row["p_equivalence"] == pytest.approx(expected.equivalence_p_value(0.02), rel=1e-12)
    assert row["difference"] == pytest.approx(
        (scores["rotation"] - scores["none"]).mean(), abs=1e-12
    )


# A method exactly at the nominal family-wise rate exceeds this many false families of
# STUDIES with chance below 1e-4 (binomial); the naive repeated test must exceed it.
STUDIES = 200
BOUND = int(stats.binom.isf(1e-4, STUDIES, 0.05))
NULL = Scenario(accuracy=0.75, variant_image_sd=0.3, run_sd=0.25, churn_sd=0.5)


def familywise_false(boundary: str, seed: int) -> int:
    """Null studies of one transform (none, rotation, all, all minus rotation: a family of 2)
    from 3 seeds with 8 rounds of 1 (9 looks): how many make a false difference claim."""
    rng = np.random.default_rng(seed)
    plan = Plan((1, 2, 3), 1, 8, alpha=0.05, margin=0.002, boundary=boundary)
    false = 0
    for _ in range(STUDIES):
        found = simulate_topup(NULL, ("rotation",), plan, 40, rng)
        false += any(v in ("helps", "hurts") for v in found["verdicts"].values())
    return false


@pytest.mark.slow
def test_null_studies_keep_the_familywise_rate_and_the_naive_test_does_not():
    """Small-replicate calibration that can fail: a seed-dominated null scenario (seeds are the
    information the boundaries count) looked at 9 times: the sequential procedure stays within
    the binomial bound of a 5% family-wise rate; every look at the fixed-sample level (looking
    without spending) exceeds it."""
    assert familywise_false("obrien-fleming", 11) <= BOUND
    assert familywise_false("fixed", 12) > BOUND


def test_a_round_the_budget_cannot_pay_for_ends_the_procedure():
    """decide_round: the open contrasts' variants get the plan's next seeds when the budget
    allows the whole round, else nothing is added and the reason names the budget; the
    budget in hours is turned into trainings by the time per training."""
    from augablate.sequential import decide_round
    from augablate.topup import budget_trainings

    plan = Plan((1, 2, 3), 2, 3, alpha=0.05, margin=0.02)
    scores = simulate_study(
        SCENARIO, {"none": 0, "rotation": 0, "zoom": 0}, 3, 200, np.random.default_rng(5)
    )
    state = SequentialState.start(plan, [("rotation", "none"), ("zoom", "none")])
    state.look_at(scores)
    assert [c.status for c in state.contrasts] == ["open", "open"]
    short = decide_round(state, 5)
    assert short["variants"] == [] and "needs 6 trainings" in short["reason"]
    assert state.seeds["none"] == [1, 2, 3]
    paid = decide_round(state, 6)
    assert paid == {
        "variants": ["rotation", "none", "zoom"],
        "seeds": [4, 5],
        "trainings": 6,
        "reason": "",
    }
    assert state.seeds["zoom"] == [1, 2, 3, 4, 5]
    config = {"topup": {"max_trainings": 40, "max_hours": 1.0}}
    assert budget_trainings(config, 120.0) == 30  # 1 hour of 2-minute trainings
    assert budget_trainings(config, 60.0) == 40
    assert budget_trainings({"topup": {"max_trainings": None, "max_hours": None}}, 60.0) == float(
        "inf"
    )


def test_the_docs_quote_the_sequential_calibration_json():
    import json

    from conftest import REPO

    from augablate.sequential_simulate import calibration_markdown

    found = json.loads((REPO / "benchmarks" / "sequential_calibration.json").read_text())
    assert calibration_markdown(found) in (REPO / "docs" / "statistics.md").read_text()
    for scenario in found["scenarios"].values():  # the null stays within the nominal rate
        assert scenario["null"]["familywise_false_positive_rate"] <= 0.05
