"""The sequential top-up of a factorial study: rounds add seeds to every design point while a
primary effect is open, each look is the factorial analysis' one model of all runs at the seeds
so far (augablate.factorial.effects_table, checked independently), tested against the
alpha-spending boundaries with group-sequential Holm over the main effects; a small simulated
null calibration; and `snakemake ... until_conclusive` on a 2^(3-1) design at smoke scale."""

import json
import math
import re

import numpy as np
import pytest
from scipy import stats

from augablate.design import build_design
from augablate.factorial import effects_table, primary_questions
from augablate.sequential import (
    HELPS,
    HURTS,
    INCONCLUSIVE,
    NEGLIGIBLE,
    OPEN,
    Plan,
    SequentialState,
    decide_round,
    nominal_levels,
)
from augablate.sequential_simulate import run_topup, simulate_factorial_topup
from augablate.simulate import DEFAULT_TRANSFORMS, Scenario, simulate_design

#: A 2^(4-1) design of resolution IV over four of the default transforms (8 design points).
DESIGN = build_design(
    ["rotation", "width_shift", "zoom", "horizontal_flip"], generators="a b c abc"
)
POINTS = DESIGN.variants(DEFAULT_TRANSFORMS)
#: Seed-dominated runs (a run's luck is most of a main effect's uncertainty): seeds are the
#: information the boundaries count, so added seeds settle what the first look cannot.
SEEDY = Scenario(accuracy=0.8, image_sd=1.5, variant_image_sd=0.1, run_sd=0.3, churn_sd=0.5)


def questions():
    return primary_questions(DESIGN, DEFAULT_TRANSFORMS)


def topped_up(planted, plan, images=200, seed=0):
    scores = simulate_design(
        SEEDY, DESIGN, plan.maximum_seeds, images, np.random.default_rng(seed), planted
    )
    state = run_topup(dict(zip(POINTS, scores, strict=True)), plan, questions=questions())
    return state, scores


def test_the_primary_questions_are_the_main_effects_with_their_weights():
    found = primary_questions(DESIGN, DEFAULT_TRANSFORMS)
    assert [q.name for q in found] == list(DESIGN.factors)
    assert {q.kind for q in found} == {"main effect"}
    rotation = found[0]
    assert rotation.variants == POINTS  # every point informs every main effect
    column = DESIGN.matrix[:, 0]
    assert [rotation.weights[p] for p in POINTS] == pytest.approx(column / 4)
    with_pairs = primary_questions(DESIGN, DEFAULT_TRANSFORMS, interactions_primary=True)
    assert len(with_pairs) == 4 + 3  # 6 two-factor interactions in 3 aliased chains
    assert {q.kind for q in with_pairs[4:]} == {"interaction"}


def test_a_planted_main_effect_settles_once_its_information_is_enough():
    """A 3-point main effect of rotation that 2 seeds per point cannot settle at the first look
    (whose boundary spends almost nothing): rounds add seeds to every point, and it is found to
    help at a later look; every look's statistics are effects_table's on the seeds so far."""
    plan = Plan((1, 2), 2, 3, alpha=0.05, margin=0.01)
    state, scores = topped_up({"rotation": 0.03}, plan)
    rotation = state.questions[0]
    assert rotation.status == HELPS and rotation.decided_at >= 1
    assert rotation.history[0]["status"] == OPEN
    last = rotation.history[-1]
    assert last["p_value"] <= last["level"]
    # none of the null main effects is called an effect
    assert not {HELPS, HURTS} & {q.status for q in state.questions[1:]}
    # the design stays balanced: every point has every round's seeds
    assert {tuple(seeds) for seeds in state.seeds.values()} == {
        tuple(range(1, plan.seeds_at(state.look) + 1))
    }
    # independently: effects_table (the fixed-sample analysis) on the seeds of each look
    for row in rotation.history:
        table = effects_table(scores[:, : row["seeds"]], DESIGN, margin=0.01).set_index("effect")
        assert row["difference"] == pytest.approx(table.loc["rotation", "difference"], abs=1e-12)
        assert row["p_value"] == pytest.approx(table.loc["rotation", "p_value"], rel=1e-9)
        assert row["p_equivalence"] == pytest.approx(
            table.loc["rotation", "p_equivalence"], rel=1e-9
        )
        # no difference claim was made before its own: the boundary of alpha / 4
        assert row["level"] == pytest.approx(
            nominal_levels(plan.fractions(row["look"]), 0.05 / 4)[-1], rel=1e-9
        )
    # the state survives its JSON form (what each round's file holds)
    saved = json.dumps(state.as_dict())
    again = SequentialState.from_dict(json.loads(saved))
    assert json.dumps(again.as_dict()) == saved
    assert again.noun == "effect"


