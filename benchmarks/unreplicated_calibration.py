"""Calibration of the one-seed factorial analysis on simulated studies.

A factorial study with one seed per design point (the cats-vs-dogs factorial's first 16
trainings) takes how runs vary from the design's contrasts that only interactions of three or
more transforms share (:class:`augablate.inference.UnreplicatedModel`; 2 of them in the 2^(6-2)
fraction of resolution IV). This measures, on studies of that design simulated with one seed
and analysed by the workflow's own :func:`augablate.factorial.effects_table`:

- null studies: each main effect's and interaction's false-positive rate at 5%, the worst main
  effect's, and the family-wise rate of false verdicts (Holm over the 6 main effects);
- planted studies: rotation's main effect at the MDE the design states (80% power at Holm's
  strictest level, from the scenario's true parts: their means over the null studies), found
  at that level and by Holm's verdict, and zoom's at the equivalence margin (2 points), where
  "no effect larger than the margin" must be said at most 5% of the time.

Two scenarios (:data:`SCENARIOS`): one with the variance parts of the cats-vs-dogs factorial's
seed 1, and one whose runs vary much more (the run part, 2 degrees of freedom, then carries the
test) and unlike (``all``'s 4 times ``none``'s variance). Every rate has its 95%
Clopper-Pearson interval of Monte Carlo error.

    .venv/bin/python benchmarks/unreplicated_calibration.py --studies 2000 --planted 400 \
        --json benchmarks/unreplicated_calibration.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from augablate.design import build_design
from augablate.factorial import effect_weights, effects_table, study_model
from augablate.simulate import DEFAULT_TRANSFORMS, Scenario, rate_interval, simulate_design

ALPHA = 0.05
MARGIN = 0.02  # the cats-vs-dogs factorial's analysis.equivalence_margin (2 points)
IMAGES = 1000
DESIGN = build_design(DEFAULT_TRANSFORMS, resolution=4)
LEVEL = ALPHA / len(DESIGN.factors)
#: About the cats-vs-dogs factorial's seed 1 (77% accurate; a main effect's run part 0.16
#: points, its image part 0.02-0.44, a run mean's per-image noise 0.40): chosen by hand so that
#: simulated studies have parts of that size (0.22, 0.42 and 0.49 points).
LIKE_CATS = Scenario(
    accuracy=0.77,
    image_sd=2.0,
    variant_image_sd=0.1,
    run_sd=0.02,
    churn_sd=0.4,
    transform_image_sd=1.2,
)
SCENARIOS = {
    "like cats vs dogs": LIKE_CATS,
    "runs vary 5 times as much, all's 4x none's variance": dataclasses.replace(
        LIKE_CATS, run_sd=0.1, run_factor_all=4.0
    ),
}


def with_interval(count: int, trials: int) -> dict:
    low, high = rate_interval(count, trials)
    return {"count": int(count), "trials": int(trials), "rate": count / trials, "ci95": [low, high]}


def calibrate(scenario: Scenario, studies: int, planted: int, rng) -> dict:
    weights = effect_weights(DESIGN, "rotation")
    per_effect = np.zeros(13, int)
    family = negligible_at_zero = 0
    parts = []
    for _ in range(studies):
        scores = simulate_design(scenario, DESIGN, 1, IMAGES, rng)
        table = effects_table(scores, DESIGN, margin=MARGIN, detectable=False)
        per_effect += (table["p_value"] < ALPHA).to_numpy()
        family += bool(table["verdict"].isin(["helps", "hurts"]).any())
        negligible_at_zero += table["verdict"].iloc[0] == "negligible"
        estimate = study_model(scores, DESIGN).contrast(weights)
        parts.append((estimate.uncertain_part, estimate.image_part))
    main = per_effect[:6]
    run_part, image_part = np.mean(parts, axis=0)
    stated = dataclasses.replace(estimate, uncertain_part=run_part, image_part=image_part)
    mde = stated.minimum_detectable_effect(LEVEL)
    found = helps = at_margin = 0
    for _ in range(planted):
        planted_effects = {"rotation": mde, "zoom": MARGIN}
        scores = simulate_design(scenario, DESIGN, 1, IMAGES, rng, planted_effects)
        table = effects_table(scores, DESIGN, margin=MARGIN, detectable=False)
        table = table.set_index("effect")
        found += table.loc["rotation", "p_value"] < LEVEL
        helps += table.loc["rotation", "verdict"] == "helps"
        at_margin += table.loc["zoom", "verdict"] == "negligible"
    return {
        "scenario": dataclasses.asdict(scenario),
        "true_parts_of_a_main_effect": {"run": run_part, "image": image_part, "run_df": 2},
        "null": {
            "studies": studies,
            "false_positive_rate_per_test_main": with_interval(int(main.sum()), 6 * studies),
            "false_positive_rate_per_effect_max": with_interval(int(main.max()), studies),
            "interactions_false_positive_rate_per_test": with_interval(
                int(per_effect[6:].sum()), 7 * studies
            ),
            "familywise_false_verdict_rate": with_interval(family, studies),
            "negligible_rate_at_zero": with_interval(negligible_at_zero, studies),
        },
        "planted": {
            "studies": planted,
            "effect": "rotation",
            "mde_points": 100 * mde,
            "power_stated_at_holm_strictest_level": 0.8,
            "power_at_holm_strictest_level_measured": with_interval(int(found), planted),
            "helps_after_holm": with_interval(int(helps), planted),
            "negligible_rate_at_the_margin": with_interval(int(at_margin), planted),
        },
    }


def markdown(results: dict) -> str:
    """The statistics page's table of this calibration (a test regenerates it from the JSON)."""

    def rate(found: dict) -> str:
        low, high = found["ci95"]
        return f"{100 * found['rate']:.1f} ({100 * low:.1f}-{100 * high:.1f})"

    lines = [
        "| scenario | false positives per test, main effects (%) | worst main effect (%) | "
        "interactions (%) | family-wise (%) | power at the MDE: stated / at Holm's strictest "
        "level / helps after Holm (%) | no effect larger than ±2 points, said at a true 0 / "
        "at a true 2 points (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, found in results["scenarios"].items():
        null, planted = found["null"], found["planted"]
        lines.append(
            f"| {name} (MDE {planted['mde_points']:.2f} points) | "
            f"{rate(null['false_positive_rate_per_test_main'])} | "
            f"{rate(null['false_positive_rate_per_effect_max'])} | "
            f"{rate(null['interactions_false_positive_rate_per_test'])} | "
            f"{rate(null['familywise_false_verdict_rate'])} | "
            f"80 / {rate(planted['power_at_holm_strictest_level_measured'])} / "
            f"{rate(planted['helps_after_holm'])} | "
            f"{rate(null['negligible_rate_at_zero'])} / "
            f"{rate(planted['negligible_rate_at_the_margin'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=2000, help="simulated null studies")
    parser.add_argument("--planted", type=int, default=400, help="simulated planted studies")
    parser.add_argument("--seed", type=int, default=20261208)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start, cpu = time.time(), time.process_time()
    results = {
        "command": "benchmarks/unreplicated_calibration.py "
        f"--studies {args.studies} --planted {args.planted} --json {args.json}",
        "design": DESIGN.how,
        "seeds": 1,
        "images": IMAGES,
        "alpha": ALPHA,
        "run_df": len(DESIGN.higher_order_columns()),
        "scenarios": {
            name: calibrate(scenario, args.studies, args.planted, rng)
            for name, scenario in SCENARIOS.items()
        },
    }
    results |= {
        "seconds": time.time() - start,
        "cpu_seconds": time.process_time() - cpu,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg()[0],
        "note": "shared with two background trainings (one thread each)",
    }
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
