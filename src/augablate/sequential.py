"""Seeds where the answer is open: a group-sequential top-up of a finished study.

A finished study is the first *look*. Each primary contrast that neither test has decided gets
``seeds_per_round`` more seeds for both of its variants, and the study is analysed again, up to
``rounds`` rounds fixed in advance (the plan): at most ``initial + rounds * seeds_per_round``
seeds per variant. A contrast stops at the first look at which one of its two claims is made:

- *helps / hurts*: the difference test rejects zero;
- *no effect larger than the margin*: the two one-sided tests (TOST) reject ``|delta| >= m``.

Looking again and again at growing data would inflate both error rates, so each claim is tested
at each look against a boundary of a Lan-DeMets alpha-spending function of O'Brien-Fleming
type (Lan & DeMets 1983), per side ``a(t) = 2 - 2 Phi(z_{1 - a/2} / sqrt(t))`` for a one-sided
level ``a`` (``alpha / 2`` per side of the difference test, ``alpha`` for each one-sided test
of TOST; the convention of gsDesign's ``sfLDOF``), over the information fraction
``t = seeds at the look / planned maximum of seeds``: it spends almost nothing at the first look
and leaves the last look nearly the fixed-sample level. The boundaries come from the joint law
of the z-statistics of the looks (independent increments, correlation ``sqrt(t_j / t_k)``),
integrated recursively (Armitage, McPherson & Rowe 1969); :func:`nominal_levels` gives each
look's boundary as the nominal p-value level the look's own test is compared with.

Holm's correction over the primary family is kept in its group-sequential form (Maurer & Bretz
2013; Ye et al. 2013): each family of claims (differences; equivalences) starts with
``alpha / m`` per contrast; when a contrast's claim is made, its level is passed on to the
others, whose boundaries are then those of ``alpha / (m - made)`` (as if from the start). A
contrast that stops with the other claim keeps its level unused (stopping is non-binding:
conservative).

Approximation: the boundaries assume a normal statistic with known variance; a look's test
uses the study's reference law with estimated run variance (t-like, :mod:`augablate.inference`)
at the boundary's nominal level (the p-value translation), and information counted in seeds,
which overstates it when the image part (which seeds do not shrink) is large: the looks are then
more correlated than the boundaries assume, which is conservative.
``benchmarks/sequential_calibration.py`` measures the false-positive rate this gives.

At each look the open contrasts' variants are the ones with every seed so far (a variant gets
the new seeds when any open contrast involves it, and a contrast stays open only while both of
its variants got every round's seeds): they form a balanced variants x seeds x images table,
and one model of all of its runs (:class:`augablate.inference.StudyModel`, with its fallback to
a contrast's own seeds) gives each open contrast's estimate and tests. With fewer than three
such variants a contrast uses its own seeds.

A factorial study's questions are its primary effects (main effects; interactions too with
``design.interactions_primary``), each a contrast of all design points
(:func:`augablate.factorial.effect_weights`): every point informs every effect, so a round adds
its seeds to every point while any effect is open, the design stays balanced, and each look is
:func:`augablate.factorial.effects_table`'s model of all runs at the seeds so far. The same
boundaries, the same Holm step and the same state (:class:`Question`: a contrast or an effect,
as weights over the variants) serve both designs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, special

from augablate.inference import StudyModel, crossed_mean

#: The verdicts a contrast can stop with, and the one it keeps when the plan or budget ends.
HELPS, HURTS, NEGLIGIBLE, INCONCLUSIVE, OPEN = (
    "helps",
    "hurts",
    "negligible",
    "inconclusive",
    "open",
)

_GRID = 1201  # points of the density's grid (odd: Simpson's rule)
_TAIL = 8.5  # a one-sided continuation region starts this many standard deviations below 0


def _phi_tail(x):
    """P(Z > x)."""
    return special.ndtr(-np.asarray(x, dtype=float))


def spending(fraction: float, alpha: float, sides: int = 2) -> float:
    """The Lan-DeMets O'Brien-Fleming-type spending function: the error spent by information
    fraction ``fraction`` (0..1) of a test at level ``alpha``. Per side (level ``a = alpha /
    sides``) ``2 - 2 Phi(z_{1 - a/2} / sqrt(t))``, as gsDesign's ``sfLDOF`` and ldbounds: a
    two-sided test is two one-sided ones at ``alpha / 2``."""
    if fraction <= 0:
        return 0.0
    critical = -special.ndtri(alpha / sides / 2)  # z_{1 - a/2}
    return float(sides * 2 * _phi_tail(critical / math.sqrt(min(fraction, 1.0))))


def _simpson_weights(count: int, step: float) -> np.ndarray:
    weights = np.ones(count)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    return weights * step / 3


def boundaries(fractions: Sequence[float], alpha: float, sides: int = 2) -> np.ndarray:
    """The z boundaries c_1..c_K of a group-sequential test at information ``fractions``
    (increasing, the last at most 1) that spends :func:`spending`: the chance under the null
    that ``|Z_k| >= c_k`` (``Z_k >= c_k`` one-sided) at a look k for the first time is the
    spending function's increment. Recursive numerical integration of the sub-density of the
    score statistic ``S_k = Z_k sqrt(t_k)`` (independent increments) on the continuation
    region, Simpson's rule on a grid of :data:`_GRID` points."""
    fractions = [float(t) for t in fractions]
    if any(b <= a for a, b in zip(fractions, fractions[1:], strict=False)) or fractions[0] <= 0:
        raise ValueError(f"information fractions must increase from above 0: {fractions}")
    bounds = []
    spent = 0.0
    grid = weights = density = None
    previous = 0.0
    for t in fractions:
        target = spending(t, alpha, sides) - spent
        delta = t - previous
        sd = math.sqrt(delta)

        def crossing(c, grid=grid, weights=weights, density=density, t=t, sd=sd):
            top = c * math.sqrt(t)
            if density is None:  # the first look: S_1 ~ N(0, t)
                return sides * float(_phi_tail(c))
            upper = _phi_tail((top - grid) / sd)
            if sides == 2:
                upper = upper + _phi_tail((top + grid) / sd)
            return float((weights * density * upper).sum())

        if target <= 0:
            c = math.inf
        else:
            goal = math.log(target)
            c = optimize.brentq(
                lambda x, goal=goal, crossing=crossing: math.log(max(crossing(x), 1e-300)) - goal,
                0.0,
                40.0,
                xtol=1e-10,
            )
        bounds.append(c)
        spent += max(target, 0.0)
        # the sub-density of S_k on the continuation region, for the next look
        top = c * math.sqrt(t) if math.isfinite(c) else _TAIL * math.sqrt(t)
        bottom = -top if sides == 2 else -_TAIL * math.sqrt(t)
        new_grid = np.linspace(bottom, top, _GRID)
        if density is None:
            new_density = np.exp(-(new_grid**2) / (2 * t)) / math.sqrt(2 * math.pi * t)
        else:
            kernel = np.exp(-((new_grid[:, None] - grid[None, :]) ** 2) / (2 * delta))
            kernel /= math.sqrt(2 * math.pi * delta)
            new_density = kernel @ (weights * density)
        grid, density = new_grid, new_density
        weights = _simpson_weights(_GRID, (top - bottom) / (_GRID - 1))
        previous = t
    return np.array(bounds)


