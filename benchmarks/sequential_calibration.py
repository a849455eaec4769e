"""Calibration of the sequential top-up (augablate.sequential) on simulated studies.

Whole studies of the default design (none, 6 transforms alone, all, all minus each: 12 primary
contrasts) start with 3 seeds and are topped up by the plan of the workflow's defaults (2 seeds
a round, at most 3 rounds: at most 9 seeds), seeds going only to the variants of contrasts still
open, each look tested against the Lan-DeMets O'Brien-Fleming-type boundaries with
group-sequential Holm. Per scenario (the "like digits" one fitted to the default study, and the
synthetic seed-dominated one, both from ``benchmarks/calibration.json``):

- null studies (no effect anywhere): the false-positive rate of a difference claim (helps /
  hurts) at any look, per contrast (mean over the 12 and the worst one) and family-wise, each
  with a 95% Monte Carlo interval; beside it the naive procedure (every look at the
  fixed-sample level) on other simulated studies, which the spending is there to prevent;
- studies with zoom alone exactly at the equivalence margin: how often it is wrongly called
  "no effect larger than" the margin (the equivalence claim's error);
- studies with rotation alone planted at +3 points: how often it is found to help at the first
  look (the finished study) and by the end, and the trainings the top-up added against adding
  the same rounds' seeds to every variant and against the whole plan for every variant.

A factorial scenario (``--factorial``: run alone, it updates the JSON's ``factorial`` key):
studies of the 2^(6-2) design of ``config/config.yaml`` (the default study) (16 points, resolution IV) from 2
seeds, topped up by the same kind of plan (2 seeds a round to every design point while a main
effect is open, at most 3 rounds: at most 8 seeds), each look the factorial analysis' one model
of all runs with the same boundaries and group-sequential Holm over the 6 main effects; in the
"like digits" factorial scenario (image effects per transform, ``benchmarks/
factorial_calibration.json``) and the synthetic seed-dominated one. Null studies: per-test and
family-wise false-positive rates (and the naive repeated test's); studies with rotation's main
effect planted at +3 points (the margin): how often it is found, wrongly called negligible, and
the trainings used, against the fixed design's 32 trainings (its verdict from the same runs at 2
seeds) and the whole plan's 128 (at 8 seeds).

    .venv/bin/python benchmarks/sequential_calibration.py --json benchmarks/sequential_calibration.json
    .venv/bin/python benchmarks/sequential_calibration.py --factorial --studies 800 --naive 200 \
        --planted 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy import stats

from augablate.design import build_design
from augablate.sequential import HELPS, HURTS, NEGLIGIBLE, Plan
from augablate.sequential_simulate import simulate_factorial_topup, simulate_topup
from augablate.simulate import DEFAULT_TRANSFORMS, Scenario

HERE = Path(__file__).resolve().parent
ALPHA, MARGIN, EFFECT = 0.05, 0.03, 0.03  # the default study's margin is 3 points
INITIAL_SEEDS, SEEDS_PER_ROUND, ROUNDS = (1, 2, 3), 2, 3
SCENARIOS = ("like digits", "synthetic: seed-dominated")


def plan(boundary: str = "obrien-fleming", initial_seeds=INITIAL_SEEDS) -> Plan:
    return Plan(initial_seeds, SEEDS_PER_ROUND, ROUNDS, ALPHA, MARGIN, boundary)


#: The factorial study of config/config.yaml (the default study): 2^(6-2) of resolution IV from 2 seeds.
FACTORIAL_DESIGN = build_design(DEFAULT_TRANSFORMS, resolution=4)
FACTORIAL_SEEDS = (1, 2)
#: Its scenarios: the one fitted to the default study with each transform's own change of
#: single images (factorial_calibration.json), and the seed-dominated one (calibration.json).
FACTORIAL_SCENARIOS = {
    "like digits (image effects per transform)": (
        "factorial_calibration.json",
        "image effects per transform",
    ),
    "synthetic: seed-dominated": ("calibration.json", "synthetic: seed-dominated"),
}


def clopper_pearson(count: int, total: int) -> list[float]:
    """The exact 95% interval of a binomial proportion."""
    interval = stats.binomtest(count, total).proportion_ci(0.95, method="exact")
    return [float(interval.low), float(interval.high)]


def mean_interval(values: np.ndarray) -> list[float]:
    """Mean +- 1.96 standard errors over studies (a study's 12 contrasts are correlated, so the
    per-contrast rate's error is taken over studies, not over the 12 x studies tests)."""
    mean, error = float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))
    return [mean - 1.96 * error, mean + 1.96 * error]


