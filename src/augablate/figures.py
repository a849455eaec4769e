"""The study's figures, drawn from the tables: every point, bar and band is a number a table
holds (intervals are computed in :mod:`augablate.analysis`, never re-estimated here).

:data:`FIGURES` is the registry: a figure's file name, title, caption and drawing function;
the workflow's outputs and the report's sections are made from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from augablate.io import atomic_path

if TYPE_CHECKING:  # the plotting libraries are imported when a figure is drawn: the
    import matplotlib.pyplot as plt  # Snakefile imports this module for the registry
    import pandas as pd

#: What each learning-curve line is, in the words of its legend.
CURVE_LABELS = {
    "val": "validation: every image, once per scored epoch",
    "clean_train": "clean training: fixed sample, not augmented",
    "augmented_batch": "training batches as fed (augmented), running mean",
}
CURVE_COLORS = {"val": "#c0392b", "clean_train": "#1f3b57", "augmented_batch": "#7f8c8d"}
VERDICT_COLORS = {
    "helps": "#1e8449",
    "hurts": "#c0392b",
    "negligible": "#2874a6",
    "inconclusive": "#7f8c8d",
}


def pyplot():
    """matplotlib's pyplot, headless, with the study's seaborn theme."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt


def save(figure, path: Path | str, dpi: int = 110) -> None:
    """Write ``figure`` as PNG, complete or not at all, and close it."""
    plt = pyplot()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(figure)


def learning_curves(curves: pd.DataFrame, kind: str) -> plt.Figure:
    """Per variant: validation, clean-training and augmented-batch ``kind`` (accuracy or
    loss) per epoch, each the mean over seeds with its 95% t-interval from ``curves``."""
    from augablate.analysis import variant_order

    plt = pyplot()
    order = variant_order(curves["variant"])
    columns = min(5, len(order))
    rows = -(-len(order) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(2.7 * columns, 2.2 * rows + 0.6), sharey=True, squeeze=False
    )
    for axis, variant in zip(axes.flat, order, strict=False):
        for source, label in CURVE_LABELS.items():
            rows_of = curves[
                (curves["variant"] == variant) & (curves["measure"] == f"{source}_{kind}")
            ]
            if rows_of.empty:
                continue
            axis.plot(
                rows_of["epoch"],
                rows_of["mean"],
                color=CURVE_COLORS[source],
                label=label,
                lw=1.4,
                ls="--" if source == "augmented_batch" else "-",
            )
            axis.fill_between(
                rows_of["epoch"],
                rows_of["ci_low"],
                rows_of["ci_high"],
                color=CURVE_COLORS[source],
                alpha=0.18,
                lw=0,
            )
        axis.set_title(variant, fontsize=9)
        axis.set_xlabel("epoch")
    for axis in axes.flat[len(order) :]:
        axis.set_visible(False)
    axes[0][0].set_ylabel(kind)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, -0.02)
    )
    seeds = int(curves["seeds"].max())
    figure.suptitle(
        f"{kind} per epoch: mean over {seeds} seed(s), band = 95% t-interval over seeds", y=1.0
    )
    figure.tight_layout(rect=(0, 0.06, 1, 0.97))
    return figure


def variant_intervals(table: pd.DataFrame, runs: pd.DataFrame, metric: str, interval: str):
    """Per variant (rows of ``table``, drawn top to bottom): the mean of ``metric`` with the
    95% interval the table holds, and every seed's run as a point. Returns (figure, axis)."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 0.38 * len(table) + 1.4))
    y = np.arange(len(table))[::-1]
    axis.errorbar(
        table[f"{metric}_mean"] * 100,
        y,
        xerr=_error_lengths(table, f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"),
        fmt="o",
        color="#1f3b57",
        capsize=3,
        label=f"mean, {interval}",
    )
    positions = dict(zip(table["variant"], y, strict=True))
    axis.scatter(
        runs[metric] * 100,
        runs["variant"].map(positions) + 0.18,
        color="#e67e22",
        s=12,
        label="single runs (seeds)",
        zorder=3,
    )
    axis.set_yticks(y, table["variant"])
    return figure, axis


def final_accuracy(variants: pd.DataFrame, runs: pd.DataFrame) -> plt.Figure:
    """Final validation accuracy per variant, best first: the mean with its 95% CI over seeds
    and images (from ``variants``), every seed's run as a point."""
    table = variants.sort_values("final_val_accuracy_mean", ascending=False).reset_index(drop=True)
    figure, axis = variant_intervals(
        table, runs, "final_val_accuracy", "95% CI over seeds and images"
    )
    chance = float(table["chance_level"].iloc[0]) * 100
    axis.axvline(chance, color="grey", ls=":", lw=1, label=f"chance (majority class) {chance:.1f}%")
    axis.set_xlabel("final validation accuracy (%), mean of the last k epochs")
    axis.legend(loc="lower right", fontsize=7)
    return figure


