"""Which design resolves a transform's effect with fewer trainings: the one-at-a-time design of
the one-at-a-time digits study, the default study until this comparison (14 variants: none,
each of 6 transforms alone, all, all minus each) or the 2^(6-2) fractional factorial of
``config/config.yaml``, the default study since (16 design points)?

The yardstick is the report's: the minimum detectable effect (MDE), the smallest true effect
found with 80% power by the two-sided test at Holm's strictest level of the primary family
(alpha / 12 for the one-at-a-time design's 12 contrasts, alpha / 6 for the factorial's 6 main
effects), computed by the product's own :meth:`augablate.inference.CrossedEstimate.minimum_detectable_effect`
from variance components. Every interval speaks of seeds and validation images together.

Three parts, each in the JSON:

- **analytic**: the variance components of the committed one-at-a-time digits study
  (``docs/one-at-a-time-digits/tables/contrasts.csv``: the pooled run part and the contrasts' image
  part, as the report's power sentence takes them, :func:`augablate.analysis.study_power`)
  carried over to a main effect of the factorial design (:func:`augablate.simulate.main_effect_design`)
  and both designs compared at the same number of trainings: 112 = 14 x 8 = 16 x 7 exactly,
  and the shipped sizes (42 = 14 x 3 against 32 = 16 x 2). A main effect's image part is
  bracketed: the transforms' changes of single images independent per design point (they
  average away over the 16 points) or wholly the transform's own (they do not).
- **simulated**: whole studies of both designs simulated from the "like digits" scenario
  (refitted to the 40-epoch one-at-a-time digits study) and analysed by the product
  (:func:`augablate.simulate.simulate_family`, :func:`augablate.simulate.simulate_factorial`):
  the power measured at each design's stated MDE (from the scenario's own components), which
  checks the analytic MDE.
- **real**: the factorial study run on digits (``--factorial-run``: its working directory,
  32 trainings) against the committed one-at-a-time digits study (42 trainings): the main effects' and
  contrasts' standard errors, CI half-widths and MDEs as the reports give them, the factorial
  scaled to 42 trainings by the square-root rule, and both projected to 112 trainings from
  their own components.

    .venv/bin/python benchmarks/design_efficiency.py --factorial-run /work/runs/digits-factorial \
        --json benchmarks/design_efficiency.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from augablate.analysis import study_power
from augablate.design import build_design
from augablate.factorial import design_scores, effect_weights
from augablate.inference import POOLED, StudyModel, design
from augablate.simulate import (
    DEFAULT_TRANSFORMS,
    expected_components,
    expected_effect_components,
    family_variants,
    fit_scenario,
    main_effect_design,
    rate_interval,
    simulate_factorial,
    simulate_family,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TABLES = REPO / "docs" / "one-at-a-time-digits" / "tables"
ALPHA = 0.05
FACTORIAL = build_design(DEFAULT_TRANSFORMS, resolution=4)  # config/config.yaml's design
VARIANTS = len(family_variants(DEFAULT_TRANSFORMS))  # 14
FACTORIAL_LEVEL = ALPHA / len(FACTORIAL.factors)  # Holm's strictest over 6 main effects
ONE_AT_A_TIME_LEVEL = ALPHA / (2 * len(DEFAULT_TRANSFORMS))  # over 12 contrasts
#: (one-at-a-time seeds, factorial seeds): the exact tie 14 x 8 = 16 x 7 = 112, and the shipped
#: configs, 14 x 3 = 42 against 16 x 2 = 32
SIZES = ((8, 7), (3, 2))
SHARES = {"per design point": 0.0, "per transform": 1.0}


def points(value: float) -> float:
    return 100 * value


def described(estimate, level: float, trainings: int) -> dict:
    """A design's uncertainty in points: SE, the MDE at ``level`` and per training."""
    standard_error = estimate.standard_error
    return {
        "trainings": trainings,
        "seeds": estimate.seeds,
        "run_df": estimate.uncertain_df,
        "level": level,
        "standard_error_points": points(standard_error),
        "standard_error_points_times_sqrt_trainings": points(standard_error * math.sqrt(trainings)),
        "mde_points": points(estimate.minimum_detectable_effect(level)),
    }


