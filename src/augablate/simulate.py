"""Simulated per-image results of whole studies, for calibrating the statistics without training.

A generative model of what a study's runs look like image by image. On the logit scale the
chance that run (variant v, seed s) gets validation image i right at one of the last k epochs is

    mu + delta_v + u_i + g_vi + r_vs + h_vsi

with ``u_i`` the image's difficulty, ``g_vi`` how the variant systematically changes that image
(an image effect of a contrast), ``r_vs`` the run's overall luck (the seed effect of a
contrast), ``h_vsi`` the run's own churn on that image, and ``delta_v`` the planted effect. Each
of the k epochs is then an independent draw, and an image's score is the fraction right, as in
the real per-image table. Every variant has the same distribution apart from ``delta_v``: with
all ``delta_v`` zero the population accuracies are exactly equal (a null study).

Effects are planted in accuracy points of the population (``delta_v`` is solved for), so "a
3-point effect" means what the report means by it. :func:`fit_scenario` chooses the standard
deviations so that the simulated variance components match a real study's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, special

from augablate.variants import AugmentationSettings

#: The default study's transforms (what its ``all`` switches on): a primary family of 12
#: contrasts, the design the calibration simulates.
DEFAULT_TRANSFORMS = tuple(AugmentationSettings().enabled())

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(64)


@dataclass(frozen=True)
class Scenario:
    """The variance structure of a study's per-image results (logit scale)."""

    accuracy: float = 0.75  # population accuracy of the baseline
    image_sd: float = 2.0  # u: image difficulty
    variant_image_sd: float = 0.5  # g: a variant's systematic change of single images
    run_sd: float = 0.1  # r: a run's overall luck
    churn_sd: float = 1.0  # h: a run's own changes of single images
    last_k: int = 5
    # departures from equal run variance (what pooling the runs of all variants assumes):
    noisy_variants: tuple[str, ...] = ()  # variants whose run luck has ...
    noisy_run_factor: float = 1.0  # ... this many times the variance of the others'
    collapsing_variants: tuple[str, ...] = ()  # variants whose runs can collapse: with ...
    collapse_chance: float = 0.0  # ... this chance a run loses one of its last k epochs ...
    collapse_share: float = 0.0  # ... on this share of the images (right -> wrong)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def total_sd(self) -> float:
        return math.sqrt(
            self.image_sd**2 + self.variant_image_sd**2 + self.run_sd**2 + self.churn_sd**2
        )

    def population_accuracy(self, logit_shift: float) -> float:
        """Mean of sigmoid(shift + Z), Z ~ N(0, total_sd^2), by Gauss-Hermite quadrature."""
        values = special.expit(logit_shift + self.total_sd * _NODES)
        return float((_WEIGHTS * values).sum() / _WEIGHTS.sum())

    def logit_for(self, accuracy: float) -> float:
        """The location whose population accuracy is ``accuracy``."""
        return float(optimize.brentq(lambda x: self.population_accuracy(x) - accuracy, -40.0, 40.0))


