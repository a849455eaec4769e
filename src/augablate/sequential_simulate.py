"""Simulated top-ups: the sequential procedure of :mod:`augablate.sequential` run on simulated
studies (:func:`augablate.simulate.simulate_study`), for its calibration without training.

A simulated study draws every variant's runs for the plan's maximum of seeds at once (a run
depends on its variant, seed and the images only, so drawing a seed that the procedure never
asks for changes nothing); the procedure then sees, at each look, only the seeds it has added
so far, and counts the trainings it asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from augablate.sequential import Plan, Question, SequentialState
from augablate.simulate import (
    DEFAULT_TRANSFORMS,
    Scenario,
    family_design,
    family_variants,
    simulate_design,
    simulate_study,
)

if TYPE_CHECKING:
    from augablate.design import Design


def planned_seeds(plan: Plan) -> list[int]:
    """Every seed the plan can use, in order: the study's, then each round's."""
    rounds = [seed for r in range(1, plan.rounds + 1) for seed in plan.round_seeds(r)]
    return list(plan.initial_seeds) + rounds


def run_topup(
    scores: Mapping[str, np.ndarray],
    plan: Plan,
    pairs: Sequence[tuple[str, str]] = (),
    intervals: bool = False,
    questions: Sequence[Question] = (),
) -> SequentialState:
    """The procedure on ``scores`` (variant -> [planned seeds, images], rows in the order of
    :func:`planned_seeds`): looks until every question stopped or the plan ended. The primary
    family: the contrasts ``pairs`` (variant, baseline), or ``questions`` (a factorial
    design's effects, :func:`augablate.factorial.primary_questions`)."""
    row = {seed: index for index, seed in enumerate(planned_seeds(plan))}
    state = SequentialState.of(plan, [*(Question.contrast(v, b) for v, b in pairs), *questions])
    while True:
        tables = {v: scores[v][[row[s] for s in state.seeds[v]]] for v in state.open_variants()}
        state.look_at(tables, intervals)
        variants, seeds = state.next_round()
        if not variants:
            return state
        state.add(variants, seeds)


def simulate_topup(
    scenario: Scenario,
    transforms: Sequence[str],
    plan: Plan,
    images: int,
    rng: np.random.Generator,
    planted: Mapping[str, float] | None = None,
) -> dict:
    """One simulated study of the one-at-a-time design (none, each transform, all, all minus
    each) with ``planted`` effects (accuracy units per variant), topped up by ``plan``: each
    primary contrast's verdict and the look it stopped at, and the trainings used."""
    variants = family_variants(transforms)
    planted = planted or {}
    scores = simulate_study(
        scenario, {v: planted.get(v, 0.0) for v in variants}, plan.maximum_seeds, images, rng
    )
    pairs = [(variant, baseline) for _, _, variant, baseline in family_design(transforms)]
    state = run_topup(scores, plan, pairs)
    initial = len(variants) * len(plan.initial_seeds)
    added = sum(len(seeds) - len(plan.initial_seeds) for seeds in state.seeds.values())
    return {
        "verdicts": state.verdicts(),
        "stopped_at": {c.name: c.decided_at for c in state.contrasts},
        "differences": {c.name: c.history[-1]["difference"] for c in state.contrasts},
        "looks": state.look + 1,
        "initial_trainings": initial,
        "added_trainings": added,
        # the same rounds with every variant topped up, and the plan's maximum for everything
        "added_to_everything": len(variants) * state.look * plan.seeds_per_round,
        "full_plan_added": len(variants) * plan.rounds * plan.seeds_per_round,
    }


def simulate_factorial_topup(
    scenario: Scenario,
    design: Design,
    plan: Plan,
    images: int,
    rng: np.random.Generator,
    planted: Mapping[str, float] | None = None,
    interactions_primary: bool = False,
) -> dict:
    """One simulated factorial study (:func:`augablate.simulate.simulate_design`, ``planted``
    main effects and interactions in accuracy units) topped up by ``plan``: every round adds
    its seeds to every design point while a primary effect is open. Each primary effect's
    verdict and the look it stopped at, the trainings used, and beside them the fixed design's
    verdicts from the same runs (:func:`augablate.factorial.effects_table`, Holm at one look)
    at the study's seeds and at the plan's maximum for every point."""
    from augablate.factorial import effects_table, primary_questions

    points = design.variants(DEFAULT_TRANSFORMS)
    scores = simulate_design(scenario, design, plan.maximum_seeds, images, rng, planted)
    state = run_topup(
        dict(zip(points, scores, strict=True)),
        plan,
        questions=primary_questions(design, DEFAULT_TRANSFORMS, interactions_primary),
    )
    fixed = {}
    for name, seeds in (("initial", len(plan.initial_seeds)), ("maximum", plan.maximum_seeds)):
        table = effects_table(
            scores[:, :seeds],
            design,
            alpha=plan.alpha,
            margin=plan.margin,
            interactions_primary=interactions_primary,
            detectable=False,
        )
        primary = table[table["primary"].astype(bool)]
        fixed[name] = dict(zip(primary["effect"], primary["verdict"], strict=True))
    seeds_used = len(state.seeds[points[0]])
    return {
        "verdicts": state.verdicts(),
        "stopped_at": {q.name: q.decided_at for q in state.questions},
        "differences": {q.name: q.history[-1]["difference"] for q in state.questions},
        "looks": state.look + 1,
        "initial_trainings": design.runs * len(plan.initial_seeds),
        "added_trainings": design.runs * (seeds_used - len(plan.initial_seeds)),
        "added_to_everything": design.runs * (seeds_used - len(plan.initial_seeds)),
        "full_plan_added": design.runs * plan.rounds * plan.seeds_per_round,
        "fixed_initial_verdicts": fixed["initial"],
        "fixed_maximum_verdicts": fixed["maximum"],
    }


def calibration_markdown(results: Mapping) -> str:
    """The top-up's calibration table of docs/statistics.md from
    ``benchmarks/sequential_calibration.json`` (tests/test_sequential.py checks the page holds
    it): per scenario, the false-positive rates under the null with their 95% Monte Carlo
    intervals (the procedure and, beside it, the naive repeated test), the false equivalence
    rate at the margin, how often a planted 3-point effect is found at the first look and by the
    end, and the trainings added against topping up every variant."""

    header = [
        "scenario",
        "per test (%)",
        "worst contrast (%)",
        "family-wise (%)",
        "naive repeated test: family-wise (%)",
        "false equivalence at the margin (%)",
        "3-point effect found: first look / by the end (%)",
        "trainings added: top-up / every variant, same rounds / whole plan",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, found in results["scenarios"].items():
        null, planted = found["null"], found["planted"]
        rows.append(
            "| "
            + " | ".join(
                [
                    name,
                    _rate(null, "false_positive_rate_per_test"),
                    _rate(null, "false_positive_rate_worst_contrast"),
                    _rate(null, "familywise_false_positive_rate"),
                    _rate(found["null_naive_fixed_level"], "familywise_false_positive_rate"),
                    _rate(found["at_margin"], "false_equivalence_rate"),
                    f"{_rate(planted, 'found_at_first_look')} / {_rate(planted, 'found_by_the_end')}",
                    f"{null['added_trainings_mean']:.1f} / {null['added_to_everything_mean']:.1f}"
                    f" / {null['full_plan_added']:.0f} (null); "
                    f"{planted['added_trainings_mean']:.1f} / "
                    f"{planted['added_to_everything_mean']:.1f} / "
                    f"{planted['full_plan_added']:.0f} (planted)",
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def factorial_calibration_markdown(results: Mapping) -> str:
    """The factorial top-up's calibration table of docs/statistics.md from the ``factorial`` key
    of ``benchmarks/sequential_calibration.json`` (tests/test_factorial_topup.py checks the page
    holds it): per scenario, the null studies' false-positive rates with their 95% Monte Carlo
    intervals beside the naive repeated test's and the fixed design's, and a planted 3-point
    main effect's power against the fixed design's and the whole plan's, with the trainings
    each used."""

    def share(found: Mapping) -> str:
        low, high = found["ci"]
        return f"{100 * found['rate']:.1f} ({100 * low:.1f}-{100 * high:.1f})"

    header = [
        "scenario",
        "per test (%)",
        "worst effect (%)",
        "family-wise (%)",
        "naive repeated test: family-wise (%)",
        "fixed design, 2 seeds: family-wise (%)",
        "3-point effect found: first look / by the end (%)",
        "found by the fixed design / the whole plan (%)",
        "called negligible at the margin (%)",
        "trainings added, mean: null / planted (fixed design 32; whole plan +96)",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, found in results["scenarios"].items():
        null, planted = found["null"], found["planted"]
        rows.append(
            "| "
            + " | ".join(
                [
                    name,
                    _rate(null, "false_positive_rate_per_test"),
                    _rate(null, "false_positive_rate_worst_contrast"),
                    _rate(null, "familywise_false_positive_rate"),
                    _rate(found["null_naive_fixed_level"], "familywise_false_positive_rate"),
                    share(null["fixed_design_familywise"]),
                    f"{share(planted['found_at_first_look'])} / "
                    f"{share(planted['found_by_the_end'])}",
                    f"{share(planted['fixed_design_found'])} / "
                    f"{share(planted['whole_plan_found'])}",
                    share(planted["called_negligible_at_the_margin"]),
                    f"{null['added_trainings_mean']:.1f} / {planted['added_trainings_mean']:.1f}",
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def _rate(found: Mapping, key: str) -> str:
    """A simulated rate in percent with its 95% Monte Carlo interval."""
    low, high = found[f"{key}_ci"]
    return f"{100 * found[key]:.1f} ({100 * max(low, 0):.1f}-{100 * high:.1f})"
