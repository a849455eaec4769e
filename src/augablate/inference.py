"""Inference over seeds *and* validation images.

Every run of a study scores the same validation images, so a contrast between two variants is a
seeds x images table of per-image differences ``d[s, i]`` (variant minus baseline; an image's
score is its accuracy over the last k epochs). The quantity of interest is the mean difference
over the population of seeds *and* of images the validation split was drawn from: a new seed
gives other runs, a new validation set other images.

The model is the two-way crossed random-effects model without replication,

    d[s, i] = delta + a[s] + b[i] + e[s, i],

with a seed effect ``a`` (how much the pair of runs of seed s differs overall), an image effect
``b`` (how the variant changes image i, systematically over seeds) and their interaction ``e``
(run-to-run churn on single images). The variance of the grand mean splits into

- the *seed part*, ``var(seed means) / S``: the spread of the S per-seed mean differences, which
  carries the seed effect and the churn (``var_a / S + var_e / (S I)``), known with S - 1
  degrees of freedom only;
- the *image part*, ``var_b / I``: systematic per-image effects, estimated from the two-way
  ANOVA mean squares, ``(MS_image - MS_residual) / (S I)`` (at least 0), with about I - 1
  degrees of freedom.

The reference distribution propagates the seed part's uncertainty exactly, as a scaled
chi-square with S - 1 degrees of freedom, and treats the precisely estimated image part as
known (a generalized pivotal quantity, Weerahandi 1993): with no image part this is exactly
the paired t-test over seeds, and with many seeds it becomes a normal test. Simulated null
studies (``tests/test_calibration.py``) keep it at or below the nominal rate with 3 seeds in
every variance regime tried, where a Satterthwaite t-test rejected up to 8%. With one seed only
image sampling can be assessed (a t-test over images), and the population is named so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

#: A standard error at or below this (accuracy units, 1 = 100 points) means the compared runs
#: agree on every image: there is no variation to test.
SE_TOLERANCE = 1e-9

SEEDS_AND_IMAGES = "seeds and images"
IMAGES_ONLY = "images (one seed)"

# Quantile nodes of the chi-square law of an estimated variance (midpoints: an exact
# average for smooth functions up to O(1/n^2)).
_NODES = (np.arange(2048) + 0.5) / 2048
_POWER_NODES = (np.arange(96) + 0.5) / 96  # the estimated seed part, for power
_POWER_INNER = (np.arange(256) + 0.5) / 256  # the reference law inside each of those


def _variance_scale(df: float, nodes: np.ndarray = _NODES) -> np.ndarray:
    """df / chi2_df at quantile nodes: what an estimated variance is multiplied by to give the
    distribution of the true variance."""
    if nodes is _NODES:
        return _default_variance_scale(float(df))
    return df / stats.chi2.ppf(nodes, df)


@functools.lru_cache(maxsize=64)
def _default_variance_scale(df: float) -> np.ndarray:
    scale = df / stats.chi2.ppf(_NODES, df)
    scale.flags.writeable = False
    return scale


@dataclass(frozen=True)
class CrossedEstimate:
    """The mean of a seeds x images table with its uncertainty over both populations."""

    estimate: float
    seeds: int
    images: int
    uncertain_part: float  # variance of the estimate known with uncertain_df (the seed part)
    uncertain_df: float
    image_part: float  # variance of the estimate treated as known (var_b / I)
    seed_variance: float = math.nan  # var_a, var_b, var_e: the ANOVA components (for power)
    image_variance: float = math.nan
    residual_variance: float = math.nan

    @property
    def population(self) -> str:
        return SEEDS_AND_IMAGES if self.seeds > 1 else IMAGES_ONLY

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.uncertain_part + self.image_part)

    @property
    def testable(self) -> bool:
        return self.standard_error > SE_TOLERANCE and self.uncertain_df > 0

    def _scales(self) -> np.ndarray:
        """Standard deviations of the estimate at the nodes of the variance's law."""
        return np.sqrt(self.uncertain_part * _variance_scale(self.uncertain_df) + self.image_part)

    def p_value(self, null: float = 0.0) -> float:
        """Two-sided p-value of ``delta == null``."""
        if not self.testable:
            return math.nan
        return float(np.mean(2 * stats.norm.sf(abs(self.estimate - null) / self._scales())))

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The interval of the estimates that this test would not reject at 1 - confidence."""
        if not self.testable:
            return (math.nan, math.nan)
        half = critical_half_width(
            self.uncertain_part, self.uncertain_df, self.image_part, 1 - confidence
        )
        return (self.estimate - half, self.estimate + half)

    def equivalence_p_value(self, margin: float) -> float:
        """Two one-sided tests (TOST) of ``|delta| >= margin``: small when the whole effect
        lies within ``+-margin``."""
        if not self.testable:
            return math.nan
        scales = self._scales()
        above = np.mean(stats.norm.sf((self.estimate + margin) / scales))
        below = np.mean(stats.norm.cdf((self.estimate - margin) / scales))
        return float(max(above, below))

    def design(self, seeds: int, images: int | None = None) -> CrossedEstimate:
        """The same variance components in a study with ``seeds`` seeds (and ``images``
        images): what its estimate's uncertainty would be (estimate 0)."""
        return design(
            self.seed_variance,
            self.image_variance,
            self.residual_variance,
            seeds,
            self.images if images is None else images,
        )

    def _rejection_half_widths(self, alpha: float) -> np.ndarray:
        """The test's critical half-width at the nodes of the sampling law of the estimated
        seed part (the design's true parts being this estimate's)."""
        ratio = stats.chi2.ppf(_POWER_NODES, self.uncertain_df) / self.uncertain_df
        return critical_half_widths(
            self.uncertain_part * ratio, self.uncertain_df, self.image_part, alpha, _POWER_INNER
        )

    def power(self, effect: float, alpha: float = 0.05) -> float:
        """Chance that this design's two-sided test at ``alpha`` rejects when the true effect is
        ``effect``, averaged over the sampling law of the estimated seed part."""
        if not self.testable:
            return math.nan
        return _power(self._rejection_half_widths(alpha), effect, self.standard_error)

    def minimum_detectable_effect(self, alpha: float = 0.05, power: float = 0.8) -> float:
        """The smallest true effect detected with ``power`` by a two-sided test at ``alpha``."""
        if not self.testable:
            return math.nan
        halves, total = self._rejection_half_widths(alpha), self.standard_error
        high = float(halves.max()) + 20 * total
        return float(
            optimize.brentq(lambda x: _power(halves, x, total) - power, 0.0, high, xtol=1e-9)
        )