def nominal_levels(fractions: Sequence[float], alpha: float, sides: int = 2) -> np.ndarray:
    """Each look's boundary as the p-value level its own test is compared with (two-sided
    ``2 (1 - Phi(c_k))``, one-sided ``1 - Phi(c_k)``)."""
    return np.array(_nominal_levels(tuple(float(t) for t in fractions), float(alpha), sides))


@functools.lru_cache(maxsize=4096)
def _nominal_levels(fractions: tuple[float, ...], alpha: float, sides: int) -> tuple:
    # a study's looks ask for few (fractions, level) pairs, the calibration for the same ones
    # thousands of times
    return tuple(sides * _phi_tail(boundaries(fractions, alpha, sides)))


@dataclass(frozen=True)
class Plan:
    """What is fixed before the first look: the study's seeds, the seeds each round adds, the
    most rounds, the family's level and the equivalence margin (a fraction: 0.01 is 1 point)."""

    initial_seeds: tuple[int, ...]
    seeds_per_round: int
    rounds: int
    alpha: float = 0.05
    margin: float = 0.01
    #: "obrien-fleming" (the procedure), or "fixed": every look at the fixed-sample level, the
    #: naive repeated test the calibration shows to inflate the error rates
    boundary: str = "obrien-fleming"

    @property
    def maximum_seeds(self) -> int:
        return len(self.initial_seeds) + self.rounds * self.seeds_per_round

    def seeds_at(self, look: int) -> int:
        """Seeds of an open contrast's variants at look ``look`` (0: the finished study)."""
        return len(self.initial_seeds) + look * self.seeds_per_round

    def fractions(self, look: int) -> list[float]:
        """The information fractions of looks 0..look (seeds over the planned maximum)."""
        return [self.seeds_at(k) / self.maximum_seeds for k in range(look + 1)]

    def round_seeds(self, round_: int) -> list[int]:
        """The seeds round ``round_`` (1, 2, ...) adds: the next ones after the study's."""
        start = max(self.initial_seeds) + (round_ - 1) * self.seeds_per_round + 1
        return list(range(start, start + self.seeds_per_round))