def test_null_effects_stay_open_or_become_negligible():
    """No effect anywhere: at a margin the design reaches, the effects settle as negligible at
    some look; at a margin out of its reach they stay open to the plan's end (inconclusive),
    and every round has added seeds to every point. Neither is ever called helps or hurts."""
    reachable = Plan((1, 2), 2, 3, alpha=0.05, margin=0.04)
    state, _ = topped_up({}, reachable, seed=3)
    assert set(state.verdicts().values()) == {NEGLIGIBLE}
    unreachable = Plan((1, 2), 2, 2, alpha=0.05, margin=0.0005)
    state, _ = topped_up({}, unreachable, seed=3)
    assert set(state.verdicts().values()) == {INCONCLUSIVE}
    assert state.look == 2 and all(len(s) == 6 for s in state.seeds.values())


def test_an_effect_settled_passes_its_level_to_the_others():
    """Group-sequential Holm over the main effects: until rotation's claim is made the other
    effects' boundaries are those of alpha / 4, from the look at which it is made on (Holm's
    step within that look, then every later one) those of alpha / 3; the equivalence family,
    in which no claim is made, stays at alpha / 4."""
    plan = Plan((1, 2), 2, 3, alpha=0.05, margin=0.0005)
    state, _ = topped_up({"rotation": 0.10}, plan, seed=1)
    rotation = state.questions[0]
    assert rotation.status == HELPS and rotation.decided_at < state.look
    assert state.made == {"difference": ["rotation"], "equivalence": []}
    for question in state.questions[1:]:
        assert question.status == OPEN and len(question.history) == state.look + 1
        for row in question.history:
            fractions = plan.fractions(row["look"])
            remaining = 3 if row["look"] >= rotation.decided_at else 4
            assert row["level"] == pytest.approx(nominal_levels(fractions, 0.05 / remaining)[-1])
            assert row["level_equivalence"] == pytest.approx(
                nominal_levels(fractions, 0.05 / 4, sides=1)[-1]
            )


def test_a_round_adds_every_design_point_and_the_budget_counts_the_whole_round():
    plan = Plan((1, 2), 2, 3, alpha=0.05, margin=0.0005)
    scores = simulate_design(SEEDY, DESIGN, 2, 100, np.random.default_rng(2))
    state = SequentialState.of(plan, questions())
    state.look_at(dict(zip(POINTS, scores, strict=True)))
    assert all(q.status == OPEN for q in state.questions)
    short = decide_round(state, 15)  # 8 points x 2 seeds = 16 trainings
    assert short["variants"] == [] and short["trainings"] == 0
    assert short["reason"] == "the next round needs 16 trainings and the budget allows 15 more"
    assert all(seeds == [1, 2] for seeds in state.seeds.values())
    paid = decide_round(state, 16)
    assert paid == {"variants": POINTS, "seeds": [3, 4], "trainings": 16, "reason": ""}
    assert all(seeds == [1, 2, 3, 4] for seeds in state.seeds.values())


def test_factorial_rounds_are_trained_in_the_studys_groups_and_reported_as_effects():
    """A factorial round's jobs are the study's groups of design points (named like its
    jobs); the report's top-up section speaks of effects and design points."""
    from augablate.jobs import training_jobs
    from augablate.topup import report_lines, topup_jobs

    config = {
        "variants": POINTS,
        "train": {"seeds": [1, 2]},
        "design": {"type": "factorial"},
        "resources": {"variants_per_job": 4, "seeds_per_job": 2},
    }
    plan = Plan((1, 2), 2, 1, alpha=0.05, margin=0.0005)
    scores = simulate_design(SEEDY, DESIGN, 2, 100, np.random.default_rng(2))
    state = SequentialState.of(plan, questions())
    state.look_at(dict(zip(POINTS, scores, strict=True)))
    added = decide_round(state, math.inf)
    rows = [{"effect": q.name, "kind": q.kind, **q.history[-1]} for q in state.questions]
    record = {
        "round": 0,
        "look": rows,
        "added": added,
        "trainings_added": 16,
        "reason": "",
        "finished": False,
        "state": state.as_dict(),
    }
    study = [name.split("_")[0] for name in training_jobs(config)]
    jobs = topup_jobs(config, [record])
    assert [name.split("_")[0] for name in jobs] == study
    assert all(name.endswith("_seeds-3-4") for name in jobs)
    assert sorted(run for job in jobs.values() for run in job.runs()) == sorted(
        (p, s) for p in POINTS for s in (3, 4)
    )
    text = "\n".join(report_lines([record]))
    assert "seeds for every design point, while any primary effect is still inconclusive" in text
    assert "each look tests both claims of every open effect" in text
    assert "2 seeds per design point" in text
    assert "Added seeds 3, 4 for all 8 design points (16 trainings, 16 added in all)." in text
    assert "Still open: `rotation` (difference" in text


