"""seaborn figures of a study, each written atomically as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from augablate.analysis import variant_order  # noqa: E402
from augablate.io import atomic_path  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")


def _save(figure, path: Path, dpi: int = 110) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(figure)


def learning_curves(histories: pd.DataFrame, metric: str, path: Path) -> None:
    """Train vs validation ``metric`` per epoch, one panel per variant, mean with a 95% CI band
    over seeds."""
    long = pd.concat(
        [
            histories[["variant", "seed", "epoch"]].assign(split="train", value=histories[metric]),
            histories[["variant", "seed", "epoch"]].assign(
                split="validation", value=histories[f"val_{metric}"]
            ),
        ],
        ignore_index=True,
    )
    order = variant_order(histories["variant"])
    grid = sns.relplot(
        data=long,
        x="epoch",
        y="value",
        hue="split",
        col="variant",
        col_order=order,
        col_wrap=min(5, len(order)),
        kind="line",
        errorbar=("ci", 95),
        height=2.2,
        aspect=1.2,
        facet_kws={"sharey": True},
    )
    grid.set_titles("{col_name}")
    grid.set_axis_labels("epoch", metric)
    grid.figure.suptitle(f"{metric}: training vs validation (mean, 95% CI over seeds)", y=1.02)
    _save(grid.figure, path)


def final_accuracy(runs: pd.DataFrame, path: Path, metric: str = "final_val_accuracy") -> None:
    """Final validation accuracy per variant: every seed as a point, the mean as a bar."""
    order = runs.groupby("variant")[metric].mean().sort_values(ascending=False).index.tolist()
    figure, axis = plt.subplots(figsize=(7, 0.35 * len(order) + 1.2))
    sns.barplot(
        data=runs, y="variant", x=metric, order=order, errorbar=None, color="#b5cde3", ax=axis
    )
    sns.stripplot(
        data=runs, y="variant", x=metric, order=order, color="#1f3b57", size=5, jitter=0.15, ax=axis
    )
    if "none" in order:
        axis.axvline(
            runs.loc[runs["variant"] == "none", metric].mean(),
            color="#c0392b",
            ls="--",
            lw=1,
            label="mean of none",
        )
        axis.legend(loc="lower right")
    low = max(0.0, runs[metric].min() - 0.05)
    axis.set_xlim(low, min(1.0, runs[metric].max() + 0.02))
    axis.set_xlabel("final validation accuracy (mean of last k epochs); points are seeds")
    axis.set_ylabel("")
    _save(figure, path)


def generalization_gap(runs: pd.DataFrame, path: Path) -> None:
    """Training minus validation accuracy at the end of training, per variant and seed."""
    order = variant_order(runs["variant"])
    figure, axis = plt.subplots(figsize=(7, 0.35 * len(order) + 1.2))
    sns.pointplot(
        data=runs,
        y="variant",
        x="generalization_gap",
        order=order,
        errorbar=("ci", 95),
        linestyle="none",
        color="#1f3b57",
        ax=axis,
    )
    sns.stripplot(
        data=runs,
        y="variant",
        x="generalization_gap",
        order=order,
        color="#e67e22",
        size=4,
        alpha=0.7,
        ax=axis,
    )
    axis.axvline(0, color="grey", lw=1)
    axis.set_xlabel("generalization gap (train - validation accuracy, last k epochs)")
    axis.set_ylabel("")
    _save(figure, path)


def contrast_forest(contrast_table: pd.DataFrame, path: Path) -> None:
    """Paired differences with their 95% CIs, one panel per family (add-one, leave-one-out)."""
    families = [f for f in ("add-one", "leave-one-out") if f in set(contrast_table["family"])]
    figure, axes = plt.subplots(
        1, max(1, len(families)), figsize=(5 * max(1, len(families)), 0.4 * 7 + 1.5), squeeze=False
    )
    for axis, family in zip(axes[0], families, strict=False):
        group = contrast_table[contrast_table["family"] == family].reset_index(drop=True)
        y = np.arange(len(group))[::-1]
        axis.errorbar(
            group["difference"] * 100,
            y,
            xerr=[
                (group["difference"] - group["ci_low"]).fillna(0) * 100,
                (group["ci_high"] - group["difference"]).fillna(0) * 100,
            ],
            fmt="o",
            color="#1f3b57",
            capsize=3,
        )
        axis.axvline(0, color="grey", lw=1)
        axis.set_yticks(y, group["transform"])
        axis.set_xlabel("difference in final validation accuracy (points)")
        axis.set_title(
            "each variant vs none" if family == "add-one" else "all vs all minus X (X's share)"
        )
    _save(figure, path)


def augmentation_grid(
    images: np.ndarray, rows: list[tuple[str, np.ndarray]], path: Path, draws: int
) -> None:
    """The same few training images (columns) under each variant (rows), ``draws`` random
    draws per image. ``rows`` holds (variant, array [images * draws, h, w, 3] uint8)."""
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
    _save(figure, path, dpi=90)
