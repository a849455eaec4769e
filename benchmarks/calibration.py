"""Calibration of the study's statistics on simulated studies, with the variance components of
real runs.

For each real study given (its ``results/tables`` folder), the median variance components of its
verdict contrasts (seed, image, residual; see augablate.inference) and its baseline accuracy
are measured, and a generative model of per-image results (augablate.simulate) is fitted to
them. Then, for that scenario and for synthetic extremes, whole studies of the full design
(none, 6 transforms alone, all, all minus each: 12 primary contrasts) are simulated and
analysed exactly as the workflow does:

- null studies (no effect anywhere): the false-positive rate of each test, and the family-wise
  rate of "helps"/"hurts" verdicts after Holm's correction;
- a study with one contrast at exactly the equivalence margin: how often it is wrongly called
  "no effect larger than" the margin;
- a planted 3-point effect in one contrast at 3 seeds x 1,000 images: the measured power (its
  verdict "helps", Holm-corrected within the family), beside the power the report's formula
  states; and the number of seeds that 80% power needs, from the formula, checked by
  simulation.

    .venv/bin/python benchmarks/calibration.py --study digits=<default study>/results/tables \
        --study cats-vs-dogs=docs/example-cats-vs-dogs/tables --json benchmarks/calibration.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from augablate.inference import design
from augablate.simulate import (
    DEFAULT_TRANSFORMS,
    Scenario,
    expected_components,
    fit_scenario,
    simulate_family,
)

TRANSFORMS = DEFAULT_TRANSFORMS  # the default study's: 12 primary contrasts

ALPHA, MARGIN, EFFECT = 0.05, 0.01, 0.03
#: Synthetic extremes: the seed part dominating, the image part dominating, no seed effect.
SYNTHETIC = {
    "synthetic: seed-dominated": Scenario(accuracy=0.75, run_sd=0.25, churn_sd=0.5),
    "synthetic: image-dominated": Scenario(
        accuracy=0.75, run_sd=0.01, variant_image_sd=1.0, churn_sd=0.2
    ),
    "synthetic: no seed effect": Scenario(accuracy=0.75, run_sd=0.0, churn_sd=1.0),
}


def measured_components(tables: Path) -> dict:
    """The median variance components of a study's verdict contrasts, its baseline accuracy,
    seeds and images."""
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


def rates(scenario: Scenario, seeds: int, images: int, studies: int, rng, planted=None):
    """Verdicts of ``studies`` simulated full studies: per contrast and family-wise."""
    rows = []
    for study in range(studies):
        for row in simulate_family(
            scenario, TRANSFORMS, seeds, images, rng, planted, ALPHA, MARGIN
        ):
            rows.append({**row, "study": study})
    return pd.DataFrame(rows)


def null_calibration(scenario: Scenario, seeds: int, images: int, studies: int, rng) -> dict:
    table = rates(scenario, seeds, images, studies, rng)
    claims = table["verdict"].isin(["helps", "hurts"])
    return {
        "studies": studies,
        "tests": len(table),
        "false_positive_rate_per_test": float((table["p_value"] < ALPHA).mean()),
        "familywise_false_verdict_rate": float(claims.groupby(table["study"]).any().mean()),
        "negligible_verdicts": float((table["verdict"] == "negligible").mean()),
    }


def boundary_calibration(scenario: Scenario, seeds: int, images: int, studies: int, rng) -> dict:
    """One contrast (rotation alone) at exactly +margin: how often called negligible."""
    table = rates(scenario, seeds, images, studies, rng, {"rotation": MARGIN})
    target = table[(table["family"] == "alone") & (table["transform"] == "rotation")]
    return {
        "studies": studies,
        "true_effect_points": MARGIN * 100,
        "negligible_rate": float((target["verdict"] == "negligible").mean()),
        "equivalence_rejection_rate_unadjusted": float((target["p_equivalence"] < ALPHA).mean()),
    }


def power_calibration(scenario: Scenario, images: int, studies: int, rng, max_seeds=40) -> dict:
    """A planted 3-point effect (rotation alone) at 3 seeds, and the seeds 80% power needs."""
    planted = {"rotation": EFFECT}
    components = expected_components(scenario, images, rng)
    level = ALPHA / (2 * len(TRANSFORMS))  # Holm's strictest step: what the report states
    stated = design(*components, 3, images).power(EFFECT, level)
    table = rates(scenario, 3, images, studies, rng, planted)
    target = table[(table["family"] == "alone") & (table["transform"] == "rotation")]
    needed = next(
        (
            s
            for s in range(2, max_seeds + 1)
            if design(*components, s, images).power(EFFECT, level) >= 0.8
        ),
        None,
    )
    check = None
    if needed is not None:
        at_needed = rates(scenario, needed, images, max(studies // 2, 100), rng, planted)
        hit = at_needed[(at_needed["family"] == "alone") & (at_needed["transform"] == "rotation")]
        check = float((hit["verdict"] == "helps").mean())
    return {
        "effect_points": EFFECT * 100,
        "seeds": 3,
        "images": images,
        "studies": studies,
        "power_holm_family_measured": float((target["verdict"] == "helps").mean()),
        "power_unadjusted_measured": float((target["p_value"] < ALPHA).mean()),
        "power_stated_at_holm_strictest_level": stated,
        "seeds_for_80_percent_power": needed,
        "power_measured_at_those_seeds": check,
        "variance_components": dict(zip(("seed", "image", "residual"), components, strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--study", action="append", default=[], help="name=path of a study's results/tables folder"
    )
    parser.add_argument("--studies", type=int, default=2000, help="simulated null studies")
    parser.add_argument("--last-k", type=int, default=5, help="the studies' analysis.last_k")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--no-synthetic", action="store_true", help="only the scenarios of --study")
    parser.add_argument(
        "--merge", action="store_true", help="add to the scenarios already in --json"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(20261126)
    started = time.time()
    scenarios, measured = {}, {}
    for item in args.study:
        name, path = item.split("=", 1)
        measured[name] = measured_components(Path(path))
        m = measured[name]
        scenarios[f"like {name}"] = fit_scenario(
            m["accuracy"],
            (m["seed_variance"], m["image_variance"], m["residual_variance"]),
            m["seeds"],
            m["images"],
            args.last_k,
        )
    if not args.no_synthetic:
        scenarios.update(SYNTHETIC)
    results = {}
    for name, scenario in scenarios.items():
        images = next((m["images"] for n, m in measured.items() if name == f"like {n}"), 1000)
        print(f"{name}: {scenario}", flush=True)
        results[name] = {
            "scenario": scenario.as_dict(),
            "images": images,
            "null": null_calibration(scenario, 3, images, args.studies, rng),
            "boundary": boundary_calibration(scenario, 3, images, args.studies // 2, rng),
            "power": power_calibration(scenario, 1000, args.studies // 2, rng),
        }
        print(json.dumps(results[name], indent=1), flush=True)
    command = (
        "benchmarks/calibration.py "
        + " ".join(f"--study {s}" for s in args.study)
        + f" --studies {args.studies}"
        + (" --no-synthetic" if args.no_synthetic else "")
    )
    report = {
        "commands": [command],
        "alpha": ALPHA,
        "margin_points": MARGIN * 100,
        "measured": measured,
        "scenarios": results,
        "seconds": time.time() - started,
        "machine": platform.platform(),
    }
    if args.merge and args.json.exists():  # add these scenarios to an earlier run's
        earlier = json.loads(args.json.read_text())
        report["commands"] = earlier["commands"] + report["commands"]
        report["measured"] = {**earlier["measured"], **measured}
        report["scenarios"] = {**earlier["scenarios"], **results}
        report["seconds"] += earlier["seconds"]
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