def test_a_topped_up_main_effect_is_not_worded_with_a_fixed_sample_p_value():
    """The report's main-effects table and sentences for a topped-up study: the Holm column
    empty, the sentence naming the alpha-spending boundaries."""
    import pandas as pd

    from augablate.report import factorial_lines

    scores = simulate_design(SEEDY, DESIGN, 4, 100, np.random.default_rng(4), {"rotation": 0.1})
    table = effects_table(scores, DESIGN, margin=0.03)
    fixed = "\n".join(factorial_lines(table, DESIGN.how, 8, 4))
    assert "Holm-corrected together" in fixed and "Holm-adjusted p" in fixed
    primary = table["primary"].astype(bool)
    topped = table.copy()
    topped.loc[primary, ["p_holm", "p_equivalence_holm"]] = float("nan")
    topped.loc[primary, "verdict"] = ["helps", "negligible", "inconclusive", "negligible"]
    text = "\n".join(factorial_lines(pd.DataFrame(topped), DESIGN.how, 8, 4))
    assert "Holm-adjusted" not in text and "Holm-corrected together" not in text
    assert "group-sequential Holm" in text
    assert "decided at the top-up's alpha-spending boundaries): **helps**" in text
    assert "not settled at the top-up's alpha-spending boundaries): **inconclusive" in text


# A procedure whose family-wise rate is at most 5% exceeds BOUND false families of STUDIES
# with chance below 1/1000 (binomial tail): the test fails falsely less than once in 1000.
STUDIES = 150
BOUND = int(stats.binom.isf(1e-3, STUDIES, 0.05))


def test_null_factorial_topups_keep_the_familywise_rate():
    """Small calibration: null factorial studies in the seed-dominated scenario (where seeds
    are the information the boundaries count, as they assume), 2 seeds and 3 rounds of 1 (4
    looks): false helps / hurts verdicts over the 4 main effects in at most BOUND studies."""
    rng = np.random.default_rng(20261201)
    plan = Plan((1, 2), 1, 3, alpha=0.05, margin=0.0005)
    false = 0
    for _ in range(STUDIES):
        found = simulate_factorial_topup(SEEDY, DESIGN, plan, 30, rng)
        false += any(v in (HELPS, HURTS) for v in found["verdicts"].values())
    assert false <= BOUND, (false, BOUND)


def test_the_docs_quote_the_factorial_calibration_json():
    """docs/statistics.md's factorial top-up table is the JSON's, and under no effect the
    family-wise rate is within the nominal 5% up to its Monte Carlo error in every scenario."""
    from conftest import REPO

    from augablate.sequential_simulate import factorial_calibration_markdown

    found = json.loads((REPO / "benchmarks" / "sequential_calibration.json").read_text())
    factorial = found["factorial"]
    page = (REPO / "docs" / "statistics.md").read_text()
    assert factorial_calibration_markdown(factorial) in page
    assert factorial["command"] in page
    for scenario in factorial["scenarios"].values():
        assert scenario["null"]["familywise_false_positive_rate_ci"][0] <= 0.05
    # the paragraph's numbers are the JSON's
    digits = factorial["scenarios"]["like digits (image effects per transform)"]
    seedy = factorial["scenarios"]["synthetic: seed-dominated"]
    words = " ".join(page.split())
    for quoted in (
        f"{100 * digits['null']['familywise_false_positive_rate']:.1f}% like digits and "
        f"{100 * seedy['null']['familywise_false_positive_rate']:.1f}% seed-dominated",
        f"gives {100 * digits['null_naive_fixed_level']['familywise_false_positive_rate']:.1f}% "
        f"and {100 * seedy['null_naive_fixed_level']['familywise_false_positive_rate']:.1f}%",
        f"helps in {100 * digits['planted']['found_at_first_look']['rate']:.1f}% of studies",
        f"adds {digits['null']['added_trainings_mean']:.1f} trainings on average under the null "
        f"and {digits['planted']['added_trainings_mean']:.1f} with the planted effect",
        f"found by the end in {100 * seedy['planted']['found_by_the_end']['rate']:.1f}%",
        f"find it in {100 * seedy['planted']['fixed_design_found']['rate']:.1f}% (the whole "
        f"plan's 128 in {100 * seedy['planted']['whole_plan_found']['rate']:.1f}%), with "
        f"{seedy['planted']['added_trainings_mean']:.1f} trainings added",
        f"negligible in {100 * seedy['planted']['called_negligible_at_the_margin']['rate']:.1f}%",
        f"({factorial['seconds']:.0f} s, {factorial['cpu_seconds']:.0f} s of it on the CPU",
    ):
        assert quoted in words, quoted