def generalization_gap(variants: pd.DataFrame, runs: pd.DataFrame) -> plt.Figure:
    """Clean training minus validation accuracy per variant: the mean with its 95% t-interval
    over seeds (from ``variants``), every seed's run as a point."""
    from augablate.analysis import variant_order

    table = variants.set_index("variant").loc[variant_order(variants["variant"])].reset_index()
    figure, axis = variant_intervals(table, runs, "generalization_gap", "95% t-interval over seeds")
    axis.axvline(0, color="grey", lw=1)
    axis.set_xlabel("generalization gap (points): clean training minus validation accuracy")
    axis.legend(loc="lower right", fontsize=7)
    return figure


def contrast_forest(contrasts: pd.DataFrame) -> plt.Figure:
    """Every contrast's difference with its 95% CI over seeds and images (from ``contrasts``),
    one panel per family, coloured by verdict, the equivalence margin shaded. A contrast
    without an interval is drawn as a cross, with no bar."""
    from augablate.analysis import FAMILY_QUESTIONS

    plt = pyplot()
    families = [f for f in FAMILY_QUESTIONS if f in set(contrasts["family"])]
    if not families:  # a study without contrasts (no none, no all): say so
        figure, axis = plt.subplots(figsize=(5, 1.2))
        axis.text(0.5, 0.5, "no contrasts in this study", ha="center", va="center")
        axis.set_axis_off()
        return figure
    heights = [max(1, (contrasts["family"] == f).sum()) for f in families]
    figure, axes = plt.subplots(
        len(families),
        1,
        figsize=(7, 0.42 * sum(heights) + 1.3 * len(families)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    margin = float(contrasts["margin"].iloc[0]) * 100 if len(contrasts) else 0.0
    for axis, family in zip(axes[:, 0], families, strict=True):
        group = contrasts[contrasts["family"] == family].reset_index(drop=True)
        y = np.arange(len(group))[::-1]
        axis.axvspan(-margin, margin, color="#d6eaf8", alpha=0.6, lw=0)
        axis.axvline(0, color="grey", lw=1)
        for position, (_, row) in zip(y, group.iterrows(), strict=True):
            _difference_bar(axis, row, position)
        axis.set_yticks(y, [_contrast_label(row) for _, row in group.iterrows()])
        primary = "primary family, Holm-corrected" if group["primary"].any() else "descriptive"
        axis.set_title(f"{FAMILY_QUESTIONS[family]} ({primary})", fontsize=9)
    axes[-1, 0].set_xlabel(
        f"difference in final validation accuracy (points), 95% CI over seeds and images; "
        f"shaded: +-{margin:g} points"
    )
    figure.tight_layout()
    return figure


def dose_response(table: pd.DataFrame) -> plt.Figure:
    """Validation accuracy against a transform's strength (``none`` at 0), one panel per swept
    transform: the mean with its 95% CI over seeds and images, from the dose-response table."""
    plt = pyplot()
    transforms = list(dict.fromkeys(table["transform"]))
    figure, axes = plt.subplots(
        1, max(len(transforms), 1), figsize=(4.2 * max(len(transforms), 1), 3.2), squeeze=False
    )
    for axis, transform in zip(axes[0], transforms, strict=False):
        rows = table[table["transform"] == transform]
        axis.errorbar(
            rows["strength"],
            rows["accuracy"] * 100,
            yerr=_error_lengths(rows, "accuracy", "accuracy_ci_low", "accuracy_ci_high"),
            fmt="o-",
            color="#1f3b57",
            capsize=3,
            label="mean, 95% CI over seeds and images",
        )
        axis.axhline(rows["accuracy"].iloc[0] * 100, color="grey", ls="--", lw=1, label="none")
        axis.set_title(transform, fontsize=9)
        axis.set_xlabel(f"strength ({transform}@value; 0 = none)")
    axes[0][0].set_ylabel("final validation accuracy (%)")
    axes[0][0].legend(loc="best", fontsize=7)
    figure.tight_layout()
    return figure


def main_effects(effects: pd.DataFrame) -> plt.Figure:
    """Each transform's main effect (on minus off, averaged over the other transforms'
    settings) with its 95% CI over seeds and images, from the effects table, coloured by
    verdict; the shaded band is the equivalence margin."""
    plt = pyplot()
    table = effects[effects["kind"] == "main effect"].reset_index(drop=True)
    figure, axis = plt.subplots(figsize=(7, 0.45 * max(len(table), 1) + 1.4))
    margin = float(table["margin"].iloc[0]) * 100 if len(table) else 0.0
    axis.axvspan(-margin, margin, color="#d6eaf8", alpha=0.6, lw=0)
    axis.axvline(0, color="grey", lw=1)
    y = np.arange(len(table))[::-1]
    for position, (_, row) in zip(y, table.iterrows(), strict=True):
        _difference_bar(axis, row, position)
    axis.set_yticks(y, [f"{row['effect']} ({row['verdict']})" for _, row in table.iterrows()])
    axis.set_xlabel(
        "main effect on final validation accuracy (points): on minus off, averaged over the "
        f"other transforms; 95% CI over seeds and images; shaded: +-{margin:g}"
    )
    axis.set_title("Main effects (primary family, Holm-corrected)", fontsize=9)
    figure.tight_layout()
    return figure


def interactions(effects: pd.DataFrame) -> plt.Figure:
    """Two-factor interactions as a matrix: cell (a, b) is how much larger a's effect is with b
    on than off (points), with its 95% CI, from the effects table; aliased pairs share one
    estimate (their chain's), marked with =; white where the design cannot estimate it."""
    plt = pyplot()
    table = effects[effects["kind"] == "interaction"]
    factors = list(effects.loc[effects["kind"] == "main effect", "effect"])
    values = np.full((len(factors), len(factors)), np.nan)
    notes = [["" for _ in factors] for _ in factors]
    for _, row in table.iterrows():
        for label in [row["effect"], *filter(None, str(row["aliases"]).split(" = "))]:
            if label.count(":") != 1 or label == "nan":
                continue
            first, second = (factors.index(name) for name in label.split(":"))
            values[first, second] = values[second, first] = row["difference"] * 100
            alias = "" if label == row["effect"] else "=\n"
            notes[first][second] = notes[second][first] = (
                f"{alias}{row['difference'] * 100:+.1f}\n"
                f"[{row['ci_low'] * 100:+.1f}, {row['ci_high'] * 100:+.1f}]"
            )
    figure, axis = plt.subplots(figsize=(1.3 * len(factors) + 2.5, 1.1 * len(factors) + 1.5))
    bound = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    image = axis.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound)
    for i, j in np.ndindex(values.shape):
        if notes[i][j]:  # white on the dark ends of the colour map, black in between
            dark = abs(values[i, j]) > 0.6 * bound
            color = "white" if dark else "black"
            axis.text(j, i, notes[i][j], ha="center", va="center", fontsize=6, color=color)
    axis.set_xticks(range(len(factors)), factors, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(factors)), factors, fontsize=8)
    figure.colorbar(
        image, ax=axis, label="interaction (points): effect with the other on minus off"
    )
    axis.set_title(
        "Two-factor interactions, 95% CI over seeds and images (descriptive; = aliased)",
        fontsize=9,
    )
    figure.tight_layout()
    return figure