#: The kind of a question that compares two variants (one-at-a-time); a factorial design's
#: questions are of the kinds of :mod:`augablate.factorial` ("main effect", "interaction").
CONTRAST = "contrast"


@dataclass
class Question:
    """One primary question through the looks, open or the verdict it stopped with: a linear
    contrast of the variants' scores with ``weights`` (variant -> weight, summing to 0). A
    contrast of two variants weighs them +1 and -1; a factorial effect weighs every design
    point (:func:`augablate.factorial.effect_weights`), so it stays open only while every point
    gets every round's seeds."""

    name: str
    weights: dict[str, float]
    kind: str = CONTRAST
    status: str = OPEN
    decided_at: int | None = None
    history: list[dict] = field(default_factory=list)  # one row per look it was open at

    @classmethod
    def contrast(cls, variant: str, baseline: str) -> Question:
        """``variant`` against ``baseline``, named ``"<variant> vs <baseline>"``."""
        return cls(f"{variant} vs {baseline}", {variant: 1.0, baseline: -1.0})

    @property
    def variants(self) -> list[str]:
        """The variants it weighs, in its order (a contrast's: variant, baseline)."""
        return [variant for variant, weight in self.weights.items() if weight != 0]

    @property
    def variant(self) -> str:
        """A contrast's variant (weight +1)."""
        return self._side(1.0)

    @property
    def baseline(self) -> str:
        """A contrast's baseline (weight -1)."""
        return self._side(-1.0)

    def _side(self, weight: float) -> str:
        if self.kind != CONTRAST:
            raise ValueError(f"{self.kind} {self.name!r} is not a contrast of two variants")
        return next(v for v, w in self.weights.items() if w == weight)

    @classmethod
    def from_dict(cls, data: Mapping) -> Question:
        """From :func:`dataclasses.asdict`, or a contrast of a round file written before
        questions had weights (``variant`` and ``baseline``)."""
        data = dict(data)
        if "weights" not in data:
            variant, baseline = data.pop("variant"), data.pop("baseline")
            data["weights"] = {variant: 1.0, baseline: -1.0}
        return cls(**data)


def level_at(plan: Plan, look: int, alpha: float, sides: int) -> float:
    """The nominal p-value level of look ``look`` for a claim tested at ``alpha``."""
    if plan.boundary == "fixed":
        return alpha
    if plan.boundary != "obrien-fleming":
        raise ValueError(f"unknown boundary {plan.boundary!r}")
    return float(nominal_levels(plan.fractions(look), alpha, sides)[-1])


