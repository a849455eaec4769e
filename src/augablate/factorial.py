"""Effects of a factorial study: main effects and two-factor interactions with their intervals
over seeds and images, from the one model of all runs (:class:`augablate.inference.StudyModel`).

- A transform's **main effect**: the mean validation accuracy of the design's runs with the
  transform on minus the mean with it off, *averaged over the other transforms' settings*.
  Every training of the design informs it.
- An **interaction** of two transforms: how much larger the effect of one is when the other is
  on than when it is off (the same number both ways round). Negative: they stand in for one
  another (together they add less than the sum of their parts); positive: they reinforce.

In a fraction (2^(k-p)) some effects share their contrast column with others (aliases): the
table names one per chain and lists the rest; its number is their sum. Main effects form the
primary family (Holm's correction, the three verdicts); interactions are descriptive unless
``design.interactions_primary`` says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from augablate.design import Design

MAIN, INTERACTION = "main effect", "interaction"

EFFECT_COLUMNS = [
    "effect",
    "kind",
    "transforms",
    "aliases",
    "primary",
    "population",
    "method",
    "runs",
    "seeds",
    "images",
    "difference",
    "ci_low",
    "ci_high",
    "standard_error",
    "df",
    "p_value",
    "p_holm",
    "margin",
    "p_equivalence",
    "p_equivalence_holm",
    "minimum_detectable_effect",
    "minimum_detectable_effect_ci_low",
    "minimum_detectable_effect_ci_high",
    "smallest_margin",
    "one_at_a_time_seeds_low",
    "one_at_a_time_seeds_high",
    "verdict",
]


def effect_weights(design: Design, label: str) -> np.ndarray:
    """Weights over the design points (the design's order) of an effect: a main effect is the
    mean at +1 minus the mean at -1 (weights +-2/N); an interaction ``a:b`` the effect of a
    with b on minus with b off (weights +-4/N)."""
    column = design.effect_columns(order=label.count(":") + 1)[label]
    return column / (design.runs / (2 * (label.count(":") + 1)))


def effect_labels(design: Design, order: int = 2) -> list[tuple[str, list[str]]]:
    """(effect, its aliases) for each distinct estimable effect up to ``order`` factors: the
    first of each alias chain in the design's order (main effects first)."""
    aliases = design.aliases(order)
    seen: set[str] = set()
    labels = []
    for label in design.effect_columns(order):
        if label in seen:
            continue
        seen.update([label, *aliases[label]])
        labels.append((label, aliases[label]))
    return labels


def effects_table(
    scores: np.ndarray,
    design: Design,
    *,
    alpha: float = 0.05,
    margin: float = 0.01,
    interactions_primary: bool = False,
    detectable: bool = True,
) -> pd.DataFrame:
    """Every estimable main effect and two-factor interaction of ``design`` from ``scores``
    [design points in the design's order, seeds, images] (accuracy units, 1 = 100 points).

    The MDE (80% power, at Holm's strictest level for the primary family), its 95% interval
    (over the chi-square law of the run part) and the narrowest equivalence margin established
    with 80% power when the true effect is 0 say what the design can show, per effect.
    For each primary effect, ``one_at_a_time_seeds_low``/``_high``: the seeds per variant a
    one-at-a-time study of the same transforms would need for its contrasts to detect the same
    MDE at its own Holm level (:func:`one_at_a_time_seeds`; inf: no number of seeds would).
    ``detectable`` False leaves those columns empty: the tests and verdicts are the same, and
    the calibration's thousands of simulated studies are spared their root-finding."""
    from augablate.analysis import with_verdicts

    model = study_model(scores, design)
    labels = effect_labels(design)
    primary_count = sum(1 for label, _ in labels if ":" not in label or interactions_primary)
    level = alpha / max(primary_count, 1)
    rows = []
    for label, aliases in labels:
        kind = INTERACTION if ":" in label else MAIN
        primary = kind == MAIN or interactions_primary
        estimate = model.contrast(effect_weights(design, label))
        low, high = estimate.interval(1 - alpha)
        reach = _reach(estimate, level if primary else alpha) if detectable else [math.nan] * 4
        seeds_needed = [math.nan, math.nan]
        if detectable and primary:
            factors = len(design.factors)
            seeds_needed = [
                one_at_a_time_seeds(
                    components, design.runs, 2 * factors + 2, alpha / (2 * factors), reach[0], share
                )
                for components, share in _cost_brackets(estimate)
            ]
        rows.append(
            {
                "effect": label,
                "kind": kind,
                "transforms": label.replace(":", " and "),
                "aliases": " = ".join(aliases),
                "primary": primary,
                "population": estimate.population,
                "method": estimate.method,
                "runs": design.runs,
                "seeds": estimate.seeds,
                "images": estimate.images,
                "difference": estimate.estimate,
                "ci_low": low,
                "ci_high": high,
                "standard_error": estimate.standard_error,
                "df": estimate.uncertain_df,
                "p_value": estimate.p_value(),
                "margin": margin,
                "p_equivalence": estimate.equivalence_p_value(margin),
                "minimum_detectable_effect": reach[0],
                "minimum_detectable_effect_ci_low": reach[1],
                "minimum_detectable_effect_ci_high": reach[2],
                "smallest_margin": reach[3],
                "one_at_a_time_seeds_low": seeds_needed[0],
                "one_at_a_time_seeds_high": seeds_needed[1],
            }
        )
    return with_verdicts(pd.DataFrame(rows), alpha)[EFFECT_COLUMNS]


def study_model(scores: np.ndarray, design: Design):
    """The one model of all runs of a factorial study, ``scores`` [design points in the
    design's order, seeds, images]: :class:`augablate.inference.StudyModel` with two seeds or
    more; with one, :class:`augablate.inference.UnreplicatedModel` on the design's contrasts
    that only interactions of three or more transforms share."""
    from augablate.inference import StudyModel, UnreplicatedModel

    scores = np.asarray(scores, dtype=float)
    if scores.shape[1] == 1:
        return UnreplicatedModel.fit(scores, error_weights(design))
    return StudyModel.fit(scores)


def error_weights(design: Design) -> list[np.ndarray]:
    """The weights of the design's contrasts that only interactions of three or more
    transforms share, scaled as a main effect's (+-2/N)."""
    return [c / (design.runs / 2) for c in design.higher_order_columns().values()]


#: The overall effects of augmentation a factorial study estimates (its ``overall.csv``):
#: name, what it is, and its weights over the design points from their variants' names.
OVERALL = (
    (
        "all vs none",
        "every transform on against every one off: the two design points' runs",
        lambda names: [1.0 if n == "all" else -1.0 if n == "none" else 0.0 for n in names],
    ),
    (
        "sum of main effects",
        "every transform on against off as the main effects add up (all vs none without "
        "the higher-order interactions that their two points also hold)",
        None,
    ),
    (
        "any augmentation vs none",
        "the mean of every design point with a transform on against none",
        lambda names: [-1.0 if n == "none" else 1.0 / (len(names) - 1) for n in names],
    ),
)

OVERALL_COLUMNS = [
    "effect",
    "meaning",
    "population",
    "method",
    "seeds",
    "difference",
    "ci_low",
    "ci_high",
    "standard_error",
    "df",
    "p_value",
]


def overall_table(scores: np.ndarray, design: Design, enabled: Sequence[str]) -> pd.DataFrame:
    """What augmentation as a whole does in a factorial study (:data:`OVERALL`): descriptive
    contrasts of its design points from the one model of all runs (:func:`study_model`),
    each with its 95% CI over seeds and images; what a none-vs-all study measures, for
    comparing the two (``all vs none`` needs both points in the design, ``any augmentation vs
    none`` the point ``none``)."""
    names = design.variants(enabled)
    model = study_model(scores, design)
    rows = []
    for effect, meaning, weights in OVERALL:
        if weights is None:
            w = sum(effect_weights(design, factor) for factor in design.factors)
        elif "none" not in names or (effect == "all vs none" and "all" not in names):
            continue  # the fraction has no such design point
        else:
            w = np.asarray(weights(names), dtype=float)
        estimate = model.contrast(w)
        low, high = estimate.interval(0.95)
        rows.append(
            {
                "effect": effect,
                "meaning": meaning,
                "population": estimate.population,
                "method": estimate.method,
                "seeds": estimate.seeds,
                "difference": estimate.estimate,
                "ci_low": low,
                "ci_high": high,
                "standard_error": estimate.standard_error,
                "df": estimate.uncertain_df,
                "p_value": estimate.p_value(),
            }
        )
    return pd.DataFrame(rows, columns=OVERALL_COLUMNS)


def primary_questions(
    design: Design, enabled: Sequence[str], interactions_primary: bool = False
) -> list:
    """The primary family of a factorial study as the sequential top-up's questions
    (:class:`augablate.sequential.Question`): each main effect (and, with
    ``interactions_primary``, each two-factor interaction chain), named as in
    :func:`effects_table`, with its weights over the design points (their variants)."""
    from augablate.sequential import Question

    points = design.variants(enabled)
    questions = []
    for label, _ in effect_labels(design):
        if ":" in label and not interactions_primary:
            continue
        weights = dict(zip(points, effect_weights(design, label).tolist(), strict=True))
        questions.append(Question(label, weights, INTERACTION if ":" in label else MAIN))
    return questions


def _cost_brackets(estimate) -> list[tuple]:
    """The two ends of what a one-at-a-time study would need, as (components, transform
    share) for :func:`one_at_a_time_seeds`: with seeds, a transform's change of single images
    wholly its own or independent per design point. With one seed per point (the run part
    from higher-order contrasts) the transform's own change is measured (the effect's image
    part), and what is not known is whether a run's other per-image noise is churn (it shrinks
    with seeds) or the point's own image effects (they do not, but average over points)."""
    from augablate.inference import HIGHER_ORDER

    if estimate.method != HIGHER_ORDER:
        return [(estimate, 1.0), (estimate, 0.0)]
    own, noise = estimate.image_variance, estimate.residual_variance
    # none of the noise is churn: what runs vary beyond it is their luck, at least 0 (a luck
    # below 0 would make the planned run part negative, and the MDE grow with seeds)
    luck = max(estimate.seed_variance, 0.0)
    fixed = replace(estimate, seed_variance=luck, residual_variance=0.0, image_variance=own + noise)
    share = own / (own + noise) if own + noise > 0 else 1.0
    return [(estimate, 1.0), (fixed, share)]


def _reach(estimate, level: float) -> list[float]:
    """What an effect's design can show at ``level``: its MDE, the MDE's 95% interval and the
    narrowest equivalence margin reached with 80% power at a true effect of 0."""
    low, high = estimate.minimum_detectable_effect_interval(level)
    return [
        estimate.minimum_detectable_effect(level),
        low,
        high,
        estimate.smallest_equivalence_margin(level),
    ]


def one_at_a_time_seeds(
    estimate,
    runs: int,
    variants: int,
    level: float,
    target: float,
    transform_share: float,
    most: int = 10_000,
) -> float:
    """The seeds per variant a one-at-a-time study (``variants`` variants, its run part pooled
    over them) would need for a contrast of two of its variants to detect ``target`` with 80%
    power at ``level``, from a main effect's ``estimate`` in a two-level design of ``runs``
    points: the inverse of :func:`augablate.simulate.main_effect_design`. A contrast's run,
    churn and independent image parts are ``runs / 2`` times a main effect's (its weights'
    squares sum to 2 against 4 / runs); a transform's own change of single images (the share
    ``transform_share`` of the image component) is the same in both. The run part is taken
    unfloored, as the report's MDE takes it. inf: no number of seeds up to ``most`` reaches the
    target (the image part, which seeds do not shrink, is too large)."""
    from augablate.analysis import planned_design
    from augablate.inference import HIGHER_ORDER, design

    one_seed = estimate.method == HIGHER_ORDER  # its components are set by its model
    if not estimate.testable or (estimate.seeds < 2 and not one_seed):
        return math.nan
    if not math.isfinite(target):
        return math.nan
    # the report's MDE's components (run part unfloored)
    components = estimate if one_seed else planned_design(estimate)
    scale = runs / 2
    image = (transform_share + (1 - transform_share) * scale) * components.image_variance

    def detectable(seeds: int) -> float:
        return design(
            scale * components.seed_variance,
            image,
            scale * components.residual_variance,
            seeds,
            estimate.images,
            variants - 1.0,
        ).minimum_detectable_effect(level)

    if detectable(most) > target:
        return math.inf
    if detectable(2) <= target:
        return 2.0
    low, high = 2, most  # detectable(low) > target >= detectable(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if detectable(middle) <= target else (middle, high)
    return float(high)


def design_scores(images: pd.DataFrame, variants: Sequence[str]) -> np.ndarray:
    """The per-image scores [variants in the given order, seeds, images] of the seeds and
    images every one of ``variants`` has (a design's points, in the design's order)."""
    tables = [
        images[images["variant"] == v].pivot(index="seed", columns="image", values="score")
        for v in variants
    ]
    seeds = sorted(set.intersection(*(set(t.index) for t in tables)))
    common = sorted(set.intersection(*(set(t.columns) for t in tables)))
    return np.stack([t.loc[seeds, common].to_numpy(float) for t in tables])
