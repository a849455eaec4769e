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
chi-square with its degrees of freedom, and treats the precisely estimated image part as known
(a generalized pivotal quantity, Weerahandi 1993): with no image part this is exactly the paired
t-test over seeds, and with many seeds it becomes a normal test. With one seed only image
sampling can be assessed (a t-test over images), and the population is named so.

A contrast's own table knows its seed part with S - 1 degrees of freedom only (2 with 3 seeds:
at Holm's level over 12 contrasts the t quantile is about 14). :class:`StudyModel` estimates the
run part once from all runs of a study, with (V - 1)(S - 1) degrees of freedom, when the
contrast's variants' runs do not vary more than the others' (else the contrast keeps its own
seeds); ``benchmarks/calibration.py`` measures both on simulated studies, including variants
whose runs vary 4 times as much and runs that collapse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import interpolate, optimize, special, stats

#: A standard error at or below this (accuracy units, 1 = 100 points) means the compared runs
#: agree on every image: there is no variation to test.
SE_TOLERANCE = 1e-9

SEEDS_AND_IMAGES = "seeds and images"
IMAGES_ONLY = "images (one seed)"

# The reference law of an estimate: Z * sqrt(uncertain * df / W + known), Z standard normal, W
# chi-square with df degrees of freedom. Its tail is integrated over Z (Gauss-Legendre), where the
# chi-square enters through its distribution function: the lower tail of W, which carries most
# of a small p-value, is then exact instead of being cut off at the first of a grid of quantile
# nodes (the old midpoint nodes lost up to 1/4096 of every p-value: 1.76e-4 for 2.10e-4).
_Z_NODES, _Z_WEIGHTS = np.polynomial.legendre.leggauss(256)
_Z_MAX = 12.0  # the normal density beyond is below 1e-31
_POWER_NODES = (np.arange(96) + 0.5) / 96  # the estimated seed part, for power


def reference_tail(x, uncertain, df: float, known: float) -> np.ndarray:
    """P(|Z| * sqrt(uncertain * df / W + known) > x), W ~ chi-square(df): the two-sided tail
    of the reference law at ``x`` (arrays of x and uncertain broadcast)."""
    x, uncertain = np.broadcast_arrays(np.asarray(x, float), np.asarray(uncertain, float))
    shape = x.shape
    x, uncertain = x.ravel(), uncertain.ravel()
    out = np.empty_like(x)
    plain = (uncertain <= 0) | ~np.isfinite(df) | (df <= 0)
    if plain.any():  # the variance is known: a normal test
        out[plain] = 2 * _normal_sf(x[plain] / math.sqrt(max(known, 1e-300)))
    rest = ~plain
    if rest.any():
        xr, ur = np.abs(x[rest]), uncertain[rest]
        if known <= 0:  # a t-test
            out[rest] = 2 * stats.t.sf(xr / np.sqrt(ur), df)
        else:
            # |Z| s > x  <=>  W < uncertain df z^2 / (x^2 - known z^2) for z < x / sqrt(known)
            z_all = xr / math.sqrt(known)
            top = np.minimum(z_all, _Z_MAX)
            z = top[:, None] * (_Z_NODES[None, :] + 1) / 2
            room = np.maximum(xr[:, None] ** 2 - known * z**2, 1e-300)
            inner = special.chdtr(df, ur[:, None] * df * z**2 / room)
            density = np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)
            integral = (inner * density * _Z_WEIGHTS[None, :]).sum(axis=1) * top / 2
            out[rest] = 2 * integral + 2 * _normal_sf(z_all)
    return np.minimum(out, 1.0).reshape(shape)


def _one_sided(a, uncertain, df, known):
    """P(Z * scale > a) under the reference law (symmetric about 0)."""
    a = np.asarray(a, float)
    half = reference_tail(np.abs(a), uncertain, df, known) / 2
    return np.where(a >= 0, half, 1 - half)


#: How a contrast's run (seed) variance was estimated (the contrasts table's ``method``).
POOLED = "pooled runs"
PER_VARIANT = "per-variant runs"
OWN = "own seeds"
HIGHER_ORDER = "higher-order effects"  # one seed: runs from effects no low-order effect shares