def look_statistics(
    tables: Mapping[str, np.ndarray],
    questions: Sequence[Question],
    margin: float,
    intervals: bool = True,
) -> dict[str, dict]:
    """The open questions' estimates and tests at one look. ``tables``: each variant of an
    open question with its seeds x images table at this look (the same seeds, rows in the same
    order, the same images). One model of their runs when there are 3 or more (a factorial
    design's points: :func:`augablate.factorial.effects_table`'s model), else each question's
    own seeds; ``intervals`` False leaves the 95% CIs out (the calibration does not need
    them)."""
    order = list(tables)
    model = None
    if len(order) >= 3:
        model = StudyModel.fit(np.stack([np.asarray(tables[v], float) for v in order]))
    found = {}
    for question in questions:
        if model is not None:
            weights = np.array([question.weights.get(v, 0.0) for v in order])
            estimate = model.contrast(weights)
        else:
            estimate = crossed_mean(
                sum(w * np.asarray(tables[v], float) for v, w in question.weights.items() if w)
            )
        low, high = estimate.interval() if intervals else (math.nan, math.nan)
        found[question.name] = {
            "seeds": estimate.seeds,
            "difference": estimate.estimate,
            "ci_low": low,
            "ci_high": high,
            "p_value": estimate.p_value(),
            "p_equivalence": estimate.equivalence_p_value(margin),
            "method": estimate.method,
            "run_df": estimate.uncertain_df,
        }
    return found


def holm_step(
    plan: Plan,
    look: int,
    p_values: Mapping[str, float],
    family_size: int,
    made: set[str],
    sides: int,
) -> tuple[set[str], dict[str, float]]:
    """Group-sequential Holm at one look for one family of claims: the contrasts (of
    ``p_values``, the open ones) whose claim is made at this look, given the claims ``made``
    before (their level passed on), and the level each was compared with last."""
    newly: set[str] = set()
    levels: dict[str, float] = {}
    while True:
        remaining = family_size - len(made) - len(newly)
        level = level_at(plan, look, plan.alpha / max(remaining, 1), sides)
        candidates = {
            name
            for name, p in p_values.items()
            if name not in newly and not math.isnan(p) and p <= level
        }
        for name in p_values:
            if name not in newly:
                levels[name] = level
        if not candidates:
            return newly, levels
        newly |= candidates