def scenarios() -> dict[str, tuple[Scenario, int]]:
    """The chosen scenarios of the fixed-sample calibration, with their images."""
    found = json.loads((HERE / "calibration.json").read_text())["scenarios"]
    chosen = {}
    for name in SCENARIOS:
        fields = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in found[name]["scenario"].items()
        }
        chosen[name] = (Scenario(**fields), found[name]["images"])
    return chosen


def null_rates(results: list[dict]) -> dict:
    """False difference claims in null studies: per contrast and family-wise."""
    names = list(results[0]["verdicts"])
    false = np.array([[r["verdicts"][n] in (HELPS, HURTS) for n in names] for r in results])
    per_study = false.mean(axis=1)
    worst = int(false.sum(axis=0).argmax())
    family = int(false.any(axis=1).sum())
    return {
        "studies": len(results),
        "false_positive_rate_per_test": float(per_study.mean()),
        "false_positive_rate_per_test_ci": mean_interval(per_study),
        "worst_contrast": names[worst],
        "false_positive_rate_worst_contrast": float(false[:, worst].mean()),
        "false_positive_rate_worst_contrast_ci": clopper_pearson(
            int(false[:, worst].sum()), len(results)
        ),
        "familywise_false_positive_rate": family / len(results),
        "familywise_false_positive_rate_ci": clopper_pearson(family, len(results)),
        "settled_share": float(
            np.mean([[v != "inconclusive" for v in r["verdicts"].values()] for r in results])
        ),
        **trainings(results),
    }


def trainings(results: list[dict]) -> dict:
    added = np.array([r["added_trainings"] for r in results], float)
    everything = np.array([r["added_to_everything"] for r in results], float)
    full = np.array([r["full_plan_added"] for r in results], float)
    return {
        "initial_trainings": results[0]["initial_trainings"],
        "added_trainings_mean": float(added.mean()),
        "added_to_everything_mean": float(everything.mean()),
        "full_plan_added": float(full[0]),
        "saved_against_everything": float(1 - added.sum() / max(everything.sum(), 1)),
        "saved_against_full_plan": float(1 - added.sum() / full.sum()),
        "looks_mean": float(np.mean([r["looks"] for r in results])),
    }