def analytic(contrasts: pd.DataFrame) -> dict:
    """Both designs from the one-at-a-time digits study's components (see the module's docstring)."""
    power = study_power(contrasts, ALPHA)  # the report's: medians over the 12 contrasts
    components = (power["seed_variance"], power["image_variance"], power["residual_variance"])
    images = power["images"]
    company = contrasts[contrasts["family"] == "in company"]
    result = {
        "components_of_a_contrast": dict(
            zip(("seed", "image", "residual"), components, strict=True)
        ),
        "images": images,
        "report_mde_points": points(power["detectable"]),
        "sizes": [],
    }
    for seeds, factorial_seeds in SIZES:
        one = design(*components, seeds, images, VARIANTS - 1.0)
        # the in-company contrasts as the product analyses them: each on its own seeds (their
        # variants' runs vary more than the others'), the median of their MDEs
        own = [
            design(
                row["seed_variance"], row["image_variance"], row["residual_variance"], seeds, images
            ).minimum_detectable_effect(ONE_AT_A_TIME_LEVEL)
            for _, row in company.iterrows()
        ]
        size = {
            "one_at_a_time": {
                **described(one, ONE_AT_A_TIME_LEVEL, VARIANTS * seeds),
                "in_company_own_seeds_mde_points_median": points(float(np.median(own))),
            },
            "factorial": {},
        }
        for name, share in SHARES.items():
            main = main_effect_design(components, FACTORIAL.runs, factorial_seeds, images, share)
            trainings = FACTORIAL.runs * factorial_seeds
            size["factorial"][f"image effects {name}"] = {
                **described(main, FACTORIAL_LEVEL, trainings),
                "mde_points_at_one_at_a_time_level": points(
                    main.minimum_detectable_effect(ONE_AT_A_TIME_LEVEL)
                ),
            }
        result["sizes"].append(size)
    return result


def rate(count: int, trials: int) -> dict:
    low, high = rate_interval(count, trials)
    return {"rate": count / trials, "count": int(count), "trials": trials, "ci95": [low, high]}


def simulated(studies: int, rng) -> dict:
    """Power measured at each design's stated MDE, the designs at their shipped sizes (14 x 3,
    16 x 2), on the scenarios of benchmarks/factorial_calibration.py (the "like digits" fit of
    the one-at-a-time digits study with image effects per design point and per transform): the MDE each
    design states from the scenario's own components, and how often the product's analysis
    finds an effect of that size. The effect is planted as a loss (rotation hurts): the
    baseline at 97.7% has no room for a gain of 3 points."""
    from calibration import measured_components
    from factorial_calibration import factorial_scenarios

    measured = measured_components(DEFAULT_TABLES)
    base = fit_scenario(
        measured["accuracy"],
        (measured["seed_variance"], measured["image_variance"], measured["residual_variance"]),
        measured["seeds"],
        measured["images"],
        5,
    )
    scenarios = factorial_scenarios(base)
    result = {}
    images = measured["images"]
    for name in (f"image effects {share}" for share in SHARES):
        scenario = scenarios[name]
        # one at a time, 14 x 3: rotation alone against none, the run part pooled (13 df/seed)
        components = expected_components(scenario, images, rng, 40, 3, ("rotation", "none"))
        stated = design(*components, 3, images, VARIANTS - 1.0)
        mde = stated.minimum_detectable_effect(ONE_AT_A_TIME_LEVEL)
        rows = pd.DataFrame(
            row
            for _ in range(studies)
            for row in simulate_family(
                scenario,
                DEFAULT_TRANSFORMS,
                3,
                images,
                rng,
                {"rotation": -mde},
                methods=("auto", POOLED),
            )
            if row["family"] == "alone" and row["transform"] == "rotation"
        )
        one = {
            "trainings": VARIANTS * 3,
            "components": dict(zip(("seed", "image", "residual"), components, strict=True)),
            "standard_error_points_stated": points(stated.standard_error),
            "mde_points_stated": points(mde),
            "power_stated": stated.power(mde, ONE_AT_A_TIME_LEVEL),
        }
        for method, found in rows.groupby("method", sort=False):
            one[method] = {
                "power_at_holm_strictest_level": rate(
                    (found["p_value"] < ONE_AT_A_TIME_LEVEL).sum(), studies
                ),
                "power_after_holm": rate((found["verdict"] == "hurts").sum(), studies),
            }
        # factorial, 16 x 2: rotation's main effect
        components = expected_effect_components(scenario, FACTORIAL, 2, images, rng)
        stated = design(*components, 2, images, FACTORIAL.runs - 1.0)
        mde = stated.minimum_detectable_effect(FACTORIAL_LEVEL)
        found = pd.concat(
            simulate_factorial(scenario, FACTORIAL, 2, images, rng, {"rotation": -mde})
            .set_index("effect")
            .loc[["rotation"]]
            for _ in range(studies)
        )
        result[name] = {
            "scenario": scenario.as_dict(),
            "studies": studies,
            "one_at_a_time_alone": one,
            "factorial_main_effect": {
                "trainings": FACTORIAL.runs * 2,
                "components": dict(zip(("seed", "image", "residual"), components, strict=True)),
                "standard_error_points_stated": points(stated.standard_error),
                "standard_error_points_measured_rms": points(
                    float(np.sqrt((found["standard_error"] ** 2).mean()))
                ),
                "mde_points_stated": points(mde),
                "power_stated": stated.power(mde, FACTORIAL_LEVEL),
                "power_at_holm_strictest_level": rate(
                    (found["p_value"] < FACTORIAL_LEVEL).sum(), studies
                ),
                "power_after_holm": rate((found["verdict"] == "hurts").sum(), studies),
            },
        }
    return result