def simulate_study(
    scenario: Scenario,
    effects: Mapping[str, float],
    seeds: int,
    images: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per-image scores [seeds, images] (fractions of k epochs right) for each variant.

    ``effects`` maps each variant to its planted effect in accuracy units over the baseline
    (0.03 is 3 points; the baseline variant has 0).
    """
    base = scenario.logit_for(scenario.accuracy)
    difficulty = rng.normal(0.0, scenario.image_sd, images)
    scores = {}
    for variant, effect in effects.items():
        location = scenario.logit_for(scenario.accuracy + effect) if effect else base
        systematic = rng.normal(0.0, scenario.variant_image_sd, images)
        run_sd = scenario.run_sd * (
            math.sqrt(scenario.noisy_run_factor) if variant in scenario.noisy_variants else 1.0
        )
        luck = rng.normal(0.0, run_sd, (seeds, 1))
        churn = rng.normal(0.0, scenario.churn_sd, (seeds, images))
        chance = special.expit(location + difficulty + systematic + luck + churn)
        right = rng.binomial(scenario.last_k, chance)
        if variant in scenario.collapsing_variants:  # one late epoch wrong on a subset
            collapsed = rng.random((seeds, 1)) < scenario.collapse_chance
            hit = collapsed & (rng.random((seeds, images)) < scenario.collapse_share)
            right = np.maximum(right - hit, 0)
        scores[variant] = right / scenario.last_k
    return scores


def variance_components(differences: np.ndarray) -> tuple[float, float, float]:
    """(seed, image, residual) variance components of a seeds x images table of differences."""
    from augablate.inference import crossed_mean

    estimate = crossed_mean(differences)
    return estimate.seed_variance, estimate.image_variance, estimate.residual_variance


def expected_components(
    scenario: Scenario, images: int, rng: np.random.Generator, studies: int = 100, seeds: int = 5
) -> tuple[float, float, float]:
    """A scenario's own (seed, image, residual) variance components of a contrast: their mean
    over ``studies`` simulated null studies, what a study's power is planned from. The mean, not
    the median: a variance estimate's law is skewed, and its median would understate the seed
    part (by about 16% with 5 seeds) and so overstate the power."""
    found = []
    for _ in range(studies):
        study = simulate_study(scenario, {"a": 0.0, "b": 0.0}, seeds, images, rng)
        found.append(variance_components(study["a"] - study["b"]))
    return tuple(float(v) for v in np.mean(found, axis=0))


FLOOR = 1e-5  # variance components below this are fitted as this


def fit_scenario(
    accuracy: float,
    components: Sequence[float],
    seeds: int,
    images: int,
    last_k: int,
    image_sd: float = 2.0,
    rng_seed: int = 0,
) -> Scenario:
    """A scenario whose null contrasts have (about) the given variance components of a real
    study's contrasts (seed, image, residual), at its accuracy, seeds, images and k.

    ``image_sd`` (difficulty shared by every variant) cancels in a contrast and is kept fixed;
    the other three standard deviations are fitted on the log scale by Nelder-Mead against
    simulated studies with common random numbers.
    """
    # components below FLOOR count as that small: a seed variance truncated to zero in the real
    # study is matched by any tiny one, instead of dominating a log-scale fit
    target = np.log(np.maximum(np.asarray(components, float), FLOOR))

    def simulated(log_sds: np.ndarray) -> np.ndarray:
        variant_image_sd, run_sd, churn_sd = np.exp(log_sds)
        scenario = Scenario(accuracy, image_sd, variant_image_sd, run_sd, churn_sd, last_k)
        rng = np.random.default_rng(rng_seed)
        found = []
        for _ in range(8):
            study = simulate_study(scenario, {"a": 0.0, "b": 0.0}, max(seeds, 3), images, rng)
            found.append(variance_components(study["a"] - study["b"]))
        return np.log(np.maximum(np.mean(found, axis=0), FLOOR))

    def loss(log_sds: np.ndarray) -> float:
        return float(((simulated(log_sds) - target) ** 2).sum())

    start = np.log([0.5, 0.1, 1.0])
    best = optimize.minimize(loss, start, method="Nelder-Mead", options={"maxiter": 200})
    variant_image_sd, run_sd, churn_sd = np.exp(best.x)
    return Scenario(accuracy, image_sd, variant_image_sd, run_sd, churn_sd, last_k)


def family_design(transforms: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(family, transform, variant, baseline) of a full study's primary family: each transform
    alone against none, and all against all minus each."""
    alone = [("alone", t, t, "none") for t in transforms]
    company = [("in company", t, "all", f"all-minus-{t}") for t in transforms]
    return alone + company


def family_variants(transforms: Sequence[str]) -> list[str]:
    """The full design's variants: none, each transform, all, all minus each."""
    return ["none", *transforms, "all", *(f"all-minus-{t}" for t in transforms)]


def simulate_family(
    scenario: Scenario,
    transforms: Sequence[str],
    seeds: int,
    images: int,
    rng: np.random.Generator,
    planted: Mapping[str, float] | None = None,
    alpha: float = 0.05,
    margin: float = 0.01,
    methods: Sequence[str] = ("auto",),
) -> list[dict]:
    """One simulated study of the full design (none, each transform, all, all minus each) with
    ``planted`` effects per variant (accuracy units), analysed exactly as the workflow does
    (:class:`augablate.inference.StudyModel`, Holm over the primary family, the verdict rule)
    by each of ``methods`` (``"auto"``, or a method of :meth:`StudyModel.contrast`): one row
    per primary contrast and method, on the same simulated data."""
    from augablate.analysis import verdict
    from augablate.inference import StudyModel, holm

    variants = family_variants(transforms)
    planted = planted or {}
    scores = simulate_study(
        scenario, {v: planted.get(v, 0.0) for v in variants}, seeds, images, rng
    )
    model = StudyModel.fit(np.stack([scores[v] for v in variants]))
    all_rows = []
    for method in methods:
        rows = []
        for family, transform, variant, baseline in family_design(transforms):
            weights = np.zeros(len(variants))
            weights[variants.index(variant)], weights[variants.index(baseline)] = 1.0, -1.0
            name, _, level = method.partition("@")  # "auto@0.5": the auto rule at level 0.5
            estimate = model.contrast(weights, name, *([float(level)] if level else []))
            rows.append(
                {
                    "method": method,
                    "family": family,
                    "transform": transform,
                    "primary": True,
                    "seeds": seeds,
                    "difference": estimate.estimate,
                    "p_value": estimate.p_value(),
                    "p_equivalence": estimate.equivalence_p_value(margin),
                    "used": estimate.method,
                }
            )
        for row, adjusted, equivalent in zip(
            rows,
            holm([r["p_value"] for r in rows]),
            holm([r["p_equivalence"] for r in rows]),
            strict=True,
        ):
            row.update(p_holm=adjusted, p_equivalence_holm=equivalent)
            row["verdict"] = verdict(row, alpha)
        all_rows += rows
    return all_rows


def calibration_markdown(results: Mapping) -> str:
    """The calibration table of docs/statistics.md from ``benchmarks/calibration.json``: per
    scenario and method, the false-positive rate per test (mean over the 12 contrasts / the
    worst contrast), the family-wise rate of false verdicts, and the measured power for a
    planted 3-point effect after Holm (tests/test_calibration.py checks the page holds this)."""

    def percent(value):
        return f"{100 * value:.1f}"

    methods = list(results["methods"])
    header = ["scenario"] + [f"{m}: per test / worst / family (%)" for m in methods]
    header += [f"power after Holm: {' / '.join(methods)} (%)"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, scenario in results["scenarios"].items():
        null, planted = scenario["null"], scenario["planted"]
        cells = [name]
        for method in methods:
            found = null[method]
            cells.append(
                f"{percent(found['false_positive_rate_per_test'])} / "
                f"{percent(found['false_positive_rate_per_contrast_max'])} / "
                f"{percent(found['familywise_false_verdict_rate'])}"
            )
        cells.append(
            " / ".join(f"{100 * planted[m]['power_holm_family_measured']:.0f}" for m in methods)
        )
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