def _power(halves: np.ndarray, effect: float, total: float) -> float:
    reject = _normal_sf((halves - effect) / total) + _normal_sf((halves + effect) / total)
    return float(reject.mean())


def _normal_sf(x):
    """P(Z > x) for a standard normal Z: ``scipy.stats.norm.sf`` without its per-call overhead
    (the same function, ``ndtr(-x)``, equal bit for bit; the bisections call it thousands of
    times: 0.5-1 s of the default study's aggregation)."""
    return special.ndtr(-np.asarray(x, dtype=float))


def critical_half_width(uncertain: float, df: float, known: float, alpha: float) -> float:
    """The half-width h with P(|estimate - delta| > h) = alpha under the reference law."""
    return float(critical_half_widths(np.array([uncertain]), df, known, alpha)[0])


def critical_half_widths(
    uncertain: np.ndarray, df: float, known: float, alpha: float, nodes: np.ndarray = _NODES
) -> np.ndarray:
    """:func:`critical_half_width` for an array of uncertain parts (bisection, vectorized)."""
    uncertain = np.asarray(uncertain, dtype=float)
    scales = np.sqrt(uncertain[:, None] * _variance_scale(df, nodes)[None, :] + known)
    low, high = np.zeros(len(uncertain)), scales.max(axis=1) * 60
    for _ in range(64):
        middle = (low + high) / 2
        too_many = np.mean(2 * _normal_sf(middle[:, None] / scales), axis=1) > alpha
        low, high = np.where(too_many, middle, low), np.where(too_many, high, middle)
    return (low + high) / 2