def real(run: Path, contrasts: pd.DataFrame) -> dict:
    """The digits factorial study (``run``: its working directory) against the committed
    one-at-a-time digits study, as their reports give them and at equal trainings."""
    from augablate.analysis import planned_design

    effects = pd.read_csv(run / "results" / "tables" / "effects.csv")
    main = effects[effects["kind"] == "main effect"].set_index("effect")
    images = pd.read_csv(run / "results" / "tables" / "images.csv.gz")
    model = StudyModel.fit(design_scores(images, FACTORIAL.variants(DEFAULT_TRANSFORMS)))
    seeds = model.shape[1]
    trainings = FACTORIAL.runs * seeds
    per_effect = {}
    for factor in FACTORIAL.factors:
        estimate = model.contrast(effect_weights(FACTORIAL, factor), POOLED)
        row = main.loc[factor]
        assert abs(estimate.standard_error - row["standard_error"]) < 1e-12, factor
        per_effect[factor] = {
            "difference_points": points(row["difference"]),
            "ci_points": [points(row["ci_low"]), points(row["ci_high"])],
            "ci_half_width_points": points((row["ci_high"] - row["ci_low"]) / 2),
            "standard_error_points": points(row["standard_error"]),
            "run_df": row["df"],
            "mde_points_reported": points(row["minimum_detectable_effect"]),
            "verdict": row["verdict"],
            "image_part_share_of_variance": estimate.image_part / estimate.standard_error**2,
            "mde_points_at_7_seeds": points(
                planned_design(estimate, 7).minimum_detectable_effect(FACTORIAL_LEVEL)
            ),
        }
    frame = pd.DataFrame(per_effect).T

    def median(column):
        return float(frame[column].astype(float).median())

    primary = contrasts[contrasts["primary"].astype(bool)]
    power = study_power(contrasts, ALPHA)
    components = (power["seed_variance"], power["image_variance"], power["residual_variance"])
    default_trainings = VARIANTS * int(power["seeds"])
    half = (primary["ci_high"] - primary["ci_low"]) / 2
    factorial_se = median("standard_error_points")
    return {
        "factorial": {
            "folder": str(run),
            "trainings": trainings,
            "seeds": seeds,
            "images": model.shape[2],
            "pooled_run_df": model.run_df,
            "main_effects": per_effect,
            "median_standard_error_points": factorial_se,
            "median_ci_half_width_points": median("ci_half_width_points"),
            "median_mde_points_reported": median("mde_points_reported"),
            "median_mde_points_at_7_seeds_112_trainings": median("mde_points_at_7_seeds"),
            "median_standard_error_points_scaled_to_default_trainings": factorial_se
            * math.sqrt(trainings / default_trainings),
        },
        "one_at_a_time": {
            "trainings": default_trainings,
            "median_standard_error_points": {
                family: points(float(rows["standard_error"].median()))
                for family, rows in primary.groupby("family", sort=False)
            },
            "median_ci_half_width_points": {
                family: points(float(half[rows.index].median()))
                for family, rows in primary.groupby("family", sort=False)
            },
            "methods": {
                family: sorted(rows["method"].unique())
                for family, rows in primary.groupby("family", sort=False)
            },
            "mde_points_reported": points(power["detectable"]),
            "mde_points_reported_ci95": [
                points(power["detectable_ci_low"]),
                points(power["detectable_ci_high"]),
            ],
            "mde_points_at_8_seeds_112_trainings": points(
                design(*components, 8, power["images"], VARIANTS - 1.0).minimum_detectable_effect(
                    ONE_AT_A_TIME_LEVEL
                )
            ),
        },
    }