def _difference_bar(axis, row, position: float) -> None:
    """A difference (points) with its 95% CI from a table row, coloured by verdict; a cross
    without a bar where the row has no interval."""
    color = VERDICT_COLORS.get(row["verdict"], "#34495e")
    if np.isnan(row["ci_low"]):
        axis.plot(row["difference"] * 100, position, "x", color=color, ms=7)
        return
    axis.errorbar(
        row["difference"] * 100,
        position,
        xerr=[
            [(row["difference"] - row["ci_low"]) * 100],
            [(row["ci_high"] - row["difference"]) * 100],
        ],
        fmt="o",
        color=color,
        capsize=3,
    )


def _contrast_label(row) -> str:
    return f"{row['variant']} vs {row['baseline']} ({row['verdict']})"


def _error_lengths(table: pd.DataFrame, mean: str, low: str, high: str) -> np.ndarray:
    """matplotlib's xerr (distances below and above) in points; 0 where there is no
    interval (one seed), which the caption says."""
    below = (table[mean] - table[low]).fillna(0.0) * 100
    above = (table[high] - table[mean]).fillna(0.0) * 100
    return np.vstack([below.to_numpy(), above.to_numpy()])


def augmentation_grid(images: np.ndarray, rows: list[tuple[str, np.ndarray]], draws: int):
    """The same few training images (columns) under each variant (rows), ``draws`` random
    draws per image. ``rows`` holds (variant, array [images * draws, h, w, 3] uint8)."""
    plt = pyplot()
    count = len(images)
    columns = count * draws
    figure, axes = plt.subplots(
        len(rows) + 1, columns, figsize=(0.9 * columns, 0.95 * (len(rows) + 1)), squeeze=False
    )
    for column in range(columns):
        axes[0][column].imshow(images[column // draws])
    axes[0][0].set_ylabel("original", rotation=0, ha="right", va="center", fontsize=8)
    for row, (variant, augmented) in enumerate(rows, start=1):
        for column in range(columns):
            axes[row][column].imshow(augmented[column])
        axes[row][0].set_ylabel(variant, rotation=0, ha="right", va="center", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"{count} training images x {draws} random draws per variant", fontsize=9)
    return figure


@dataclass(frozen=True)
class Figure:
    """One figure of the report: its file (``results/figures/<name>.png``), its title in the
    report, its caption in ``snakemake --report``, the tables it is drawn from and how."""

    name: str
    title: str
    caption: str
    tables: tuple[str, ...]
    function: str  # the drawing function of this module, called with those tables in order
    options: tuple = ()  # further arguments after the tables
    only_with: str | None = None  # a kind of variant the study must have (e.g. "strength")

    def applies(self, variants, factorial: bool = False) -> bool:
        """Whether a study with these variants (and design) draws this figure."""
        from augablate.variants import variant_kind

        if self.only_with == "factorial":
            return factorial
        return self.only_with is None or any(variant_kind(v) == self.only_with for v in variants)

    def draw(self, tables: Mapping[str, pd.DataFrame]) -> plt.Figure:
        function = globals()[self.function]
        return function(*(tables[name] for name in self.tables), *self.options)


#: The registry of the figures drawn from the tables, in the report's order.
FIGURES: dict[str, Figure] = {
    figure.name: figure
    for figure in (
        Figure(
            "contrasts",
            "Contrasts with 95% CIs",
            "Each contrast's difference in final validation accuracy with its 95% CI over "
            "seeds and validation images, coloured by verdict; the shaded band is the "
            "equivalence margin.",
            ("contrasts",),
            "contrast_forest",
        ),
        Figure(
            "dose_response",
            "Dose-response: accuracy against strength",
            "Final validation accuracy against the strength of each swept transform (X@value; "
            "none at 0), mean with its 95% CI over seeds and images.",
            ("dose_response",),
            "dose_response",
            only_with="strength",
        ),
        Figure(
            "main_effects",
            "Main effects of the factorial design",
            "Each transform's main effect: the mean final validation accuracy of the runs with it "
            "on minus those with it off, averaged over the other transforms' settings, with its "
            "95% CI over seeds and images, coloured by verdict.",
            ("effects",),
            "main_effects",
            only_with="factorial",
        ),
        Figure(
            "interactions",
            "Two-factor interactions",
            "How much larger one transform's effect is with the other on than off, with its 95% "
            "CI over seeds and images; aliased pairs share their chain's estimate.",
            ("effects",),
            "interactions",
            only_with="factorial",
        ),
        Figure(
            "final_accuracy",
            "Final validation accuracy per variant",
            "Mean final validation accuracy per variant with its 95% CI over seeds and "
            "images; points are single runs; the dotted line is the majority-class share.",
            ("variants", "runs"),
            "final_accuracy",
        ),
        Figure(
            "generalization_gap",
            "Generalization gap",
            "Clean training accuracy (un-augmented images, same weights) minus validation "
            "accuracy, mean with its 95% t-interval over seeds; points are single runs.",
            ("variants", "runs"),
            "generalization_gap",
        ),
        Figure(
            "learning_curves_accuracy",
            "Learning curves: accuracy",
            "Validation, clean-training and augmented-batch accuracy per epoch: mean over "
            "seeds with 95% t-intervals over seeds.",
            ("curves",),
            "learning_curves",
            ("accuracy",),
        ),
        Figure(
            "learning_curves_loss",
            "Learning curves: loss",
            "Validation, clean-training and augmented-batch loss per epoch: mean over seeds "
            "with 95% t-intervals over seeds.",
            ("curves",),
            "learning_curves",
            ("loss",),
        ),
    )
}
#: The augmentation grid, drawn from the cache by its own rule.
AUGMENTATION_GRID = Figure(
    "augmentation_grid",
    "The augmentation of each variant",
    "The same training images under each variant's augmentation, a few random draws each.",
    (),
    "augmentation_grid",
)