@dataclass
class SequentialState:
    """The procedure's state after a look: every primary question's status and history (the
    contrasts of a one-at-a-time study, the effects of a factorial one), the claims made in
    each family, and each variant's seeds."""

    plan: Plan
    questions: list[Question]
    look: int = -1
    made: dict[str, list[str]] = field(
        default_factory=lambda: {"difference": [], "equivalence": []}
    )
    seeds: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def start(cls, plan: Plan, pairs: Sequence[tuple[str, str]]) -> SequentialState:
        """Before the first look: ``pairs`` (variant, baseline) of the primary family."""
        return cls.of(plan, [Question.contrast(v, b) for v, b in pairs])

    @classmethod
    def of(cls, plan: Plan, questions: Sequence[Question]) -> SequentialState:
        """Before the first look: the primary family's ``questions`` (contrasts or effects)."""
        seeds = {v: list(plan.initial_seeds) for q in questions for v in q.variants}
        return cls(plan, list(questions), seeds=seeds)

    @property
    def contrasts(self) -> list[Question]:
        """The questions (a one-at-a-time study's are its primary contrasts)."""
        return self.questions

    @property
    def noun(self) -> str:
        """What the questions are, for sentences: ``contrast`` or ``effect``."""
        return "contrast" if all(q.kind == CONTRAST for q in self.questions) else "effect"

    @property
    def open(self) -> list[Question]:
        return [q for q in self.questions if q.status == OPEN]

    def open_variants(self) -> list[str]:
        """The variants of the open questions, in the order they first appear (every design
        point while any effect of a factorial design is open)."""
        return list(dict.fromkeys(v for q in self.open for v in q.variants))

    def look_at(self, tables: Mapping[str, np.ndarray], intervals: bool = True) -> None:
        """The next look: ``tables`` holds each open variant's seeds x images table over its
        seeds so far (:meth:`open_variants`, rows in the order of ``self.seeds``)."""
        self.look += 1
        plan, size = self.plan, len(self.questions)
        open_now = self.open
        stats = look_statistics(
            {v: tables[v] for v in self.open_variants()}, open_now, plan.margin, intervals
        )
        effect, effect_levels = holm_step(
            plan,
            self.look,
            {q.name: stats[q.name]["p_value"] for q in open_now},
            size,
            set(self.made["difference"]),
            2,
        )
        equivalent, equivalence_levels = holm_step(
            plan,
            self.look,
            {q.name: stats[q.name]["p_equivalence"] for q in open_now if q.name not in effect},
            size,
            set(self.made["equivalence"]),
            1,
        )
        for question in open_now:
            row = {
                "look": self.look,
                **stats[question.name],
                "level": effect_levels[question.name],
                "level_equivalence": equivalence_levels.get(question.name, math.nan),
            }
            if question.name in effect:
                question.status = HELPS if row["difference"] > 0 else HURTS
                self.made["difference"].append(question.name)
            elif question.name in equivalent:
                question.status = NEGLIGIBLE
                self.made["equivalence"].append(question.name)
            if question.status != OPEN:
                question.decided_at = self.look
            row["status"] = question.status
            question.history.append(row)

    def next_round(self) -> tuple[list[str], list[int]]:
        """The variants and seeds the next round adds (none after the plan's last look)."""
        if self.look >= self.plan.rounds or not self.open:
            return [], []
        return self.open_variants(), self.plan.round_seeds(self.look + 1)

    def add(self, variants: Sequence[str], seeds: Sequence[int]) -> None:
        for variant in variants:
            self.seeds[variant] = self.seeds[variant] + list(seeds)

    def verdicts(self) -> dict[str, str]:
        """Each question's verdict now: open ones are inconclusive."""
        return {q.name: (INCONCLUSIVE if q.status == OPEN else q.status) for q in self.questions}

    def as_dict(self) -> dict:
        return {
            "plan": asdict(self.plan),
            "look": self.look,
            "questions": [asdict(q) for q in self.questions],
            "made": self.made,
            "seeds": self.seeds,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> SequentialState:
        """From :meth:`as_dict` (or a round file whose state named its questions
        ``contrasts``, as before factorial designs could be topped up)."""
        plan = dict(data["plan"])
        plan["initial_seeds"] = tuple(plan["initial_seeds"])
        return cls(
            Plan(**plan),
            [Question.from_dict(q) for q in data.get("questions", data.get("contrasts"))],
            data["look"],
            {k: list(v) for k, v in data["made"].items()},
            {k: list(v) for k, v in data["seeds"].items()},
        )


def decide_round(state: SequentialState, budget_left: float) -> dict:
    """After a look: what the next round adds (the open questions' variants: a factorial
    design's every point; the plan's next seeds) and why, or why the procedure ends: every
    question settled, the plan's last look, or a round that the budget (trainings still
    allowed) cannot pay for in full: the whole round's trainings count, and a round the budget
    cannot pay for is not started."""
    variants, seeds = state.next_round()
    trainings = len(variants) * len(seeds)
    if not state.open:
        reason = f"every primary {state.noun} is settled"
    elif not variants:
        rounds = state.plan.rounds
        reason = f"the plan's last look ({rounds} round{'s' if rounds > 1 else ''}) is done"
    elif trainings > budget_left:
        reason = (
            f"the next round needs {trainings} trainings and the budget allows {budget_left:g} more"
        )
    else:
        state.add(variants, seeds)
        return {"variants": variants, "seeds": seeds, "trainings": trainings, "reason": ""}
    return {"variants": [], "seeds": [], "trainings": 0, "reason": reason}
