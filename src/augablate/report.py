"""The study's markdown report, generated from the tables: nothing in it is written by hand for a
particular result. Sentences follow one rule: a difference is called significant only when its
Holm-adjusted paired p-value is below ``alpha``; with one seed no test is made."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
from tabulate import tabulate

from augablate.analysis import binomial_standard_error, variant_order
from augablate.variants import variant_transforms

ALPHA = 0.05


def points(value: float) -> str:
    """An accuracy difference in percentage points, signed."""
    return "n/a" if value is None or math.isnan(value) else f"{value * 100:+.1f}"


def percent(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value * 100:.1f}%"


def p_text(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def effect_sentence(row: Mapping, subject: str, alpha: float = ALPHA) -> str:
    """One sentence whose wording matches the evidence of a contrast row."""
    diff = row["difference"]
    ci = f"[95% CI {row['ci_low'] * 100:+.1f}, {row['ci_high'] * 100:+.1f}]"
    direction = "raised" if diff > 0 else "lowered"
    size = f"{abs(diff) * 100:.1f} points"
    if row["seeds"] < 2 or math.isnan(row["p_value"]):
        if row["seeds"] < 2:
            return (
                f"{subject} changed validation accuracy by {points(diff)} points in a single seed; "
                "with one seed no test is possible, so this is a number, not a finding."
            )
        return (
            f"{subject} changed validation accuracy by {points(diff)} points, identically in every "
            "seed; no test is possible on differences without spread."
        )
    if row["p_holm"] < alpha:
        return (
            f"{subject} {direction} validation accuracy by {size} {ci}, significant after Holm "
            f"correction (adjusted p = {p_text(row['p_holm'])}, d_z = {row['effect_size_dz']:.2f})."
        )
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        return (
            f"{subject} changed validation accuracy by {points(diff)} points {ci}, but the "
            f"difference does not survive Holm correction across the family (adjusted p = "
            f"{p_text(row['p_holm'])}): not established beyond seed noise."
        )
    return (
        f"{subject} changed validation accuracy by {points(diff)} points {ci}: no difference "
        f"distinguishable from seed noise (adjusted p = {p_text(row['p_holm'])})."
    )


def ranked_table(variants: pd.DataFrame, contrast_table: pd.DataFrame) -> str:
    add_one = contrast_table[contrast_table["family"] == "add-one"].set_index("variant")
    rows = []
    ranked = variants.sort_values("final_val_accuracy_mean", ascending=False)
    for rank, (_, row) in enumerate(ranked.iterrows(), start=1):
        variant = row["variant"]
        contrast = add_one.loc[variant] if variant in add_one.index else None
        rows.append(
            [
                rank,
                variant,
                row["seeds"],
                percent(row["final_val_accuracy_mean"]),
                _ci(row, "final_val_accuracy"),
                "-" if contrast is None else points(contrast["difference"]),
                "-" if contrast is None else p_text(contrast["p_holm"]),
                "-"
                if contrast is None or math.isnan(contrast["effect_size_dz"])
                else f"{contrast['effect_size_dz']:.2f}",
                percent(row["final_train_accuracy_mean"]),
                points(row["generalization_gap_mean"]),
            ]
        )
    headers = [
        "rank",
        "variant",
        "seeds",
        "val acc",
        "95% CI",
        "vs none (pts)",
        "Holm p",
        "d_z",
        "train acc",
        "gap (pts)",
    ]
    return tabulate(rows, headers=headers, tablefmt="github")


def _ci(row: Mapping, metric: str) -> str:
    low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    if math.isnan(low):
        return "n/a"
    return f"{low * 100:.1f}-{high * 100:.1f}%"


def overfitting_table(variants: pd.DataFrame) -> str:
    rows = [
        [
            row["variant"],
            percent(row["final_train_accuracy_mean"]),
            percent(row["final_val_accuracy_mean"]),
            points(row["generalization_gap_mean"]),
            f"{row['min_val_loss_mean']:.3f}",
            f"{row['val_loss_rise_mean']:+.3f}",
        ]
        for _, row in variants.iterrows()
    ]
    return tabulate(
        rows,
        headers=["variant", "train acc", "val acc", "gap (pts)", "min val loss", "val loss rise"],
        tablefmt="github",
    )


def overfitting_sentences(variants: pd.DataFrame) -> list[str]:
    by_variant = variants.set_index("variant")
    sentences = []
    for variant in ("none", "all"):
        if variant not in by_variant.index:
            continue
        row = by_variant.loc[variant]
        rise = row["val_loss_rise_mean"]
        sentences.append(
            f"`{variant}`: training accuracy {percent(row['final_train_accuracy_mean'])} against "
            f"validation accuracy {percent(row['final_val_accuracy_mean'])} at the end (a gap of "
            f"{points(row['generalization_gap_mean'])} points); the validation loss ended "
            f"{rise:.3f} above its minimum" + (" (it rose: overfitting)." if rise > 0.05 else ".")
        )
    return sentences


def build_report(
    *,
    config: Mapping,
    meta: Mapping,
    variants: pd.DataFrame,
    runs: pd.DataFrame,
    contrast_table: pd.DataFrame,
    run_metrics: Sequence[Mapping],
    figures: Mapping[str, str],
    command: str,
) -> str:
    """The whole report as markdown. ``figures`` maps a title to a path relative to the report."""
    train = config["train"]
    seeds = sorted(runs["seed"].unique())
    order = variant_order(runs["variant"])
    val_count = meta["splits"]["validation"]["count"]
    last_k = config.get("analysis", {}).get("last_k", 5)
    lines = [f"# Augmentation ablation: {config['data']['name']}", ""]

    lines += ["## Answer", ""]
    lines += [
        f"{len(order)} variants x {len(seeds)} seed(s) (seeds {', '.join(map(str, seeds))}; the same "
        "seeds in every variant, so runs are paired). Accuracy is the mean validation accuracy "
        f"over the last {last_k} epochs. Ranked:",
        "",
        ranked_table(variants, contrast_table),
        "",
    ]
    none_mean = variants.set_index("variant")["final_val_accuracy_mean"].get("none")
    if none_mean is not None and not math.isnan(none_mean):
        se = binomial_standard_error(none_mean, val_count)
        lines += [
            f"Noise floor: on {val_count} validation images an accuracy near {percent(none_mean)} "
            f"has a binomial standard error of {se * 100:.1f} points, so single-run differences "
            f"below about {2 * se * 100:.1f} points are within measurement noise.",
            "",
        ]
    add_one = contrast_table[contrast_table["family"] == "add-one"]
    leave_one_out = contrast_table[contrast_table["family"] == "leave-one-out"]
    if len(add_one):
        lines += ["### What each variant does against no augmentation", ""]
        lines += [
            "- " + effect_sentence(row, f"`{row['variant']}`") for _, row in add_one.iterrows()
        ]
        lines += [""]
    if len(leave_one_out):
        lines += ["### What each transform adds in company (`all` vs `all-minus-X`)", ""]
        lines += [
            "- " + effect_sentence(row, f"Adding `{row['transform']}` to the others")
            for _, row in leave_one_out.iterrows()
        ]
        lines += [""]
    if len(seeds) < 2:
        lines += [
            "With one seed no statistical test is possible: the numbers above are single runs.",
            "",
        ]
    if any("shear" in variant_transforms(variant) for variant in order):
        shear = config["augmentation"]["shear"]
        lines += [
            f"Note on shear: the shear range is in degrees, as in the reference ImageDataGenerator "
            f"(`shear_range` is an angle in degrees); this study used {shear} degrees"
            + (", an almost invisible shear." if shear < 2 else "."),
            "",
        ]

    lines += ["## Overfitting", ""]
    lines += ["- " + s for s in overfitting_sentences(variants)]
    lines += ["", overfitting_table(variants), ""]

    lines += ["## Figures", ""]
    for title, path in figures.items():
        lines += [f"### {title}", "", f"![{title}]({path})", ""]

    lines += ["## Data and protocol", ""]
    counts = {split: meta["splits"][split]["count"] for split in meta["splits"]}
    skipped = sum(len(v) for v in meta.get("skipped", {}).values())
    data = config["data"]
    source = (
        data.get("url") if data.get("source") == "archive" else "embedded (scikit-learn digits)"
    )
    model = config["model"]
    lines += [
        f"- Data: {data['name']} from {source}; {counts['train']} training and "
        f"{counts['validation']} validation images, {len(meta['classes'])} classes "
        f"({', '.join(meta['classes'])}); decoded once at {meta['image_size']}x{meta['image_size']} "
        f"RGB, resized with `{meta['resize']}`"
        + (
            f"; {skipped} undecodable file(s) skipped (listed in the cache's meta.json)."
            if skipped
            else "."
        ),
        f"- Model: Conv2D(3x3, ReLU) + MaxPool(2) blocks with {model['filters']} filters, Flatten, "
        f"Dense({model['dense_units']}, ReLU), "
        + (
            "sigmoid output, binary cross-entropy"
            if len(meta["classes"]) == 2
            else "softmax output, sparse categorical cross-entropy"
        )
        + f"; pixels / 255; RMSprop(learning_rate={train['learning_rate']}).",
        f"- Training: batch {train['batch_size']}, {train['steps_per_epoch']} steps per epoch, "
        f"{train['epochs']} epochs, {train['validation_steps']} validation steps; augmentation "
        f"placed in the {config['train'].get('augmentation_placement', 'pipeline')}.",
        "- Augmentation ranges (ImageDataGenerator semantics): "
        + ", ".join(f"{k}={v}" for k, v in config["augmentation"].items())
        + ".",
        f"- Variants: {', '.join(order)}.",
        f"- Seeds: {', '.join(map(str, seeds))}.",
    ]
    if run_metrics:
        env = run_metrics[0]["environment"]
        total = sum(m["wall_seconds"] for m in run_metrics)
        per_epoch = [s for m in run_metrics for s in m["epoch_seconds"]]
        lines += [
            f"- Software: Python {env['python']}, TensorFlow {env['tensorflow']}, Keras "
            f"{env['keras']}, NumPy {env['numpy']}.",
            f"- Hardware: {env['platform']}, {env['cpu_count']} CPU(s), "
            f"GPUs: {', '.join(env['gpus']) or 'none'}; {run_metrics[0]['threads']} thread(s) per "
            "training.",
            f"- Compute: {len(run_metrics)} trainings, {total / 60:.1f} min of training wall time "
            f"in all, median epoch {pd.Series(per_epoch).median():.2f} s.",
        ]
    lines += ["", "## Reproduce", "", "```", command, "```", ""]
    return "\n".join(lines)