@pytest.mark.slow
def test_until_conclusive_tops_up_every_design_point_of_a_factorial_study(tmp_path):
    """A 2^(3-1) design (4 points x 2 seeds in 2 jobs) at smoke scale, one planned round of 2
    seeds with a budget of exactly one round: round 0 leaves the effects open (its boundary
    spends almost nothing), the round trains seeds 3 and 4 of every point in the study's groups,
    round 1 ends the plan, the tables and report carry the procedure's verdicts, nothing
    finished is retrained and a dry run afterwards schedules nothing."""
    import pandas as pd
    import yaml
    from conftest import REPO, job_stats, run_snakemake

    study = tmp_path / "factorial-topup.yaml"
    study.write_text(
        yaml.safe_dump(
            {
                "design": {
                    "type": "factorial",
                    "transforms": ["rotation", "zoom", "horizontal_flip"],
                    "generators": "a b ab",
                },
                "resources": {"variants_per_job": 2, "seeds_per_job": 2},
                "topup": {"rounds": 1, "seeds_per_round": 2, "max_trainings": 8},
            }
        )
    )
    smoke = str(REPO / "config" / "smoke.yaml")

    def snakemake(*args):
        result = run_snakemake(
            tmp_path, *args, "--cores", "2", "--configfile", smoke, str(study), timeout=900
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        return result

    done = snakemake("until_conclusive")
    first = json.loads((tmp_path / "results/topup/round-0.json").read_text())
    points = ["horizontal_flip", "zoom", "rotation", "rotation+zoom+horizontal_flip"]
    assert set(first["verdicts"]) == {"rotation", "zoom", "horizontal_flip"}
    assert [row["effect"] for row in first["look"]] == ["rotation", "zoom", "horizontal_flip"]
    assert first["added"] == {"variants": points, "seeds": [3, 4], "trainings": 8, "reason": ""}
    trained = re.findall(r"wildcards: job=(\S+)", done.stdout + done.stderr)  # rule train's
    assert sorted(trained) == sorted(
        f"{group}_seeds-{seeds}"
        for group in ("horizontal_flip-to-zoom", "rotation-to-rotation+zoom+horizontal_flip")
        for seeds in ("1-2", "3-4")
    )  # the round's jobs are the study's groups, each trained once
    last = json.loads((tmp_path / "results/topup/round-1.json").read_text())
    assert last["finished"] and last["trainings_added"] == 8
    assert last["reason"] == "the plan's last look (1 round) is done"
    assert {row["seeds"] for row in last["look"]} == {4}
    runs = pd.read_csv(tmp_path / "results/tables/runs.csv")
    assert runs.groupby("variant")["seed"].apply(sorted).to_dict() == {
        point: [1, 2, 3, 4] for point in points
    }
    effects = pd.read_csv(tmp_path / "results/tables/effects.csv").set_index("effect")
    main = effects[effects["primary"]]
    assert main["verdict"].to_dict() == last["verdicts"]
    assert main["seeds"].eq(4).all() and main["p_holm"].isna().all()
    for row in last["look"]:  # the last look is the table's model of all 16 runs
        assert row["difference"] == pytest.approx(main.loc[row["effect"], "difference"])
        assert row["p_value"] == pytest.approx(main.loc[row["effect"], "p_value"])
    report = (tmp_path / "results/report.md").read_text()
    assert "## Top-up: seeds where the answer was open" in report
    assert "Added seeds 3, 4 for all 4 design points (8 trainings, 8 added in all)." in report
    assert "4 design points x 4 seeds = 16 trainings" in report
    assert "Holm-adjusted" not in report.split("### Two-factor")[0]
    # done: a dry run schedules nothing, with the top-up's target or the default one
    for target in ([], ["until_conclusive"]):
        again = snakemake("-n", *target)
        assert job_stats(again.stdout) == {}, again.stdout[-2000:]