def run(studies: int, naive: int, planted: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for name, (scenario, images) in scenarios().items():
        started = time.time()

        def simulate(
            count, boundary="obrien-fleming", effects=None, scenario=scenario, images=images
        ):
            return [
                simulate_topup(scenario, DEFAULT_TRANSFORMS, plan(boundary), images, rng, effects)
                for _ in range(count)
            ]

        null = null_rates(simulate(studies))
        fixed = null_rates(simulate(naive, "fixed"))
        margin = simulate(planted, effects={"zoom": MARGIN})
        called = sum(r["verdicts"]["zoom vs none"] == NEGLIGIBLE for r in margin)
        effect = simulate(planted, effects={"rotation": EFFECT})
        first = sum(
            r["verdicts"]["rotation vs none"] == HELPS and r["stopped_at"]["rotation vs none"] == 0
            for r in effect
        )
        found = sum(r["verdicts"]["rotation vs none"] == HELPS for r in effect)
        out[name] = {
            "scenario": scenario.as_dict(),
            "images": images,
            "null": null,
            "null_naive_fixed_level": fixed,
            "at_margin": {
                "studies": len(margin),
                "false_equivalence_rate": called / len(margin),
                "false_equivalence_rate_ci": clopper_pearson(called, len(margin)),
            },
            "planted": {
                "studies": len(effect),
                "effect_points": 100 * EFFECT,
                "found_at_first_look": first / len(effect),
                "found_at_first_look_ci": clopper_pearson(first, len(effect)),
                "found_by_the_end": found / len(effect),
                "found_by_the_end_ci": clopper_pearson(found, len(effect)),
                "wrong_direction": sum(r["verdicts"]["rotation vs none"] == HURTS for r in effect)
                / len(effect),
                **trainings(effect),
            },
            "seconds": time.time() - started,
        }
        print(name, json.dumps(out[name]["null"]), flush=True)
    return out


def share(results: list[dict], test) -> dict:
    """How many of ``results`` pass ``test``, with the 95% Clopper-Pearson interval."""
    count = sum(bool(test(r)) for r in results)
    return {"rate": count / len(results), "ci": clopper_pearson(count, len(results))}


def factorial_run(studies: int, naive: int, planted: int, seed: int) -> dict:
    """The factorial scenario (see the module's docstring): per scenario the null studies'
    false-positive rates beside the naive repeated test's and the fixed design's, and the
    planted studies' power and trainings against the fixed design and the whole plan."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (source, key) in FACTORIAL_SCENARIOS.items():
        started = time.time()
        found = json.loads((HERE / source).read_text())["scenarios"][key]
        fields = {
            field: tuple(value) if isinstance(value, list) else value
            for field, value in found["scenario"].items()
        }
        scenario, images = Scenario(**fields), found["images"]

        def simulate(
            count, boundary="obrien-fleming", effects=None, scenario=scenario, images=images
        ):
            procedure = plan(boundary, FACTORIAL_SEEDS)
            return [
                simulate_factorial_topup(
                    scenario, FACTORIAL_DESIGN, procedure, images, rng, effects
                )
                for _ in range(count)
            ]

        null = simulate(studies)
        naive_null = simulate(naive, "fixed")
        effect = simulate(planted, effects={"rotation": EFFECT})

        def rotation(results, verdict, key="verdicts"):
            return share(results, lambda r: r[key]["rotation"] == verdict)

        out[name] = {
            "scenario": scenario.as_dict(),
            "source": f"benchmarks/{source}: {key}",
            "images": images,
            "null": {
                **null_rates(null),
                # the fixed design's verdicts from the same runs at its 2 seeds
                "fixed_design_familywise": share(
                    null, lambda r: {HELPS, HURTS} & set(r["fixed_initial_verdicts"].values())
                ),
            },
            "null_naive_fixed_level": null_rates(naive_null),
            "planted": {
                "studies": len(effect),
                "effect_points": 100 * EFFECT,
                "found_at_first_look": share(
                    effect,
                    lambda r: (
                        r["verdicts"]["rotation"] == HELPS and r["stopped_at"]["rotation"] == 0
                    ),
                ),
                "found_by_the_end": rotation(effect, HELPS),
                "wrong_direction": rotation(effect, HURTS),
                "called_negligible_at_the_margin": rotation(effect, NEGLIGIBLE),
                "fixed_design_found": rotation(effect, HELPS, "fixed_initial_verdicts"),
                "whole_plan_found": rotation(effect, HELPS, "fixed_maximum_verdicts"),
                **trainings(effect),
            },
            "seconds": time.time() - started,
        }
        print(name, json.dumps(out[name]["null"]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=1000, help="null studies per scenario")
    parser.add_argument("--naive", type=int, default=300, help="null studies, naive procedure")
    parser.add_argument("--planted", type=int, default=400, help="studies per planted case")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--factorial",
        action="store_true",
        help="the factorial scenario only: update the JSON's 'factorial' key",
    )
    parser.add_argument("--json", type=Path, default=HERE / "sequential_calibration.json")
    args = parser.parse_args()
    started = time.time()
    counts = f"--studies {args.studies} --naive {args.naive} --planted {args.planted}"
    machine = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
    }
    previous = json.loads(args.json.read_text()) if args.json.is_file() else {}
    if args.factorial:
        results = factorial_run(args.studies, args.naive, args.planted, args.seed)
        record = {
            **previous,
            "factorial": {
                "command": f"benchmarks/sequential_calibration.py --factorial {counts} "
                f"--seed {args.seed}",
                "design": FACTORIAL_DESIGN.how,
                "design_points": FACTORIAL_DESIGN.runs,
                "plan": {
                    "initial_seeds": list(FACTORIAL_SEEDS),
                    "seeds_per_round": SEEDS_PER_ROUND,
                    "rounds": ROUNDS,
                    "alpha": ALPHA,
                    "margin_points": 100 * MARGIN,
                    "boundary": "Lan-DeMets O'Brien-Fleming-type spending, group-sequential "
                    "Holm over the 6 main effects; every design point gets every round's seeds",
                },
                "scenarios": results,
                "seconds": time.time() - started,
                # the process' own CPU time: the wall time includes the shared machine's load
                "cpu_seconds": time.process_time(),
                **machine,
                "load_average_at_end": os.getloadavg()[0],
            },
        }
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        return
    results = run(args.studies, args.naive, args.planted, args.seed)
    record = {
        "command": f"benchmarks/sequential_calibration.py {counts} --seed {args.seed}",
        "plan": {
            "initial_seeds": list(INITIAL_SEEDS),
            "seeds_per_round": SEEDS_PER_ROUND,
            "rounds": ROUNDS,
            "alpha": ALPHA,
            "margin_points": 100 * MARGIN,
            "boundary": "Lan-DeMets O'Brien-Fleming-type spending, group-sequential Holm",
        },
        "transforms": list(DEFAULT_TRANSFORMS),
        "scenarios": results,
        "seconds": time.time() - started,
        **machine,
        "load_average_at_end": os.getloadavg()[0],
        **({"factorial": previous["factorial"]} if "factorial" in previous else {}),
    }
    args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