def _rate(found: dict) -> str:
    low, high = found["ci95"]
    return f"{100 * found['rate']:.0f}% ({100 * low:.0f}-{100 * high:.0f}%)"


def markdown(results: dict) -> str:
    """The tables of benchmarks/README.md's design-efficiency section, from the JSON (a test
    checks the page holds them)."""
    lines = [
        "| MDE of one transform's effect (points; 80% power, Holm's strictest level; seeds and "
        "images) | trainings | one at a time | factorial, image effects per design point | "
        "factorial, image effects per transform |",
        "|---|---|---|---|---|",
    ]
    for size in results["analytic"]["sizes"]:
        one, factorial = size["one_at_a_time"], size["factorial"]
        point = factorial["image effects per design point"]
        transform = factorial["image effects per transform"]
        lines.append(
            f"| analytic, one-at-a-time study's components | {one['trainings']} "
            f"({one['seeds']} seeds) against {point['trainings']} ({point['seeds']} seeds) | "
            f"{one['mde_points']:.2f} | {point['mde_points']:.2f} | "
            f"{transform['mde_points']:.2f} |"
        )
    for size in results["analytic"]["sizes"]:
        one, factorial = size["one_at_a_time"], size["factorial"]
        lines.append(
            f"| SE x sqrt(trainings), analytic | {one['trainings']} against "
            f"{factorial['image effects per design point']['trainings']} | "
            f"{one['standard_error_points_times_sqrt_trainings']:.2f} | "
            + " | ".join(
                f"{factorial[f'image effects {k}']['standard_error_points_times_sqrt_trainings']:.2f}"
                for k in SHARES
            )
            + " |"
        )
    simulated = results["simulated"]
    studies = simulated["image effects per transform"]["studies"]
    lines += [
        "",
        f"| simulated, like digits ({studies} studies per design and scenario) | one at a "
        "time: rotation alone, 42 trainings | factorial: rotation's main effect, 32 trainings |",
        "|---|---|---|",
    ]
    for name in (f"image effects {k}" for k in SHARES):
        one = simulated[name]["one_at_a_time_alone"]
        main = simulated[name]["factorial_main_effect"]
        lines += [
            f"| {name}: MDE stated (points) | {one['mde_points_stated']:.2f} | "
            f"{main['mde_points_stated']:.2f} |",
            f"| {name}: power measured at it, Holm's strictest level (95% Monte Carlo "
            f"interval) | {_rate(one[POOLED]['power_at_holm_strictest_level'])} pooled, "
            f"{_rate(one['auto']['power_at_holm_strictest_level'])} as the workflow analyses "
            f"it | {_rate(main['power_at_holm_strictest_level'])} |",
        ]
    if "real" in results:
        real = results["real"]
        one, fact = real["one_at_a_time"], real["factorial"]
        lines += [
            "",
            "| real digits runs (points; seeds and images) | one at a time, the committed "
            "study, docs/one-at-a-time-digits | factorial, docs/default-study |",
            "|---|---|---|",
            f"| trainings | {one['trainings']} | {fact['trainings']} |",
            "| standard error, median | "
            + " / ".join(f"{v:.2f} ({k})" for k, v in one["median_standard_error_points"].items())
            + f" | {fact['median_standard_error_points']:.2f} (main effects) |",
            "| 95% CI half-width, median | "
            + " / ".join(f"{v:.2f} ({k})" for k, v in one["median_ci_half_width_points"].items())
            + f" | {fact['median_ci_half_width_points']:.2f} |",
            f"| standard error scaled to {one['trainings']} trainings (x sqrt("
            f"{fact['trainings']}/{one['trainings']})) | - | "
            f"{fact['median_standard_error_points_scaled_to_default_trainings']:.2f} |",
            f"| MDE as the report gives it | {one['mde_points_reported']:.2f} | "
            f"{fact['median_mde_points_reported']:.2f} (median of 6) |",
            f"| MDE at 112 trainings, from the study's own components | "
            f"{one['mde_points_at_8_seeds_112_trainings']:.2f} (8 seeds) | "
            f"{fact['median_mde_points_at_7_seeds_112_trainings']:.2f} (7 seeds) |",
        ]
    return "\n".join(lines)