def design(
    seed_variance: float, image_variance: float, residual_variance: float, seeds: int, images: int
) -> CrossedEstimate:
    """The uncertainty of a study with ``seeds`` seeds and ``images`` images whose contrasts
    have these variance components (estimate 0), e.g. for its power."""
    return CrossedEstimate(
        0.0,
        seeds,
        images,
        (seed_variance + residual_variance / images) / seeds,
        seeds - 1.0,
        image_variance / images,
        seed_variance,
        image_variance,
        residual_variance,
    )


def mean_squares(values: np.ndarray) -> tuple[float, float, float]:
    """(MS_seed, MS_image, MS_residual) of a seeds x images table (two-way ANOVA, one value
    per cell)."""
    seeds, images = values.shape
    grand = values.mean()
    seed_means, image_means = values.mean(axis=1), values.mean(axis=0)
    ms_seed = images * float(((seed_means - grand) ** 2).sum()) / (seeds - 1)
    ms_image = seeds * float(((image_means - grand) ** 2).sum()) / (images - 1)
    residual = values - seed_means[:, None] - image_means[None, :] + grand
    ms_residual = float((residual**2).sum()) / ((seeds - 1) * (images - 1))
    return ms_seed, ms_image, ms_residual


def crossed_mean(values: np.ndarray) -> CrossedEstimate:
    """The grand mean of ``values`` [seeds, images] with its uncertainty over seeds and images
    (see the module's docstring); over images only when there is one seed."""
    values = np.asarray(values, dtype=float)
    seeds, images = values.shape
    if images < 2:
        raise ValueError(f"at least 2 images are needed, got {images}")
    estimate = float(values.mean())
    if seeds == 1:  # a t-test over images
        return CrossedEstimate(
            estimate, 1, images, float(values[0].var(ddof=1)) / images, images - 1.0, 0.0
        )
    ms_seed, ms_image, ms_residual = mean_squares(values)
    return CrossedEstimate(
        estimate,
        seeds,
        images,
        uncertain_part=ms_seed / (seeds * images),
        uncertain_df=seeds - 1.0,
        image_part=max(ms_image - ms_residual, 0.0) / (seeds * images),
        seed_variance=max(ms_seed - ms_residual, 0.0) / images,
        image_variance=max(ms_image - ms_residual, 0.0) / seeds,
        residual_variance=ms_residual,
    )


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values; NaNs stay NaN and do not count in the family.

    The step-down rule written out (the i-th smallest of m p-values times m - i + 1, made
    monotone, capped at 1): statsmodels' ``multipletests(method="holm")`` gives the same
    numbers (tests/test_inference.py) but runs a full garbage collection per call, 30 ms,
    which the calibration's thousands of simulated families cannot afford.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    steps = np.arange(len(order), 0, -1)  # m, m - 1, ..., 1
    adjusted[order] = np.minimum(np.maximum.accumulate(p[order] * steps), 1.0)
    return adjusted


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test of two classifiers scored on the same images: (images only the first
    gets right, images only the second gets right, two-sided p) (statsmodels)."""
    from statsmodels.stats.contingency_tables import mcnemar

    first, second = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    only_first = int((first & ~second).sum())
    only_second = int((~first & second).sum())
    both = int((first & second).sum())
    neither = int((~first & ~second).sum())
    table = [[both, only_first], [only_second, neither]]
    return only_first, only_second, float(mcnemar(table, exact=True).pvalue)


def seeds_for_power(
    estimate: CrossedEstimate,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    max_seeds: int = 200,
) -> int | None:
    """The fewest seeds (same images) with which an effect of ``effect`` would be detected with
    ``power``, from the estimate's variance components; None beyond ``max_seeds`` or when the
    components are unknown (one seed)."""
    if estimate.seeds < 2 or not estimate.testable:
        return None
    for seeds in range(2, max_seeds + 1):
        if estimate.design(seeds).power(effect, alpha) >= power:
            return seeds
    return None
