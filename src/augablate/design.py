"""Two-level factorial designs over the transforms: which variants a study trains, and which
effects its runs can tell apart.

A factor is a transform, its levels off (-1) and on (+1, at the study's range). A design point
is the variant that switches on exactly the transforms at +1, named as the one-at-a-time design
names it (``none``, ``all``, ``all-minus-X``, ``X``, ``X+Y+Z`` in registry order), so design
points shared with another study are the same trainings.

The designs come from pyDOE3 (a maintained fork of pyDOE, the design-of-experiments routines
of the SciPy ecosystem: ``ff2n`` for the full 2^k, ``fracfact_by_res`` for the smallest
regular fraction of a resolution, ``fracfact`` for given generators, and ``fracfact_aliasing``
for the alias chains). Every training informs every main effect: a main effect is the mean of
the runs with the transform on minus the mean with it off, over the whole design.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from augablate.variants import ALL, ALL_MINUS, AND, NONE, registry_position

ONE_AT_A_TIME, FACTORIAL = "one-at-a-time", "factorial"


@dataclass(frozen=True)
class Design:
    """A two-level design: ``matrix`` [runs, factors] of -1/+1, its factors (transforms in
    registry order) and how it was made (for the report)."""

    factors: tuple[str, ...]
    matrix: np.ndarray
    how: str

    @property
    def runs(self) -> int:
        return int(self.matrix.shape[0])

    def variants(self, enabled: Sequence[str]) -> list[str]:
        """The variant of every design point, in the design's order (``enabled``: the
        transforms the study switches on, which ``all`` means)."""
        return [
            point_name(
                [f for f, level in zip(self.factors, row, strict=True) if level > 0], enabled
            )
            for row in self.matrix
        ]

    def effect_columns(self, order: int = 2) -> dict[str, np.ndarray]:
        """The contrast column of every effect up to ``order`` factors (``rotation``,
        ``rotation:zoom``), in the design's run order: products of the factor columns."""
        columns = {}
        for size in range(1, order + 1):
            for names in itertools.combinations(range(len(self.factors)), size):
                label = ":".join(self.factors[i] for i in names)
                columns[label] = np.prod(self.matrix[:, list(names)], axis=1)
        return columns

    def aliases(self, order: int = 2) -> dict[str, list[str]]:
        """For every effect up to ``order`` factors, the other effects up to ``order`` whose
        columns equal it or its negative (the same estimate): empty for a clear effect."""
        columns = self.effect_columns(order)
        return {
            label: [
                other
                for other, column2 in columns.items()
                if other != label and abs(float(column @ column2)) == self.runs
            ]
            for label, column in columns.items()
        }

    def higher_order_columns(self) -> dict[str, np.ndarray]:
        """The contrast columns that no main effect or two-factor interaction shares: one per
        alias chain of interactions of three or more transforms only (named by its first
        member of lowest order). In a study with one seed per design point they measure how
        much runs vary, if those interactions are negligible: the classical error estimate of
        an unreplicated factorial (Box, Hunter and Hunter 2005, ch. 6). None where every
        contrast carries a main effect or a two-factor interaction (a full 2^2, fractions of
        resolution III, 2^(4-1), 2^(5-1))."""
        low = {tuple(c * c[0]) for c in self.effect_columns(order=2).values()}
        columns: dict[str, np.ndarray] = {}
        for label, column in self.effect_columns(order=len(self.factors)).items():
            key = tuple(column * column[0])
            if np.ptp(column) == 0 or key in low:  # the mean, or a chain with a low-order effect
                continue
            if all(tuple(c * c[0]) != key for c in columns.values()):
                columns[label] = column
        return columns

    def alias_chains(self) -> list[str]:
        """pyDOE3's alias chains in transform names (``rotation = width_shift:height_shift:zoom``),
        interactions of every order."""
        from pyDOE3 import fracfact_aliasing

        letters = string.ascii_lowercase
        chains, _ = fracfact_aliasing(self.matrix)
        named = []
        for chain in chains:
            words = [w.strip() for w in chain.split("=")]
            named.append(
                " = ".join(":".join(self.factors[letters.index(c)] for c in w) for w in words)
            )
        return named


def point_name(on: Sequence[str], enabled: Sequence[str]) -> str:
    """The variant that switches on exactly ``on`` (transform names), as the one-at-a-time
    design names it."""
    on = [name for name in enabled if name in set(on)]  # registry order, layer transforms last
    if not on:
        return NONE
    if set(on) == set(enabled):
        return ALL
    if len(on) == len(enabled) - 1 and set(on) < set(enabled):
        return ALL_MINUS + next(name for name in enabled if name not in on)
    return AND.join(on)


def build_design(
    factors: Sequence[str], resolution: int | None = None, generators: str | None = None
) -> Design:
    """The design over ``factors`` (in registry order; layer transforms after the built-in
    ones, in the order given): full 2^k by default; the smallest regular fraction of
    ``resolution`` (pyDOE3 ``fracfact_by_res``; the full design where no fraction of that
    resolution exists); or the fraction of ``generators`` (pyDOE3 ``fracfact``, e.g.
    ``"a b c d abc abd"``: one word per factor)."""
    import pyDOE3

    factors = tuple(sorted(dict.fromkeys(factors), key=registry_position))
    k = len(factors)
    if k < 2:
        raise ValueError(
            f"a factorial design needs at least 2 transforms, got {list(factors)} "
            "(config key 'design.transforms')"
        )
    if generators:
        words = generators.split()
        if len(words) != k:
            raise ValueError(
                f"config key 'design.generators' ({generators!r}) has {len(words)} words for "
                f"{k} transforms {list(factors)}; give one word per transform"
            )
        matrix, how = pyDOE3.fracfact(generators), f"pyDOE3 fracfact({generators!r})"
    elif resolution is not None:
        try:
            matrix = pyDOE3.fracfact_by_res(k, resolution)
            how = f"pyDOE3 fracfact_by_res({k}, {resolution})"
        except ValueError:  # no fraction of that resolution: only the full design has it
            matrix, how = (
                pyDOE3.ff2n(k),
                f"pyDOE3 ff2n({k}) (no fraction has resolution {resolution})",
            )
    else:
        matrix, how = pyDOE3.ff2n(k), f"pyDOE3 ff2n({k})"
    return Design(factors, np.asarray(matrix, dtype=int), how)


def design_from_config(config: Mapping, enabled: Sequence[str]) -> Design | None:
    """The study's factorial design (config key ``design``), or None for one-at-a-time."""
    design = config.get("design") or {}
    if design.get("type", ONE_AT_A_TIME) != FACTORIAL:
        return None
    transforms = design.get("transforms") or list(enabled)
    if unknown := [t for t in transforms if t not in enabled]:
        raise ValueError(
            f"config key 'design.transforms' names {unknown}, which the study's augmentation "
            f"switches off or does not know; allowed: {list(enabled)}"
        )
    transforms = [name for name in enabled if name in set(transforms)]  # the study's order
    return build_design(transforms, design.get("resolution"), design.get("generators"))


def apply_design(config: dict) -> Design | None:
    """Set ``config['variants']`` to the design's points when the study is factorial (the
    variants list is then the design's, whatever it was); return the design or None."""
    from augablate.variants import AugmentationSettings

    enabled = AugmentationSettings.from_config(config["augmentation"]).enabled()
    design = design_from_config(config, enabled)
    if design is not None:
        config["variants"] = list(dict.fromkeys(design.variants(enabled)))
    return design