def headline(results: dict) -> str:
    """The section's headline sentence, from the JSON (a test checks the page holds it)."""
    equal, shipped = results["analytic"]["sizes"]
    point = equal["factorial"]["image effects per design point"]
    transform = equal["factorial"]["image effects per transform"]
    one = equal["one_at_a_time"]
    text = (
        f"At {one['trainings']} trainings ({VARIANTS} variants x {one['seeds']} seeds against "
        f"{FACTORIAL.runs} design points x {point['seeds']} seeds), a transform's main effect "
        f"in the factorial design is detectable from {point['mde_points']:.2f} to "
        f"{transform['mde_points']:.2f} points, against {one['mde_points']:.2f} for a "
        "one-at-a-time contrast (80% power at Holm's strictest level of each design's primary "
        "family, from the one-at-a-time digits study's variance components; the range spans the image "
        "effects being independent per design point or each transform's own); with fewer "
        f"trainings than the one-at-a-time study ({shipped['factorial']['image effects per transform']['trainings']} "
        f"against {shipped['one_at_a_time']['trainings']}) it is "
        f"{shipped['factorial']['image effects per design point']['mde_points']:.2f} to "
        f"{shipped['factorial']['image effects per transform']['mde_points']:.2f} points against "
        f"{shipped['one_at_a_time']['mde_points']:.2f}."
    )
    if "real" in results:
        real = results["real"]
        fact, one_real = real["factorial"], real["one_at_a_time"]
        text += (
            f" On real digits runs the factorial study's main effects have a median standard "
            f"error of {fact['median_standard_error_points']:.2f} points with "
            f"{fact['trainings']} trainings "
            f"({fact['median_standard_error_points_scaled_to_default_trainings']:.2f} scaled to "
            f"{one_real['trainings']} by the square-root rule), against "
            f"{one_real['median_standard_error_points']['alone']:.2f} (alone) and "
            f"{one_real['median_standard_error_points']['in company']:.2f} (in company) for the "
            f"one-at-a-time study's contrasts with {one_real['trainings']}; the reports' MDEs are "
            f"{fact['median_mde_points_reported']:.2f} and {one_real['mde_points_reported']:.2f} "
            "points."
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factorial-run", type=Path, help="the digits factorial study's folder")
    parser.add_argument(
        "--reuse-simulated", type=Path, help="keep the simulated part of this earlier JSON"
    )
    parser.add_argument("--studies", type=int, default=300, help="simulated studies per design")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    started = time.time()
    rng = np.random.default_rng(20261219)
    contrasts = pd.read_csv(DEFAULT_TABLES / "contrasts.csv")
    report = {
        "command": f"benchmarks/design_efficiency.py --factorial-run {args.factorial_run} "
        f"--studies {args.studies} --json {args.json}",
        "alpha": ALPHA,
        "levels": {"one_at_a_time": ONE_AT_A_TIME_LEVEL, "factorial": FACTORIAL_LEVEL},
        "designs": {
            "one_at_a_time": f"{VARIANTS} variants (none, 6 alone, all, all minus each)",
            "factorial": f"{FACTORIAL.how}: {FACTORIAL.runs} design points",
        },
        "population": "seeds and validation images",
        "analytic": analytic(contrasts),
    }
    if args.reuse_simulated:
        earlier = json.loads(args.reuse_simulated.read_text())
        report["simulated"], report["simulated_seconds"] = (
            earlier["simulated"],
            earlier["simulated_seconds"],
        )
        report["command"] = (
            f"{earlier['command'].split(' (simulated part')[0]}; then {report['command']} "
            f"--reuse-simulated {args.reuse_simulated} (simulated part kept)"
        )
    else:
        report["simulated"] = simulated(args.studies, rng)
        report["simulated_seconds"] = time.time() - started
    if args.factorial_run:
        report["real"] = real(args.factorial_run, contrasts)
    report["seconds"] = time.time() - started
    report["machine"] = platform.platform()
    report["cpus"] = os.cpu_count()
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