@dataclass(frozen=True)
class CrossedEstimate:
    """The mean of a seeds x images table (or a contrast of a study's variants) with its
    uncertainty over both populations.

    ``uncertain_part`` is the variance of the estimate due to runs, known with
    ``uncertain_df`` degrees of freedom; ``image_part`` the one due to images, treated as
    known. ``df_per_seed`` is how the df grow with seeds (df = df_per_seed * (seeds - 1)):
    1 for a contrast's own seeds, V - 1 for runs pooled over a study of V variants.
    """

    estimate: float
    seeds: int
    images: int
    uncertain_part: float  # variance of the estimate known with uncertain_df (the seed part)
    uncertain_df: float
    image_part: float  # variance of the estimate treated as known (var_b / I)
    seed_variance: float = math.nan  # var_a, var_b, var_e: the ANOVA components (for power)
    image_variance: float = math.nan
    residual_variance: float = math.nan
    df_per_seed: float = 1.0
    method: str = OWN
    method_reason: str = "the contrast's own seeds"

    @property
    def population(self) -> str:
        return SEEDS_AND_IMAGES if self.seeds > 1 or self.method == HIGHER_ORDER else IMAGES_ONLY

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.uncertain_part + self.image_part)

    @property
    def testable(self) -> bool:
        return self.standard_error > SE_TOLERANCE and self.uncertain_df > 0

    def _tail(self, x):
        return reference_tail(x, self.uncertain_part, self.uncertain_df, self.image_part)

    def p_value(self, null: float = 0.0) -> float:
        """Two-sided p-value of ``delta == null``."""
        if not self.testable:
            return math.nan
        return float(self._tail(abs(self.estimate - null)))

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
        args = (self.uncertain_part, self.uncertain_df, self.image_part)
        above = _one_sided(self.estimate + margin, *args)  # H0: delta <= -margin
        below = 1 - _one_sided(self.estimate - margin, *args)  # H0: delta >= margin
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
            self.df_per_seed,
        )

    def _estimated_parts(self) -> np.ndarray:
        """The estimated seed part at the nodes of its sampling law (true part: this one)."""
        ratio = stats.chi2.ppf(_POWER_NODES, self.uncertain_df) / self.uncertain_df
        return self.uncertain_part * ratio

    def _rejection_half_widths(self, alpha: float) -> np.ndarray:
        """The test's critical half-width at the nodes of the sampling law of the estimated
        seed part (the design's true parts being this estimate's)."""
        return critical_half_widths(
            self._estimated_parts(), self.uncertain_df, self.image_part, alpha
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

    def minimum_detectable_effect_interval(
        self, alpha: float = 0.05, power: float = 0.8, confidence: float = 0.95
    ) -> tuple[float, float]:
        """A ``confidence`` interval of the MDE: the MDE at the ends of the chi-square interval
        of the true seed part (the MDE grows with it; the image part is treated as known)."""
        if not self.testable:
            return (math.nan, math.nan)
        tail = (1 - confidence) / 2
        ends = []
        for q in (1 - tail, tail):  # a large chi-square draw means a small true part
            part = self.uncertain_part * self.uncertain_df / stats.chi2.ppf(q, self.uncertain_df)
            ends.append(replace(self, uncertain_part=part).minimum_detectable_effect(alpha, power))
        return (ends[0], ends[1])

    def equivalence_power(self, margin: float, alpha: float = 0.05) -> float:
        """Chance that TOST at ``alpha`` (each side) establishes ``|delta| < margin`` when the
        true effect is 0, over the sampling laws of the estimate and of its seed part."""
        if not self.testable:
            return math.nan
        reach = margin - _one_sided_critical(
            self._estimated_parts(), self.uncertain_df, self.image_part, alpha
        )
        inside = 1 - 2 * _normal_sf(np.maximum(reach, 0) / self.standard_error)
        return float(np.where(reach > 0, inside, 0.0).mean())

    def smallest_equivalence_margin(self, alpha: float = 0.05, power: float = 0.8) -> float:
        """The smallest margin m for which TOST at ``alpha`` establishes ``|delta| < m`` with
        ``power`` when the true effect is 0: narrower equivalence is out of this design's
        reach."""
        if not self.testable:
            return math.nan
        criticals = _one_sided_critical(
            self._estimated_parts(), self.uncertain_df, self.image_part, alpha
        )
        total = self.standard_error

        def reached(margin):
            reach = np.maximum(margin - criticals, 0)
            return float((1 - 2 * _normal_sf(reach / total)).mean()) - power

        high = float(criticals.max()) + 20 * total
        return float(optimize.brentq(reached, 0.0, high, xtol=1e-9))


def _one_sided_critical(uncertain, df, known, alpha) -> np.ndarray:
    """The c with P(Z * scale > c) = alpha under the reference law, per uncertain part."""
    return critical_half_widths(uncertain, df, known, 2 * alpha)


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


def critical_half_widths(uncertain: np.ndarray, df: float, known: float, alpha: float):
    """:func:`critical_half_width` for an array of uncertain parts (bisection, vectorized; for
    many parts, on 24 log-spaced ones and a cubic spline in log-log between them: the
    half-width is a smooth function of the part, and the power's 96 nodes then cost 24)."""
    uncertain = np.asarray(uncertain, dtype=float)
    positive = uncertain[uncertain > 0]
    if len(uncertain) > 24 and len(positive) == len(uncertain) and np.ptp(positive) > 0:
        grid = np.geomspace(positive.min(), positive.max(), 24)
        spline = interpolate.CubicSpline(
            np.log(grid), np.log(_bisected_half_widths(grid, df, known, alpha))
        )
        return np.exp(spline(np.log(uncertain)))
    return _bisected_half_widths(uncertain, df, known, alpha)


def _bisected_half_widths(uncertain: np.ndarray, df: float, known: float, alpha: float):
    """The half-widths by the Illinois method (regula falsi that halves a stale end's value) on
    log tail - log alpha, vectorized: about 10 evaluations of the tail where bisection took
    50, always within a bracket."""
    scale = np.sqrt(uncertain + known)
    low, high = np.zeros(len(uncertain)), scale * 10
    while True:  # widen until the tail at the upper end is below alpha
        short = reference_tail(high, uncertain, df, known) > alpha
        if not short.any():
            break
        low = np.where(short, high, low)
        high = np.where(short, high * 4, high)
    target = math.log(alpha)

    def gap(x):
        return np.log(np.maximum(reference_tail(x, uncertain, df, known), 1e-300)) - target

    f_low, f_high = gap(low), gap(high)
    for _ in range(100):
        x = high - f_high * (high - low) / (f_high - f_low)
        x = np.where(np.isfinite(x), x, (low + high) / 2)
        f = gap(x)
        crossed = np.sign(f) != np.sign(f_high)
        # the end kept for a second time in a row has its value halved (Illinois)
        low, f_low = np.where(crossed, high, low), np.where(crossed, f_high, f_low / 2)
        high, f_high = x, f
        if np.all((np.abs(high - low) <= 1e-12 * scale) | (np.abs(f) <= 1e-13)):
            break
    return high


def design(
    seed_variance: float,
    image_variance: float,
    residual_variance: float,
    seeds: int,
    images: int,
    df_per_seed: float = 1.0,
) -> CrossedEstimate:
    """The uncertainty of a study with ``seeds`` seeds and ``images`` images whose contrasts
    have these variance components (estimate 0), e.g. for its power. ``df_per_seed``: the
    degrees of freedom of the seed part per seed beyond the first (1 for a contrast's own
    seeds, V - 1 for runs pooled over V variants)."""
    return CrossedEstimate(
        0.0,
        seeds,
        images,
        (seed_variance + residual_variance / images) / seeds,
        df_per_seed * (seeds - 1.0),
        image_variance / images,
        seed_variance,
        image_variance,
        residual_variance,
        df_per_seed,
        POOLED if df_per_seed > 1 else OWN,
        "design",
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


def contrast_weights(weights, variants: int) -> np.ndarray:
    """``weights`` as a contrast of ``variants`` variants (numbers summing to 0, not all 0)."""
    w = np.asarray(weights, dtype=float)
    if w.shape != (variants,) or abs(w.sum()) > 1e-9 or not w.any():
        raise ValueError(f"contrast weights must be {variants} numbers summing to 0: {w}")
    return w


#: The level below which the study's runs are taken to differ in variance between variants.
HOMOGENEITY_LEVEL = 0.5


@dataclass(frozen=True)
class StudyModel:
    """One model of all runs of a study: per-image scores ``y[v, s, i]`` of V variants x S
    seeds x I images, every run scoring the same images, seeds crossed with variants.

        y[v, s, i] = mu + alpha_v + a_s + b_i + (ab)_si + c_vs + g_vi + e_vsi

    with the variant effect ``alpha`` fixed; run (variant x seed) ``c``, image x variant ``g``
    and residual ``e`` random; the seed main effect ``a`` and seed x image ``(ab)`` shared by
    every variant (they cancel in a contrast). A contrast with weights w (sum 0) over the
    variants has variance

        sum(w^2) [var_c / S + var_g / I + var_e / (S I)]
            = sum(w^2) [MS_VS + (MS_VI - MS_VSI)] / (S I),

    so the run part ``sum(w^2) MS_VS / (S I)`` is known with (V - 1)(S - 1) degrees of freedom
    (the balanced three-way ANOVA without replication; method of moments = REML when the
    components are positive): every contrast borrows the df of the whole study instead of its
    own S - 1. The image part is taken from the contrast's own seeds x images table (about
    I - 1 df, nothing to borrow, and variants do not change the same images alike).

    Pooling assumes every variant's runs vary alike. Each contrast checks it for its own
    variants (:meth:`run_variance_ratio`); see :meth:`contrast` for what is done when they
    vary more than the others.
    """

    means: np.ndarray  # [V, S] run means over images
    scores: np.ndarray = field(repr=False)  # [V, S, I]
    ms_run: float  # MS_VS: variant x seed
    ms_variant_image: float  # MS_VI
    ms_residual: float  # MS_VSI
    run_spreads: np.ndarray  # [V] sum_s run[v, s]^2 / (S - 1), run = the VS interaction

    @classmethod
    def fit(cls, scores: np.ndarray) -> StudyModel:
        scores = np.asarray(scores, dtype=float)
        if scores.ndim != 3:
            raise ValueError(f"scores must be [variants, seeds, images], got {scores.shape}")
        variants, seeds, images = scores.shape
        if variants < 3 or seeds < 2 or images < 2:
            raise ValueError(
                f"a study model needs 3 variants, 2 seeds and 2 images, got {scores.shape}"
            )
        grand = scores.mean()
        vs, vi, si = scores.mean(axis=2), scores.mean(axis=1), scores.mean(axis=0)
        v, s, i = vs.mean(axis=1), vs.mean(axis=0), vi.mean(axis=0)
        run = vs - v[:, None] - s[None, :] + grand
        variant_image = vi - v[:, None] - i[None, :] + grand
        residual = (
            scores
            - vs[:, :, None]
            - vi[:, None, :]
            - si[None, :, :]
            + v[:, None, None]
            + s[None, :, None]
            + i[None, None, :]
            - grand
        )
        ms_run = images * float((run**2).sum()) / ((variants - 1) * (seeds - 1))
        ms_vi = seeds * float((variant_image**2).sum()) / ((variants - 1) * (images - 1))
        ms_residual = float((residual**2).sum()) / ((variants - 1) * (seeds - 1) * (images - 1))
        return cls(vs, scores, ms_run, ms_vi, ms_residual, (run**2).sum(axis=1) / (seeds - 1))

    @property
    def run_variances(self) -> np.ndarray:
        """Each variant's own variance of a run's mean score, var_c(v) + var_e(v) / I: Shukla's
        (1972) unbiased estimator from the variant x seed table (can be negative)."""
        variants = self.shape[0]
        spread = self.run_spreads
        return variants / (variants - 2) * (spread - spread.sum() / (variants * (variants - 1)))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.scores.shape

    @property
    def run_df(self) -> int:
        variants, seeds, _ = self.shape
        return (variants - 1) * (seeds - 1)

    def contrast(
        self, weights, method: str = "auto", level: float = HOMOGENEITY_LEVEL
    ) -> CrossedEstimate:
        """The contrast ``sum_v w_v y[v]`` with its uncertainty over seeds and images.

        ``method``: ``POOLED`` (the run part from MS_VS, (V - 1)(S - 1) df), ``PER_VARIANT``
        (the run part from the variants' own run variances, Satterthwaite's df), ``OWN`` (the
        contrast's own seeds, S - 1 df: :func:`crossed_mean`), or ``"auto"``: pooled when the
        contrast's variants' runs do not vary more than the others' (:meth:`run_variance_ratio`
        p >= :data:`HOMOGENEITY_LEVEL`), else per-variant.
        """
        variants, seeds, images = self.shape
        w = contrast_weights(weights, variants)
        table = np.tensordot(w, self.scores, axes=1)  # the contrast's seeds x images table
        own = crossed_mean(table)
        if method == OWN:
            return own
        squares = float((w**2).sum())
        pooled = squares * self.ms_run / (seeds * images)
        heterogeneous = self._per_variant(w)
        reason = "chosen"
        if method == "auto":
            ratio, p = self.run_variance_ratio(w)
            if p >= level:
                method = POOLED
                reason = (
                    f"its variants' runs vary as the others' (ratio {ratio:.2g}, "
                    f"p = {p:.2g} >= {level:g})"
                )
            else:
                own = replace(
                    own,
                    method_reason=(
                        f"its variants' runs vary more than the others' (ratio {ratio:.2g}, "
                        f"p = {p:.2g} < {level:g}): its own seeds"
                    ),
                )
                return own
        if method == POOLED:
            uncertain, df = pooled, float(self.run_df)
        elif method == PER_VARIANT:
            uncertain, df = heterogeneous
        else:
            raise ValueError(f"unknown method {method!r}")
        residual = squares * self.ms_residual
        return CrossedEstimate(
            own.estimate,
            seeds,
            images,
            uncertain_part=uncertain,
            uncertain_df=df,
            image_part=own.image_part,
            seed_variance=max(uncertain * seeds - residual / images, 0.0),
            image_variance=own.image_variance,
            residual_variance=residual,
            df_per_seed=df / (seeds - 1),
            method=method,
            method_reason=reason,
        )

    def _coefficients(self, weights: np.ndarray) -> np.ndarray:
        """a with sum_v a_v run_spreads[v] the contrast's run part from the variants' own run
        variances (Shukla's estimator, divided by S)."""
        variants, seeds, _ = self.shape
        squares = weights**2
        return (
            variants
            / (variants - 2)
            * (squares - squares.sum() / (variants * (variants - 1)))
            / seeds
        )

    def _per_variant(self, weights: np.ndarray) -> tuple[float, float]:
        """The run part from each variant's own run variance, and its Satterthwaite df."""
        seeds = self.shape[1]
        terms = self._coefficients(weights) * self.run_spreads
        total = float(terms.sum())
        if total <= 0:
            return 0.0, 0.0
        return total, total**2 / float((terms**2).sum() / (seeds - 1))

    def run_variance_ratio(self, weights) -> tuple[float, float]:
        """Do the contrast's variants' runs vary more than the study's pool says? The ratio of
        its run part from its variants' own variances to the pooled one, and the one-sided
        p-value of a ratio that large when every variant's runs vary alike (an F test of the
        contrast's variants' spreads against the other variants', Satterthwaite df)."""
        w = np.asarray(weights, dtype=float)
        variants, seeds, _ = self.shape
        involved = w != 0
        if involved.all():  # nothing left to compare with
            return 1.0, 1.0
        squares = w[involved] ** 2
        mine = self.run_spreads[involved]
        others = self.run_spreads[~involved].mean()
        numerator = float((squares * mine).sum() / squares.sum())
        df_mine = float(squares.sum() ** 2 / (squares**2).sum()) * (seeds - 1)
        df_others = float((~involved).sum() * (seeds - 1))
        if others <= 0:
            return math.inf, 0.0
        ratio = numerator / others
        return ratio, float(stats.f.sf(ratio, df_mine, df_others))


@dataclass(frozen=True)
class UnreplicatedModel:
    """A two-level design with one seed per design point: per-image scores ``y[v, i]`` of V
    points x I images, with the model of :class:`StudyModel` at S = 1,

        y[v, i] = mu + alpha_v + b_i + c_v + g_vi + e_vi.

    One seed cannot tell a point's run luck ``c_v`` from its effect, so the run part of a
    contrast comes from the design's contrasts that only interactions of three or more
    transforms share (``error_weights``, :meth:`augablate.design.Design.higher_order_columns`),
    taken as negligible: the classical error estimate of an unreplicated factorial. A contrast
    with weights w (sum 0) has variance

        sum(w^2) [var_c + (var_g + var_e) / I] + var_h(w) / I,

    the first term shared by every contrast (the V runs vary alike) and ``var_h``: a
    transform's own systematic change of single images, which shows in its main effect and
    not in a higher-order one. The first is the mean of the r error contrasts' squares per
    unit of sum(w^2): a scaled chi-square with r degrees of freedom (the run part, uncertain).
    The second is the contrast's own per-image variance beyond what the error contrasts' per-
    image variance says the first holds (the image part, known from about I - 1 df; at least
    0). Both populations, seeds and validation images, are sampled; ``benchmarks`` and
    ``tests/test_unreplicated.py`` measure the calibration on simulated studies.
    """

    scores: np.ndarray = field(repr=False)  # [V, I]
    run_unit: float  # the run part of a contrast with sum(w^2) = 1
    image_unit: float  # the per-image variance / I of such a contrast, in the error contrasts
    df: int  # the error contrasts

    @classmethod
    def fit(cls, scores: np.ndarray, error_weights: Sequence[np.ndarray]) -> UnreplicatedModel:
        scores = np.asarray(scores, dtype=float)
        if scores.ndim == 3 and scores.shape[1] == 1:
            scores = scores[:, 0, :]
        if scores.ndim != 2 or scores.shape[1] < 2:
            raise ValueError(f"scores must be [design points, images], got {scores.shape}")
        images = scores.shape[1]
        runs, spreads = [], []
        for weights in error_weights:
            w = contrast_weights(weights, scores.shape[0])
            table = w @ scores
            squares = float((w**2).sum())
            runs.append(float(table.mean()) ** 2 / squares)
            spreads.append(float(table.var(ddof=1)) / images / squares)
        if not runs:
            return cls(scores, math.nan, math.nan, 0)
        return cls(scores, float(np.mean(runs)), float(np.mean(spreads)), len(runs))

    def contrast(self, weights) -> CrossedEstimate:
        points, images = self.scores.shape
        w = contrast_weights(weights, points)
        table = w @ self.scores
        squares = float((w**2).sum())
        own = float(table.var(ddof=1)) / images
        if not self.df:
            reason = (
                "one seed, and no contrast of the design is free of main effects and "
                "two-factor interactions: nothing measures how runs vary (add a seed)"
            )
            return CrossedEstimate(
                float(table.mean()), 1, images, 0.0, 0.0, own, method=OWN, method_reason=reason
            )
        image_part = max(own - squares * self.image_unit, 0.0)
        return CrossedEstimate(
            float(table.mean()),
            1,
            images,
            uncertain_part=squares * self.run_unit,
            uncertain_df=float(self.df),
            image_part=image_part,
            # the components as if every run's own per-image noise were churn (it shrinks with
            # seeds); one seed cannot tell churn from a point's own image effects
            seed_variance=squares * (self.run_unit - self.image_unit),
            image_variance=image_part * images,
            residual_variance=squares * self.image_unit * images,
            df_per_seed=points - 1.0,
            method=HIGHER_ORDER,
            method_reason=(
                f"one seed: how runs vary from the design's {self.df} contrasts that only "
                "interactions of three or more transforms share (taken as negligible)"
            ),
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
