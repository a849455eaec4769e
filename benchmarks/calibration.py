"""Calibration of the study's statistics on simulated studies, with the variance components of
real runs, and in the scenarios that break pooling the runs of all variants.

Scenarios: generative models of per-image results (augablate.simulate) fitted to real studies'
variance components (``--study name=results/tables``, or ``--reuse`` the fitted ones of an
earlier ``--json``), synthetic extremes (the seed part dominating, the image part dominating, no
seed effect), and the departures from equal run variance that pooling assumes away: one variant
(``none``: the 6 "alone" contrasts) or ``all`` (the 6 "in company" ones) or three variants with 4
times the run variance of the others, runs of ``none`` and ``all`` that collapse in one late
epoch on a share of the images, and few images (100). Whole studies of the full design (none,
6 transforms alone, all, all minus each: 12 primary contrasts, 3 seeds) are simulated and each
is analysed by three methods on the same data (augablate.inference.StudyModel.contrast):

- ``auto``: the workflow's rule (pooled run part, (V - 1)(S - 1) df, unless the contrast's
  variants' runs vary more than the others': then its own seeds);
- ``pooled runs``: always pooled (no fallback);
- ``own seeds``: each contrast's own seeds (S - 1 df): the workflow's method before.

Null studies (no effect anywhere): the false-positive rate of every test (each of the 12
contrasts' own rate and their mean), and the family-wise rate of "helps"/"hurts" verdicts after
Holm's correction. Planted studies: rotation alone +3 points (power: its verdict "helps" after
Holm; -3 points and "hurts" where the baseline is within 6 points of 100%, as like digits at
97.7%, which cannot gain 3) and zoom alone +1 point, exactly the equivalence margin (how often wrongly called "no
effect larger than ±1 point"), beside the power the design states.

The factorial design is calibrated by ``benchmarks/factorial_calibration.py``.

    .venv/bin/python benchmarks/calibration.py --reuse benchmarks/calibration.json \
        --study digits=docs/one-at-a-time-digits/tables --json benchmarks/calibration.json
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
import pandas as pd

from augablate.inference import OWN, POOLED, design
from augablate.simulate import (
    DEFAULT_TRANSFORMS,
    Scenario,
    expected_components,
    family_variants,
    fit_scenario,
    simulate_family,
)

TRANSFORMS = DEFAULT_TRANSFORMS  # the default study's: 12 primary contrasts
METHODS = ("auto", POOLED, OWN)
SEEDS = 3

ALPHA, MARGIN, EFFECT = 0.05, 0.01, 0.03
PLANTED = {"rotation": EFFECT, "zoom": MARGIN}  # power, and the equivalence boundary
#: Synthetic extremes: the seed part dominating, the image part dominating, no seed effect.
SYNTHETIC = {
    "synthetic: seed-dominated": Scenario(accuracy=0.75, run_sd=0.25, churn_sd=0.5),
    "synthetic: image-dominated": Scenario(
        accuracy=0.75, run_sd=0.01, variant_image_sd=1.0, churn_sd=0.2
    ),
    "synthetic: no seed effect": Scenario(accuracy=0.75, run_sd=0.0, churn_sd=1.0),
}


def breaking(base: Scenario) -> dict[str, tuple[Scenario, int | None]]:
    """Scenarios that break pooling, built on ``base`` (the real default study's fit): the
    images of ``base``'s study unless given."""
    replace = dataclasses.replace
    return {
        "one variant (none) with 4x run variance": (
            replace(base, noisy_variants=("none",), noisy_run_factor=4.0),
            None,
        ),
        "all with 4x run variance": (
            replace(base, noisy_variants=("all",), noisy_run_factor=4.0),
            None,
        ),
        "three variants with 4x run variance": (
            replace(
                base,
                noisy_variants=("rotation", "zoom", "all-minus-shear"),
                noisy_run_factor=4.0,
            ),
            None,
        ),
        "runs of none and all collapse (30%: one late epoch wrong on 30% of images)": (
            replace(
                base,
                collapsing_variants=("none", "all"),
                collapse_chance=0.3,
                collapse_share=0.3,
            ),
            None,
        ),
        "few images (100)": (base, 100),
    }


def measured_components(tables: Path) -> dict:
    """The median variance components of a study's verdict contrasts (their own, as the
    generative model is fitted to a contrast's table), its baseline accuracy, seeds, images."""
    contrasts = pd.read_csv(tables / "contrasts.csv")
    variants = pd.read_csv(tables / "variants.csv").set_index("variant")
    chosen = contrasts[contrasts["primary"].astype(bool)].dropna(subset=["seed_variance"])
    components = [
        float(chosen[c].median()) for c in ("seed_variance", "image_variance", "residual_variance")
    ]
    runs = pd.read_csv(tables / "runs.csv")
    return {
        "contrasts": len(chosen),
        "seed_variance": components[0],
        "image_variance": components[1],
        "residual_variance": components[2],
        "accuracy": float(variants.loc["none", "final_val_accuracy_mean"]),
        "seeds": int(runs["seed"].nunique()),
        "images": int(variants["images"].max()),
    }


def simulate(scenario: Scenario, images: int, studies: int, rng, planted=None) -> pd.DataFrame:
    """Rows of ``studies`` simulated full studies, each analysed by every method."""
    rows = []
    for study in range(studies):
        for row in simulate_family(
            scenario, TRANSFORMS, SEEDS, images, rng, planted, ALPHA, MARGIN, METHODS
        ):
            rows.append({**row, "study": study})
    return pd.DataFrame(rows)


def null_calibration(scenario: Scenario, images: int, studies: int, rng) -> dict:
    table = simulate(scenario, images, studies, rng)
    table["rejected"] = table["p_value"] < ALPHA
    table["claim"] = table["verdict"].isin(["helps", "hurts"])
    result = {"studies": studies, "tests_per_study": 2 * len(TRANSFORMS)}
    for method, rows in table.groupby("method", sort=False):
        per_contrast = rows.groupby(["family", "transform"])["rejected"].mean()
        result[method] = {
            "false_positive_rate_per_test": float(rows["rejected"].mean()),
            "false_positive_rate_per_contrast_max": float(per_contrast.max()),
            "false_positive_rate_per_contrast": {
                f"{family}: {transform}": float(rate)
                for (family, transform), rate in per_contrast.items()
            },
            "familywise_false_verdict_rate": float(rows.groupby("study")["claim"].any().mean()),
            "negligible_verdicts": float((rows["verdict"] == "negligible").mean()),
            "share_pooled": float((rows["used"] == POOLED).mean()),
        }
    return result


def planted_calibration(scenario: Scenario, images: int, studies: int, rng) -> dict:
    """Rotation alone +3 points (power), zoom alone +1 point (the equivalence boundary)."""
    direction = 1.0 if scenario.accuracy + 2 * EFFECT < 1 else -1.0  # room to gain 3 points?
    planted = {**PLANTED, "rotation": direction * EFFECT}
    found = "helps" if direction > 0 else "hurts"
    table = simulate(scenario, images, studies, rng, planted)
    alone = table[table["family"] == "alone"]
    components = expected_components(scenario, images, rng)
    level = ALPHA / (2 * len(TRANSFORMS))  # Holm's strictest step: what the report states
    variants = len(family_variants(TRANSFORMS))
    pooled_design = design(*components, SEEDS, images, variants - 1.0)
    own_design = design(*components, SEEDS, images)
    result = {
        "studies": studies,
        "effect_points": direction * EFFECT * 100,
        "margin_points": MARGIN * 100,
        "seeds": SEEDS,
        "images": images,
        "variance_components": dict(zip(("seed", "image", "residual"), components, strict=True)),
        "power_stated_pooled_at_holm_strictest_level": pooled_design.power(EFFECT, level),
        "power_stated_own_seeds_at_holm_strictest_level": own_design.power(EFFECT, level),
        "mde_points_stated_pooled": pooled_design.minimum_detectable_effect(level) * 100,
        "mde_points_stated_own_seeds": own_design.minimum_detectable_effect(level) * 100,
        "smallest_margin_points_stated_pooled": pooled_design.smallest_equivalence_margin(level)
        * 100,
        "seeds_for_80_percent_power_stated_pooled": next(
            (
                s
                for s in range(2, 41)
                if design(*components, s, images, variants - 1.0).power(EFFECT, level) >= 0.8
            ),
            None,
        ),
    }
    for method, rows in alone.groupby("method", sort=False):
        target = rows[rows["transform"] == "rotation"]
        boundary = rows[rows["transform"] == "zoom"]
        result[method] = {
            "power_holm_family_measured": float((target["verdict"] == found).mean()),
            "power_unadjusted_measured": float((target["p_value"] < ALPHA).mean()),
            "negligible_rate_at_the_margin": float((boundary["verdict"] == "negligible").mean()),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--study", action="append", default=[], help="name=path of a study's results/tables folder"
    )
    parser.add_argument(
        "--reuse", type=Path, help="take the fitted real-study scenarios of this earlier JSON"
    )
    parser.add_argument("--studies", type=int, default=1000, help="simulated null studies")
    parser.add_argument("--planted", type=int, default=400, help="simulated planted studies")
    parser.add_argument(
        "--redo",
        action="append",
        default=[],
        help="recompute only this scenario (repeatable); keep the others of --reuse",
    )
    parser.add_argument("--last-k", type=int, default=5, help="the studies' analysis.last_k")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(20261201)
    started = time.time()
    scenarios, measured = {}, {}
    if args.reuse:
        earlier = json.loads(args.reuse.read_text())
        for name, entry in earlier["scenarios"].items():
            if name.startswith("like "):
                scenarios[name] = (Scenario(**entry["scenario"]), entry["images"])
        measured.update(earlier.get("measured", {}))
    for item in args.study:
        name, path = item.split("=", 1)
        measured[name] = m = measured_components(Path(path))
        scenarios[f"like {name}"] = (
            fit_scenario(
                m["accuracy"],
                (m["seed_variance"], m["image_variance"], m["residual_variance"]),
                m["seeds"],
                m["images"],
                args.last_k,
            ),
            m["images"],
        )
    scenarios.update({name: (scenario, 1000) for name, scenario in SYNTHETIC.items()})
    base, base_images = scenarios.get("like digits", (Scenario(), 1000))
    for name, (scenario, images) in breaking(base).items():
        scenarios[f"like digits, {name}" if "like digits" in scenarios else name] = (
            scenario,
            images or base_images,
        )
    results = {}
    for name, (scenario, images) in scenarios.items():
        if args.redo and name not in args.redo:
            results[name] = earlier["scenarios"][name]
            continue
        began = time.time()
        results[name] = {
            "scenario": scenario.as_dict(),
            "images": images,
            "null": null_calibration(scenario, images, args.studies, rng),
            "planted": planted_calibration(scenario, images, args.planted, rng),
            "seconds": time.time() - began,
        }
        print(name, json.dumps(results[name]["null"]["auto"]), flush=True)
    report = {
        "command": (
            "benchmarks/calibration.py"
            + (f" --reuse {args.reuse}" if args.reuse else "")
            + "".join(f" --study {s}" for s in args.study)
            + f" --studies {args.studies} --planted {args.planted}"
            + "".join(f" --redo {name!r}" for name in args.redo)
            + f" --json {args.json}"
        ),
        "alpha": ALPHA,
        "margin_points": MARGIN * 100,
        "seeds": SEEDS,
        "methods": list(METHODS),
        "measured": measured,
        "scenarios": results,
        "seconds": time.time() - started,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "note": "the machine was shared with a background training run (2 cores); the seconds "
        "are wall time under that load",
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
