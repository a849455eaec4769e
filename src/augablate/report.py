"""The study's markdown report, generated from the tables: nothing in it is written by hand for a
particular result. Every sentence about an effect follows its contrast's verdict
(:func:`augablate.analysis.verdict`): helps, hurts, no effect larger than the margin, or
inconclusive ("we could not tell"); every interval names the population it speaks about."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
from tabulate import tabulate

from augablate.analysis import ALONE, FAMILY_QUESTIONS, IN_COMPANY, OVERALL, VERDICTS, variant_order
from augablate.inference import HIGHER_ORDER, OWN
from augablate.protocol import FULL_VALIDATION_EPOCHS
from augablate.variants import AugmentationSettings


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def points(value: float) -> str:
    """An accuracy difference in percentage points, signed."""
    return "n/a" if _missing(value) else f"{value * 100:+.1f}"


def percent(value: float) -> str:
    return "n/a" if _missing(value) else f"{value * 100:.1f}%"


def p_text(value: float) -> str:
    if _missing(value):
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def p_is(value: float) -> str:
    """``p = 0.023`` or ``p < 0.001``."""
    text = p_text(value)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def margin_text(margin: float) -> str:
    """An equivalence margin (accuracy units) in words: ``±1 point``, ``±2.5 points``."""
    value = margin * 100
    return f"±{value:g} point" + ("" if value == 1 else "s")


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def table(rows, headers) -> str:
    """A github-style markdown table; cells are shown as written (no number parsing, which
    would drop the sign of +1.0)."""
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def interval_text(low: float, high: float, unit: str = "points") -> str:
    """``+2.1 to +6.3 points`` (differences) or ``71.2% to 75.0%`` (accuracies)."""
    if _missing(low):
        return "n/a"
    if unit == "points":
        return f"{points(low)} to {points(high)} points"
    return f"{percent(low)} to {percent(high)}"


def subject(row: Mapping) -> str:
    """What a contrast is about, as the subject of its sentence."""
    family = row["family"]
    if family == ALONE:
        return f"`{row['variant']}` alone (against `{row['baseline']}`)"
    if family == IN_COMPANY:
        return (
            f"Adding `{row['transform']}` to the others (`{row['variant']}` vs `{row['baseline']}`)"
        )
    if family == OVERALL:
        return f"All transforms together (`{row['variant']}` vs `{row['baseline']}`)"
    return f"`{row['variant']}` against `{row['baseline']}`"


def holm_text(row: Mapping, column: str = "p_holm") -> str:
    """``Holm-adjusted p = 0.023``; for a verdict of a sequential top-up (its fixed-sample Holm
    p-value left out by the aggregation: the looks' alpha-spending boundaries decided) it says
    so."""
    if _missing(row[column]) and row.get("verdict") == "single seed":
        return "no test: nothing measures how runs vary"
    if _missing(row[column]) and row.get("verdict") == "untestable":
        return "no test: no variation to test"
    if _missing(row[column]):
        settled = "not settled" if row["verdict"] == "inconclusive" else "decided"
        return f"{settled} at the top-up's alpha-spending boundaries"
    return f"Holm-adjusted {p_is(row[column])}"


def effect_sentence(row: Mapping, family_size: int) -> str:
    """One sentence whose wording is fixed by the contrast's verdict."""
    diff, margin = row["difference"], margin_text(row["margin"])
    ci = f"95% CI {interval_text(row['ci_low'], row['ci_high'])} over {row['population']}"
    verdict = row["verdict"]
    head = f"{subject(row)} changed validation accuracy by {points(diff)} points ({ci}"
    if verdict in ("helps", "hurts"):
        moved = "raised" if verdict == "helps" else "lowered"
        return (
            f"{subject(row)} {moved} validation accuracy by {abs(diff) * 100:.1f} points ({ci}; "
            f"{holm_text(row)}): **it {verdict}**."
        )
    if verdict == "negligible":
        return (
            f"{head}): the whole effect lies within {margin} (equivalence test, "
            f"{holm_text(row, 'p_equivalence_holm')}): **no effect larger than "
            f"{margin}**."
        )
    if verdict == "inconclusive":
        excludes = not _missing(row["ci_low"]) and (row["ci_low"] > 0 or row["ci_high"] < 0)
        excludes = excludes and not _missing(row["p_holm"])  # a top-up's: its boundaries say
        caveat = (
            f"; its 95% CI excludes zero, but not after Holm's correction over the "
            f"{family_size} primary contrasts"
            if excludes
            else ""
        )
        return (
            f"{head}; {holm_text(row)}{caveat}): **inconclusive**: we "
            f"could not tell whether it helps, hurts or changes accuracy by less than {margin}."
        )
    if verdict == "single seed":
        return (
            f"{head}): with one seed this interval speaks about validation images only, not "
            "about other seeds, so no verdict is given."
        )
    if verdict == "untestable":
        return f"{subject(row)}: the compared runs score every image alike in every seed."
    return f"{head}; unadjusted {p_is(row['p_value'])}): descriptive, no verdict."


def verdict_summary(primary: pd.DataFrame) -> str:
    """One line: which transforms got which verdict."""
    return "In short: " + _verdict_words(
        primary,
        lambda row: (
            f"`{row['transform'] or 'all'}`"
            + (" in company" if row["family"] == IN_COMPANY else "")
        ),
    )


def _verdict_words(primary: pd.DataFrame, name) -> str:
    """Per verdict, the ``name`` of each row that got it."""
    parts = []
    for verdict in ("helps", "hurts", "negligible", "inconclusive", "single seed", "untestable"):
        chosen = primary[primary["verdict"] == verdict]
        if chosen.empty:
            continue
        names = ", ".join(name(row) for _, row in chosen.iterrows())
        words = VERDICTS[verdict].format(margin=margin_text(chosen["margin"].iloc[0]))
        parts.append(f"**{words[0].upper() + words[1:]}**: {names}.")
    return " ".join(parts)


def verdict_table(contrasts: pd.DataFrame) -> str:
    rows = [
        [
            row["transform"],
            FAMILY_QUESTIONS[row["family"]],
            points(row["difference"]),
            interval_text(row["ci_low"], row["ci_high"]),
            p_text(row["p_holm"]),
            f"{row['mcnemar_agreeing_seeds']}/{row['mcnemar_seeds']}",
            VERDICTS[row["verdict"]].format(margin=margin_text(row["margin"])),
        ]
        for _, row in contrasts.iterrows()
    ]
    headers = [
        "transform",
        "question",
        "difference (pts)",
        "95% CI (seeds and images)",
        "Holm p",
        "McNemar: seeds agreeing",
        "verdict",
    ]
    return table(rows, headers)


def ranked_table(variants: pd.DataFrame) -> str:
    ranked = variants.sort_values("final_val_accuracy_mean", ascending=False)
    rows = [
        [
            str(rank),
            row["variant"],
            str(row["seeds"]),
            percent(row["final_val_accuracy_mean"]),
            interval_text(row["final_val_accuracy_ci_low"], row["final_val_accuracy_ci_high"], "%"),
            percent(row["final_clean_train_accuracy_mean"]),
            points(row["generalization_gap_mean"]),
            "yes" if row["above_chance"] else "**no**",
        ]
        for rank, (_, row) in enumerate(ranked.iterrows(), start=1)
    ]
    headers = [
        "rank",
        "variant",
        "seeds",
        "val acc",
        f"95% CI ({variants['final_val_accuracy_ci_population'].iloc[0]})",
        "clean train acc",
        "gap (pts)",
        "beats chance",
    ]
    return table(rows, headers)


def overfitting_table(variants: pd.DataFrame) -> str:
    rows = [
        [
            row["variant"],
            percent(row["final_clean_train_accuracy_mean"]),
            percent(row["final_augmented_batch_accuracy_mean"]),
            percent(row["final_val_accuracy_mean"]),
            points(row["generalization_gap_mean"]),
            interval_text(row["generalization_gap_ci_low"], row["generalization_gap_ci_high"]),
            f"{row['min_val_loss_mean']:.3f}",
            f"{row['val_loss_rise_mean']:+.3f}",
        ]
        for _, row in variants.iterrows()
    ]
    headers = [
        "variant",
        "clean train acc",
        "augmented-batch acc",
        "val acc",
        "gap (pts)",
        "gap 95% CI (seeds)",
        "min val loss",
        "val loss rise",
    ]
    return table(rows, headers)


def overfitting_sentences(variants: pd.DataFrame) -> list[str]:
    by_variant = variants.set_index("variant")
    sentences = []
    for variant in ("none", "all"):
        if variant not in by_variant.index:
            continue
        row = by_variant.loc[variant]
        rise = row["val_loss_rise_mean"]
        sentences.append(
            f"`{variant}`: clean training accuracy {percent(row['final_clean_train_accuracy_mean'])}"
            f" against validation accuracy {percent(row['final_val_accuracy_mean'])} over the "
            f"last epochs, a generalization gap of {points(row['generalization_gap_mean'])} points "
            f"(95% CI {interval_text(row['generalization_gap_ci_low'], row['generalization_gap_ci_high'])}"
            f" over seeds); the validation loss ended {rise:.3f} above its minimum"
            + (" (it rose: overfitting)." if rise > 0.05 else ".")
        )
    return sentences


def evidence_lines(images: int, floor: Mapping, power: Mapping | None, seeds: int) -> list[str]:
    """The noise floor and the power sentences."""
    lines = []
    if floor:
        se = floor["standard_error"] * 100
        lines.append(
            f"Noise floor: every run scores the same {images} distinct validation images. Two "
            f"runs compared here score a median {floor['disagreement'] * 100:.1f}% of them "
            "differently (each image's score over the last epochs, the accuracies' endpoint), "
            "so the accuracy difference of two single runs has an image-sampling standard "
            f"error of about {se:.1f} points: single-run differences below about "
            f"{1.96 * se:.1f} points are within image noise alone, before seed noise."
            if floor["disagreement"] > 0
            else f"Noise floor: the compared runs agree on every one of the {images} images."
        )
    if power and not _missing(power.get("detectable")):
        lines.append(
            f"Power: from this study's variance components (the run part pooled over all runs, "
            f"{power['run_df']:g} degrees of freedom; median over "
            f"{plural(power['contrasts'], 'contrast')}), a contrast detects a true difference "
            f"of {power['detectable'] * 100:.1f} points (95% CI "
            f"{power['detectable_ci_low'] * 100:.1f} to {power['detectable_ci_high'] * 100:.1f}"
            f") with 80% power at Holm's strictest level (alpha = {power['level']:.4f}); with "
            f"{2 * power['seeds']} seeds instead of {power['seeds']} it would be "
            f"{power['detectable_twice_the_seeds'] * 100:.1f} points. Smaller true effects are "
            "likely to come out inconclusive. The narrowest equivalence margin it establishes "
            "with 80% power when the true effect is 0 is "
            f"±{power['smallest_margin'] * 100:.1f} points."
        )
    elif seeds < 2 and power is not None:  # None: a factorial study's power is its effects'
        lines.append(
            "Power: with one seed the seed variance is unknown, so the effect this study could "
            "detect across seeds cannot be computed."
        )
    return lines


def answer_section(
    contrasts, variants, floor, power, seeds, last_k, rising: Mapping[str, str] | None = None
) -> list[str]:
    primary = contrasts[contrasts["primary"].astype(bool)]
    descriptive = contrasts[~contrasts["primary"].astype(bool)]
    images = int(variants["images"].max())
    lines = ["## Answer", ""]
    lines += [
        f"{len(variants)} variants x {len(seeds)} seed(s) (seeds {', '.join(map(str, seeds))}; "
        "the same seeds in every variant, so runs are paired), each run scoring the same "
        f"{images} validation images every epoch. An image's score is its accuracy over the "
        f"last {last_k} epochs; a variant's accuracy is the mean of those scores. Each "
        "difference below comes with a 95% CI over seeds *and* validation images.",
        "",
    ]
    if len(primary):
        lines += [
            f"### Verdicts ({plural(len(primary), 'primary contrast')}, Holm-corrected together)",
            "",
            verdict_summary(primary),
            "",
            verdict_table(primary),
            "",
        ]
        lines += [
            "- " + effect_sentence(row, len(primary)) + rising_note(row, rising)
            for _, row in primary.iterrows()
        ]
        lines += [""]
    if len(descriptive):
        lines += ["### Descriptive contrasts (not part of the corrected family)", ""]
        lines += [
            "- " + effect_sentence(row, len(primary)) + rising_note(row, rising)
            for _, row in descriptive.iterrows()
        ]
        lines += [""]
    lines += [
        line for text in evidence_lines(images, floor, power, len(seeds)) for line in (text, "")
    ]
    lines += pooling_lines(primary)
    lines += reach_lines(primary, power)
    chance = float(variants["chance_level"].iloc[0])
    below = variants.loc[~variants["above_chance"].astype(bool), "variant"].tolist()
    lines += [
        f"Chance level: the majority class is {percent(chance)} of the validation images. "
        + (
            f"Not shown to beat it (95% CI not above it): {', '.join(f'`{v}`' for v in below)}."
            if below
            else "Every variant's 95% CI lies above it."
        ),
        "",
        "### Variants ranked by validation accuracy",
        "",
        ranked_table(variants),
        "",
    ]
    return lines


def rising_note(row: Mapping, rising: Mapping[str, str] | None) -> str:
    """What a contrast also measures when one of its variants was still rising at the end."""
    involved = [rising[v] for v in (row["variant"], row["baseline"]) if rising and v in rising]
    if not involved:
        return ""
    return (
        f" *Still rising at the end: {'; '.join(involved)}; this difference also measures how "
        "fast it learns, not only where it ends.*"
    )


def reach_lines(primary: pd.DataFrame, power: Mapping) -> list[str]:
    """Whether the study's equivalence margin is within its reach: if not, one of the three
    verdicts cannot come out, and the report says so."""
    if primary.empty or not power or _missing(power.get("smallest_margin")):
        return []
    margin, smallest = float(primary["margin"].iloc[0]), float(power["smallest_margin"])
    if smallest <= margin:
        return []
    return [
        f"The equivalence margin of this study, {margin_text(margin)} "
        '(`analysis.equivalence_margin`), is narrower than any it can establish: "no effect '
        f'larger than {margin_text(margin)}" has less than an 80% chance even for a true effect '
        f"of 0, so its verdicts are, in practice, an effect or inconclusive. A margin of "
        f"{margin_text(smallest)} or wider, or more seeds, makes the third verdict reachable.",
        "",
    ]


def pooling_lines(primary: pd.DataFrame) -> list[str]:
    """Which primary contrasts used the pooled run part and which their own seeds, and why."""
    if primary.empty or "method" not in primary:
        return []
    own = primary[primary["method"] == OWN]
    if own.empty:
        return [
            "Every primary contrast's run part is pooled over all runs (its variants' runs vary "
            "as the others').",
            "",
        ]
    names = ", ".join(f"`{row['variant']}` vs `{row['baseline']}`" for _, row in own.iterrows())
    return [
        f"{plural(len(own), 'primary contrast')} of {len(primary)} did not borrow the pooled run "
        f"part: their variants' runs vary more than the others' (a one-sided F test, "
        f"`method_reason` in contrasts.csv), so each interval rests on the contrast's own "
        f"{plural(int(own['seeds'].iloc[0]) - 1, 'degree')} of freedom and detects less than the "
        f"power sentence says: {names}.",
        "",
    ]


def convergence_lines(convergence: pd.DataFrame | None, last_k: int) -> list[str]:
    """Did every variant level off, and did single epochs throw runs off?"""
    if convergence is None or convergence.empty:
        return []
    window = int(convergence["window"].max())
    rising = convergence[convergence["still_rising"].astype(bool)]
    collapsed = int(convergence["collapsed_epochs"].sum())
    endpoint = int(convergence["endpoint_epochs"].sum())
    lines = [
        "## Did the variants level off?",
        "",
        f"The slope of validation accuracy over each run's last {window} epochs (least "
        "squares), averaged over seeds, with its 95% t-interval over seeds; a variant is still "
        "rising when the interval lies above zero and the slope is at least 0.1 points per "
        "epoch. Collapsed epochs: epochs of the last "
        f"{last_k} (the endpoint) 3 points or more below their run's median over them.",
        "",
        (
            "Still rising at the end: "
            + ", ".join(f"`{v}`" for v in rising["variant"])
            + ": contrasts that involve them say so."
            if len(rising)
            else "No variant was still rising at the end."
        )
        + f" {collapsed} of {endpoint} endpoint epochs collapsed.",
        "",
        table(
            [
                [
                    f"`{row['variant']}`",
                    f"{row['slope_per_epoch'] * 100:+.2f}",
                    f"{row['slope_ci_low'] * 100:+.2f} to {row['slope_ci_high'] * 100:+.2f}",
                    "yes" if row["still_rising"] else "no",
                    f"{row['collapsed_epochs']} of {row['endpoint_epochs']}",
                ]
                for _, row in convergence.iterrows()
            ],
            [
                "variant",
                "slope (pts/epoch)",
                "95% CI (seeds)",
                "still rising",
                "collapsed endpoint epochs",
            ],
        ),
        "",
    ]
    return lines


def rising_variants(convergence: pd.DataFrame | None) -> dict[str, str]:
    """variant -> its slope in words, for the variants still rising at the end."""
    if convergence is None or convergence.empty:
        return {}
    return {
        row["variant"]: (
            f"`{row['variant']}` gained {row['slope_per_epoch'] * 100:+.2f} points per epoch over "
            f"its last {row['window']} epochs (95% CI {row['slope_ci_low'] * 100:+.2f} to "
            f"{row['slope_ci_high'] * 100:+.2f})"
        )
        for _, row in convergence.iterrows()
        if row["still_rising"]
    }


def endpoint_lines(endpoint: pd.DataFrame | None, last_k: int) -> list[str]:
    """The primary verdicts at other endpoints (last 1, 5, 10 epochs)."""
    if endpoint is None or endpoint.empty:
        return []
    ks = sorted(endpoint["last_k"].unique())
    rows = []
    for (variant, baseline), group in endpoint.groupby(["variant", "baseline"], sort=False):
        by_k = group.set_index("last_k")
        rows.append(
            [f"`{variant}` vs `{baseline}`"]
            + [
                f"{points(by_k.loc[k, 'difference'])} ({by_k.loc[k, 'verdict']})"
                if k in by_k.index
                else "n/a"
                for k in ks
            ]
        )
    verdicts_changed = sum(
        group["verdict"].nunique() > 1
        for _, group in endpoint.groupby(["variant", "baseline"], sort=False)
    )
    return [
        "## How the answer depends on the endpoint",
        "",
        f"The primary contrasts when an image's score is its accuracy over the last k epochs, "
        f"for k = {', '.join(map(str, ks))} (this study's verdicts use k = {last_k}): "
        f"{plural(verdicts_changed, 'verdict')} of {len(rows)} change with k.",
        "",
        table(rows, ["contrast", *[f"k = {k}: difference (pts), verdict" for k in ks]]),
        "",
    ]


def family_words(primary: pd.DataFrame) -> str:
    """The primary family's questions, in words."""
    present = [f for f in (ALONE, IN_COMPANY, OVERALL) if f in set(primary["family"])]
    words = {
        ALONE: "each transform alone against `none`",
        IN_COMPANY: "`all` against `all` minus each transform",
        OVERALL: "`all` against `none`",
    }
    return " and ".join(words[f] for f in present) or "none"


def dose_response_lines(table: pd.DataFrame | None) -> list[str]:
    """The dose-response section: accuracy and the difference from none per strength."""
    if table is None or table.empty:
        return []
    lines = [
        "## Dose-response",
        "",
        "Each swept transform at each strength (`X@value`; `none` is strength 0): validation "
        "accuracy and its difference from `none`, with 95% CIs over seeds and images. "
        "Descriptive: these contrasts are not part of the corrected family.",
        "",
    ]
    for transform, rows in table.groupby("transform", sort=False):
        lines += [
            f"### {transform}",
            "",
            dose_response_table(rows),
            "",
        ]
    return lines


def dose_response_table(rows: pd.DataFrame) -> str:
    """One swept transform's rows of the dose-response table, as markdown."""
    return table(
        [
            [
                f"{row['strength']:g}",
                row["variant"],
                percent(row["accuracy"]),
                interval_text(row["accuracy_ci_low"], row["accuracy_ci_high"], "%"),
                "-" if row["variant"] == "none" else points(row["difference"]),
                "-"
                if row["variant"] == "none"
                else interval_text(row["difference_ci_low"], row["difference_ci_high"]),
            ]
            for _, row in rows.iterrows()
        ],
        ["strength", "variant", "val acc", "95% CI", "vs none (pts)", "95% CI vs none"],
    )


def run_part_words(primary: pd.DataFrame) -> str:
    """How the primary contrasts' seed parts were estimated (the ``method`` and ``run_df``
    columns), in words."""
    if "method" not in primary or primary.empty:
        return "the contrast's own seeds"
    parts = []
    for method, rows in primary.groupby("method", sort=False):
        df = ", ".join(f"{value:g}" for value in sorted(set(rows["run_df"].round(2))))
        parts.append(f"{method} for {plural(len(rows), 'contrast')} ({df} df)")
    return "; ".join(parts)


def methods_lines(alpha: float, margin: float, primary: pd.DataFrame) -> list[str]:
    return [
        "## How the numbers were made",
        "",
        "- Each difference is a mean over a seeds x images table of per-image differences. Its "
        "95% CI and p-value count both sources of sampling: the seed part (how much runs vary, "
        "propagated exactly with its degrees of freedom: "
        + run_part_words(primary)
        + ") and the image part (systematic per-image effects, from the two-way ANOVA of the "
        "table). With one seed only images are sampled, and the intervals say so.",
        f"- Verdicts: the {plural(len(primary), 'primary contrast')} ({family_words(primary)}) "
        f"{'is a family of one' if len(primary) == 1 else 'are one family'}; Holm's correction "
        f"holds its "
        f"family-wise error at {alpha:g}, once for the difference tests (helps / hurts) and once "
        f"for the equivalence tests against {margin_text(margin)} (two one-sided tests: no "
        "effect larger than the margin). A contrast neither test decides is inconclusive.",
        "- Cross-check: an exact McNemar test of every pair of runs (one seed, last-epoch "
        'correctness); the verdict table\'s "seeds agreeing" counts the seeds in which it is '
        "significant in the direction of the estimate. It judges images only, one seed at a "
        "time: seeds can each disagree significantly in opposite directions, which is seed "
        "variance, and what makes a verdict over seeds inconclusive.",
        "- Definitions of every metric and test: `config/README.md` of the workflow.",
        "",
    ]


def build_report(
    *,
    config: Mapping,
    meta: Mapping,
    variants: pd.DataFrame,
    runs: pd.DataFrame,
    contrasts: pd.DataFrame,
    floor: Mapping,
    power: Mapping,
    run_metrics: Sequence[Mapping],
    figures: Mapping[str, str],
    command: str,
    config_files: Sequence[str] = (),
    dose_response: pd.DataFrame | None = None,
    effects: pd.DataFrame | None = None,
    design_text: str = "",
    alias_chains: Sequence[str] = (),
    convergence: pd.DataFrame | None = None,
    endpoint: pd.DataFrame | None = None,
    overall: pd.DataFrame | None = None,
) -> str:
    """The whole report as markdown. ``figures`` maps a title to a path relative to the report."""
    analysis = config.get("analysis", {})
    seeds = sorted(int(s) for s in runs["seed"].unique())
    order = variant_order(runs["variant"])
    lines = [f"# Augmentation ablation: {config['data']['name']}", ""]
    if effects is not None and not effects.empty:  # a factorial study answers by its effects
        lines += factorial_lines(
            effects,
            design_text,
            len(order),
            len(seeds),
            alias_chains,
            analysis.get("alpha", 0.05),
            runs["train_seconds"].tolist() if "train_seconds" in runs else (),
            overall,
        )
    factorial = effects is not None and not effects.empty
    last_k = analysis.get("last_k", 5)
    lines += answer_section(
        contrasts,
        variants,
        floor,
        None if factorial else power,  # a factorial study's power is its main effects'
        seeds,
        last_k,
        rising_variants(convergence),
    )
    lines += convergence_lines(convergence, last_k)
    lines += endpoint_lines(endpoint, last_k)
    settings = AugmentationSettings.from_config(config["augmentation"])
    if any("shear" in settings.for_variant(variant).enabled() for variant in order):
        shear = config["augmentation"]["shear"]
        lines += [
            f"Note on shear: the shear range is in degrees, as in the reference ImageDataGenerator "
            f"(`shear_range` is an angle in degrees); this study used {shear} degrees"
            + (", an almost invisible shear." if shear < 2 else "."),
            "",
        ]
    lines += ["## Overfitting", ""]
    lines += [
        "The generalization gap is clean training accuracy (the same weights on un-augmented "
        "training images) minus validation accuracy. Keras' accuracy on the augmented training "
        "batches is shown separately: it measures how hard the augmented images are, not "
        "overfitting.",
        "",
    ]
    lines += ["- " + s for s in overfitting_sentences(variants)]
    lines += ["", overfitting_table(variants), ""]
    lines += dose_response_lines(dose_response)
    if factorial:
        lines += factorial_methods_lines(analysis.get("alpha", 0.05), effects)
    else:
        lines += methods_lines(
            analysis.get("alpha", 0.05),
            analysis.get("equivalence_margin", 1.0) / 100,
            contrasts[contrasts["primary"].astype(bool)],
        )
    lines += ["## Figures", ""]
    for title, path in figures.items():
        lines += [f"### {title}", "", f"![{title}]({path})", ""]
    lines += protocol_lines(config, meta, order, seeds, run_metrics)
    lines += ["", "## Reproduce", ""]
    if config_files:
        lines += [
            "The config files that made this study, later ones overriding earlier ones: "
            + ", ".join(f"`{name}`" for name in config_files)
            + ".",
            "",
        ]
    lines += ["```", command, "```", ""]
    return "\n".join(lines)


def data_lines(meta: Mapping) -> list[str]:
    """What was read as data, what was skipped and why, and warnings about the classes."""
    lines = []
    ignored = meta.get("ignored", {})
    other = ignored.get("other_suffixes", {})
    if ignored.get("hidden") or other:
        lines.append(
            f"- Not data, skipped: {ignored.get('hidden', 0)} hidden file(s) or folder(s) "
            "(names starting with a dot, `__MACOSX`) and "
            f"{sum(other.values())} file(s) of other kinds"
            + (f" ({', '.join(f'{k}: {v}' for k, v in other.items())})" if other else "")
            + "."
        )
    undecodable = sum(len(v) for v in meta.get("skipped", {}).values())
    if undecodable:
        lines.append(
            f"- {undecodable} undecodable file(s) skipped (`data.skip_bad_images`; listed in the "
            "cache's meta.json)."
        )
    orientation = meta.get("exif_orientation", "ignore")
    lines.append(
        "- EXIF orientation: "
        + (
            "ignored, as the reference loader does (`data.exif_orientation: ignore`)."
            if orientation == "ignore"
            else "applied: photos turned upright (`data.exif_orientation: apply`)."
        )
    )
    lines += [f"- **Warning**: {warning}." for warning in meta.get("warnings", [])]
    return lines


def validation_cadence(epochs: int, every: int) -> str:
    """Which epochs scored the validation split (``evaluation.validate_every``), in words."""
    if every == 1 or epochs <= FULL_VALIDATION_EPOCHS:
        return "Every epoch scores"
    return (
        f"Each of the last {FULL_VALIDATION_EPOCHS} epochs, and one in {every} before them "
        "(counted back from the last; the training is the same), scores"
    )


def model_line(model, classes: int, learning_rate: float) -> str:
    """The report's line on the model: the reference CNN's layers, or the architecture."""
    output = (
        "sigmoid output, binary cross-entropy"
        if classes == 2
        else "softmax output, sparse categorical cross-entropy"
    )
    optimizer = f"RMSprop(learning_rate={learning_rate})"
    architecture = model.get("architecture", "reference")
    if architecture == "reference":
        return (
            f"- Model: Conv2D(3x3, ReLU) + MaxPool(2) blocks with {model['filters']} filters, "
            f"Flatten, Dense({model['dense_units']}, ReLU), {output}; pixels / 255; {optimizer}."
        )
    if ":" in architecture:
        return (
            f"- Model: the function `{architecture}` with arguments {model.get('args') or {}}, "
            f"given raw 0..255 pixels; {optimizer} unless it returned a compiled model (the "
            "training logs say)."
        )
    return (
        f"- Model: keras.applications {architecture} without its top (weights "
        f"{model.get('weights') or 'random'}, arguments {model.get('args') or {}}), global "
        f"pooling and a Dense {output}; its family's preprocess_input on 0..255 pixels; "
        f"{optimizer}."
    )


def protocol_lines(config, meta, order, seeds, run_metrics) -> list[str]:
    counts = {split: meta["splits"][split]["count"] for split in meta["splits"]}
    data, model, train = config["data"], config["model"], config["train"]
    evaluation = config.get("evaluation", {})
    source = {
        "archive": data.get("url"),
        "folder": f"the folder {data.get('path')}",
        "embedded": "scikit-learn's digits (embedded)",
        "generated": "the generated known-answer glyphs",
    }.get(data.get("source"), data.get("source"))
    lines = [
        "## Data and protocol",
        "",
        f"- Data: {data['name']} from {source}; {counts['train']} training and "
        f"{counts['validation']} validation images, {len(meta['classes'])} classes "
        f"({', '.join(meta['classes'])}); decoded once at {meta['image_size']}x{meta['image_size']} "
        f"RGB, resized with `{meta['resize']}`.",
        *data_lines(meta),
        model_line(model, len(meta["classes"]), train["learning_rate"]),
        f"- Training: batch {train['batch_size']}, {train['steps_per_epoch']} steps per epoch, "
        f"{train['epochs']} epochs; augmentation placed in the "
        f"{train.get('augmentation_placement', 'pipeline')}. "
        + validation_cadence(train["epochs"], evaluation.get("validate_every", 1))
        + f" all {counts['validation']} validation images once; clean training accuracy on a "
        "fixed sample of "
        f"{min(evaluation.get('clean_train_images', 1000), counts['train'])} un-augmented "
        f"training images every {evaluation.get('clean_train_every', 1)} epoch(s), back from the "
        "last.",
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
        # the epochs that scored the validation split (every epoch in runs from before the key)
        evaluation_seconds = [
            m["evaluation_seconds"][epoch - 1]
            for m in run_metrics
            for epoch in m.get("validated_epochs", range(1, len(m["evaluation_seconds"]) + 1))
        ]
        lines += [
            f"- Software: Python {env['python']}, TensorFlow {env['tensorflow']}, Keras "
            f"{env['keras']}, NumPy {env['numpy']}.",
            f"- Hardware: {env['platform']}, {env['cpu_count']} CPU(s), "
            f"GPUs: {', '.join(env['gpus']) or 'none'}; {run_metrics[0]['threads']} thread(s) per "
            "training.",
            f"- Compute: {len(run_metrics)} trainings, {total / 60:.1f} min of training wall time "
            f"in all; median epoch {pd.Series(per_epoch).median():.2f} s of training plus "
            f"{pd.Series(evaluation_seconds).median():.2f} s of evaluation in a validated epoch.",
        ]
    return lines


# --------------------------------------------------------------------------------------------
# Factorial studies
# --------------------------------------------------------------------------------------------


def factorial_lines(
    effects: pd.DataFrame,
    design_text: str,
    runs: int,
    seeds: int,
    alias_chains: Sequence[str] = (),
    alpha: float = 0.05,
    train_seconds: Sequence[float] = (),
    overall: pd.DataFrame | None = None,
) -> list[str]:
    """The factorial design's answer: main effects with verdicts (the primary family), the
    two-factor interactions, augmentation as a whole and the alias structure, in words."""
    if effects is None or effects.empty:
        return []
    main = effects[effects["kind"] == "main effect"]
    pairs = effects[effects["kind"] == "interaction"]
    primary = effects[effects["primary"].astype(bool)]
    # a top-up's verdicts: their fixed-sample Holm p-values left out (augablate.topup)
    topped_up = _topped_up(primary)
    corrected = (
        "their verdicts the top-up's, at alpha-spending boundaries with group-sequential Holm"
        if topped_up
        else "Holm-corrected together"
    )
    lines = [
        "## Factorial design: main effects and interactions",
        "",
        f"{design_text}: {runs} design points x {plural(seeds, 'seed')} = "
        f"{runs * seeds} trainings. Every training informs every main effect: a transform's "
        "main effect is the mean accuracy of the runs with it on minus the mean with it off, "
        "averaged over the other transforms' settings. Intervals are over seeds and "
        "validation images, from one model of all runs" + _unreplicated_words(effects) + ".",
        "",
        effects_summary(primary),
        "",
        f"### Main effects ({plural(len(primary), 'effect')}, {corrected})",
        "",
        table(
            [
                [
                    f"`{row['effect']}`",
                    points(row["difference"]),
                    interval_text(row["ci_low"], row["ci_high"]),
                    p_text(row["p_holm"]),
                    f"{row['minimum_detectable_effect'] * 100:.1f}",
                    VERDICTS[row["verdict"]].format(margin=margin_text(row["margin"])),
                ]
                for _, row in main.iterrows()
            ],
            [
                "transform",
                "main effect (pts)",
                "95% CI (seeds and images)",
                "Holm p",
                "detectable (pts, 80% power)",
                "verdict",
            ],
        ),
        "",
    ]
    for _, row in main.iterrows():
        lines.append(f"- {_main_effect_sentence(row)}")
    lines += [""]
    lines += [line for text in effects_power_lines(primary, alpha) for line in (text, "")]
    lines += [line for text in cost_lines(primary, train_seconds, alpha) for line in (text, "")]
    lines += ["### Two-factor interactions (descriptive)", ""]
    if pairs.empty:
        lines += ["This design estimates no two-factor interaction.", ""]
    else:
        lines += [
            "An interaction of two transforms is how much larger the effect of one is when the "
            "other is on than when it is off (the same both ways round): negative, they stand "
            "in for one another (together they add less than the sum of their parts); positive, "
            "they reinforce each other. Aliased effects cannot be told apart by this design: "
            "their number is the sum of the chain.",
            "",
            table(
                [
                    [
                        row["transforms"],
                        (
                            row["aliases"].replace(":", " and ")
                            if isinstance(row["aliases"], str)
                            else ""
                        )
                        or "(clear)",
                        points(row["difference"]),
                        interval_text(row["ci_low"], row["ci_high"]),
                        p_text(row["p_value"]),
                    ]
                    for _, row in pairs.iterrows()
                ],
                ["transforms", "aliased with", "interaction (pts)", "95% CI", "unadjusted p"],
            ),
            "",
        ]
        for _, row in pairs.iterrows():
            if not _missing(row["ci_low"]) and (row["ci_low"] > 0 or row["ci_high"] < 0):
                lines.append(f"- {_interaction_sentence(row)}")
        lines.append("")
    lines += overall_lines(overall)
    aliased = [chain for chain in alias_chains if "=" in chain]
    lines += ["### Alias structure", ""]
    if aliased:
        lines += [
            "Effects in one chain share one contrast of the design's runs: the design estimates "
            "their sum (pyDOE3's alias chains; `a:b` is the interaction of a and b):",
            "",
            *[f"- `{chain}`" for chain in aliased],
            "",
        ]
    else:
        lines += ["The full design: every effect is estimated clear of every other.", ""]
    return lines


def _topped_up(primary: pd.DataFrame) -> bool:
    """Whether a top-up decided the primary effects: their fixed-sample Holm p-values left out
    (augablate.topup) while their own p-values stand (an untestable study has neither)."""
    return (
        not primary.empty
        and bool(primary["p_holm"].isna().all())
        and bool(primary["p_value"].notna().any())
    )


def _unreplicated_words(effects: pd.DataFrame) -> str:
    """With one seed per design point: where the run part comes from (else nothing)."""
    if (effects["seeds"] < 2).all() and effects["p_value"].isna().all():
        return (
            ": but with one seed per design point and no contrast of the design free of main "
            "effects and two-factor interactions, nothing measures how runs vary, so there are "
            "no intervals or verdicts (add a seed)"
        )
    if not (effects["method"] == HIGHER_ORDER).any():
        return ""
    chains = int(effects.loc[effects["method"] == HIGHER_ORDER, "df"].iloc[0])
    return (
        f": with one seed per design point, how runs vary is measured by the design's "
        f"{plural(chains, 'contrast')} that only interactions of three or more transforms "
        "share (taken as negligible; a second seed measures it directly)"
    )


def overall_lines(overall: pd.DataFrame | None) -> list[str]:
    """Augmentation as a whole (``overall.csv``): descriptive contrasts of the design points,
    what a none-vs-all study measures."""
    if overall is None or overall.empty:
        return []
    lines = [
        "### Augmentation as a whole (descriptive)",
        "",
        "What a none-vs-all study measures, from the one model of all runs (the descriptive "
        "contrasts of the design points below each take their own seeds instead):",
        "",
        table(
            [
                [
                    f"`{row['effect']}`",
                    row["meaning"],
                    points(row["difference"]),
                    interval_text(row["ci_low"], row["ci_high"]),
                    p_text(row["p_value"]),
                ]
                for _, row in overall.iterrows()
            ],
            [
                "contrast",
                "what it compares",
                "difference (pts)",
                f"95% CI ({overall['population'].iloc[0]})",
                "unadjusted p",
            ],
        ),
        "",
    ]
    return lines


def effects_summary(primary: pd.DataFrame) -> str:
    """One line: which main effects got which verdict."""
    return "In short, averaged over the other transforms' settings: " + _verdict_words(
        primary, lambda row: f"`{row['effect']}`"
    )


def effects_power_lines(primary: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """What the design can show: the primary effects' median MDE with its interval, and the
    narrowest equivalence margin within reach (and whether the study's margin is)."""
    if primary.empty or "smallest_margin" not in primary:
        return []
    reach = primary.dropna(subset=["minimum_detectable_effect", "smallest_margin"])
    if reach.empty:
        return []
    median = {
        column: float(reach[column].median()) * 100
        for column in (
            "minimum_detectable_effect",
            "minimum_detectable_effect_ci_low",
            "minimum_detectable_effect_ci_high",
            "smallest_margin",
        )
    }
    level = alpha / len(primary)
    lines = [
        f"Power: from one model of all runs (the run part with {reach['df'].median():g} degrees "
        f"of freedom), a main effect detects a true difference of "
        f"{median['minimum_detectable_effect']:.1f} points (95% CI "
        f"{median['minimum_detectable_effect_ci_low']:.1f} to "
        f"{median['minimum_detectable_effect_ci_high']:.1f}; median over "
        f"{plural(len(reach), 'main effect')}) with 80% power at Holm's strictest level "
        f"(alpha = {level:.4f}). The narrowest equivalence margin it establishes with 80% power "
        f"when the true effect is 0 is ±{median['smallest_margin']:.1f} points."
    ]
    margin = float(primary["margin"].iloc[0])
    if median["smallest_margin"] > margin * 100:
        lines.append(
            f"The equivalence margin of this study, {margin_text(margin)} "
            '(`analysis.equivalence_margin`), is narrower than that: "no effect larger than '
            f'{margin_text(margin)}" is out of its reach, so its verdicts are, in practice, an '
            "effect or inconclusive."
        )
    return lines


def cost_lines(primary: pd.DataFrame, train_seconds: Sequence[float], alpha: float) -> list[str]:
    """What this answer took, against what a one-at-a-time study of the same transforms would
    need for the same MDE (the effects table's ``one_at_a_time_seeds_*``, medians over the
    primary effects) in trainings and hours at this study's time per training."""
    needed = primary.dropna(subset=["one_at_a_time_seeds_low"]) if len(primary) else primary
    seconds = [float(x) for x in train_seconds if x == x]
    if needed.empty or not seconds:
        return []
    factors = len(primary[primary["kind"] == "main effect"])
    variants, level = 2 * factors + 2, alpha / (2 * factors)
    trainings = len(seconds)
    each = float(pd.Series(seconds).median())
    low = float(needed["one_at_a_time_seeds_low"].median())
    high = float(needed["one_at_a_time_seeds_high"].median())
    mde = float(needed["minimum_detectable_effect"].median()) * 100

    def cost(seeds: float) -> str:
        return (
            f"{seeds:.0f} seeds per variant ({variants * seeds:.0f} trainings, about "
            f"{variants * seeds * each / 3600:.1f} hours)"
        )

    one_seed = (needed["method"] == HIGHER_ORDER).any()
    if one_seed:
        worst = (
            "if a run's own per-image noise is the design point's systematic change of those "
            "images rather than churn (seeds do not shrink that part)"
        )
        span = (
            "a run's per-image noise being churn or the design point's own change of single "
            "images, which one seed cannot tell apart"
        )
    else:
        worst = (
            "if the transforms' changes of single images are independent per design point "
            "(seeds do not shrink that part)"
        )
        span = (
            "a transform's change of single images being wholly its own or independent per "
            "design point"
        )
    if math.isinf(low):
        reach = "could not reach it with any number of seeds"
    elif math.isinf(high):
        reach = (
            f"would need at least {cost(low)}, and could not reach it with any number of seeds "
            f"{worst}"
        )
    elif high > low:
        reach = f"would need {cost(low)} to {cost(high)}"
    else:
        reach = f"would need {cost(low)}"
    return [
        f"Cost: this answer took {trainings} trainings ({sum(seconds) / 3600:.2f} hours of "
        f"training, a median of {each:.0f} s each). To detect the {mde:.1f} points a main "
        f"effect detects here, a one-at-a-time study of the same {factors} transforms "
        f"({variants} variants: `none`, each alone, `all`, `all` minus each; its contrasts "
        f"tested at its Holm level, alpha = {level:.4f}) {reach}, from this study's variance "
        f"components (medians over the main effects; the range spans {span})."
    ]


def factorial_methods_lines(alpha: float, effects: pd.DataFrame) -> list[str]:
    primary = effects[effects["primary"].astype(bool)]
    margin = float(primary["margin"].iloc[0]) if len(primary) else math.nan
    # a top-up's verdicts: their fixed-sample Holm p-values left out (augablate.topup)
    topped_up = _topped_up(primary)
    methods = ", ".join(sorted(set(effects["method"].dropna().astype(str)))) or "none"
    df = ", ".join(f"{value:g}" for value in sorted(set(effects["df"].dropna().round(2))))
    return [
        "## How the numbers were made",
        "",
        "- Each main effect and interaction is a contrast of the design points' mean per-image "
        "scores (the runs with it on against the runs with it off). Its 95% CI and p-value "
        "count both sources of sampling: the run part (how much runs vary, from one model of "
        f"all runs: {methods}, {df} degrees of freedom) and the image part (systematic "
        "per-image effects, from the two-way ANOVA of the seeds x images table of the "
        "contrast)."
        + (
            " With one seed per design point, the run part is the mean square of the design's "
            "contrasts that only interactions of three or more transforms share (assumed "
            "negligible), and the image part what the effect's own per-image variance holds "
            "beyond theirs: a transform's own change of single images."
            if (effects["method"] == HIGHER_ORDER).any()
            else ""
        ),
        f"- Verdicts: the {plural(len(primary), 'main effect')} are one family; "
        + (
            "the sequential top-up's alpha-spending boundaries with group-sequential Holm hold "
            f"its family-wise error at {alpha:g} over the looks (the top-up section above)"
            if topped_up
            else f"Holm's correction holds its family-wise error at {alpha:g}"
        )
        + f", once for the difference tests (helps / hurts) and once for the equivalence tests "
        f"against {margin_text(margin)} (two one-sided tests: no effect larger than the "
        "margin). An effect neither test decides is inconclusive. The interactions and the "
        "contrasts between design points are descriptive (unadjusted p-values).",
        "- Definitions of every metric and test: `config/README.md` of the workflow.",
        "",
    ]


def effects_in_brief(effects: pd.DataFrame) -> str:
    """The main effects' verdicts in one paragraph, each with its 95% CI (the README quotes a
    committed factorial study's with this, and a test regenerates it from its table)."""
    return _in_brief(effects, lambda row: f"`{row['effect']}`", ci_when_inconclusive=True)


def _main_effect_sentence(row: Mapping) -> str:
    ci = f"95% CI {interval_text(row['ci_low'], row['ci_high'])} over {row['population']}"
    words = VERDICTS[row["verdict"]].format(margin=margin_text(row["margin"]))
    aliased = (
        f" It is aliased with {_aliases(row)}: the number is their sum." if _aliases(row) else ""
    )
    column = "p_equivalence_holm" if row["verdict"] == "negligible" else "p_holm"
    return (
        f"`{row['effect']}`, averaged over the other transforms' settings, changed validation "
        f"accuracy by {points(row['difference'])} points ({ci}; {holm_text(row, column)}): "
        f"**{words}**.{aliased}"
    )


def _interaction_sentence(row: Mapping) -> str:
    first, second = row["effect"].split(":")
    kind = "stand in for one another" if row["difference"] < 0 else "reinforce each other"
    alias = f" (aliased with {_aliases(row)})" if _aliases(row) else ""
    return (
        f"`{first}` and `{second}` together{alias}: the effect of either is "
        f"{abs(row['difference']) * 100:.1f} points {'smaller' if row['difference'] < 0 else 'larger'}"
        f" with the other on than off (95% CI {interval_text(row['ci_low'], row['ci_high'])}, "
        f"unadjusted {p_is(row['p_value'])}): they {kind}."
    )


def _aliases(row: Mapping) -> str:
    """An effect's alias chain in words ("" for a clear effect; a CSV gives NaN for none)."""
    aliases = row["aliases"]
    return aliases.replace(":", " and ") if isinstance(aliases, str) else ""


def answer_in_brief(contrasts: pd.DataFrame) -> str:
    """The primary verdicts in one paragraph, each effect with its 95% CI (the README quotes a
    committed study's with this, and a test regenerates it from that study's table)."""
    return _in_brief(
        contrasts,
        lambda row: (
            f"`{row['transform']}` {'in company' if row['family'] == IN_COMPANY else 'alone'}"
        ),
        ci_when_inconclusive=False,
    )


def _in_brief(table: pd.DataFrame, name, ci_when_inconclusive: bool) -> str:
    """A table's primary verdicts in one paragraph: per verdict, each row's ``name`` with its
    difference and 95% CI (an inconclusive one's only if ``ci_when_inconclusive``)."""
    primary = table[table["primary"].astype(bool)]
    parts = []
    for verdict in ("helps", "hurts", "negligible", "inconclusive"):
        chosen = primary[primary["verdict"] == verdict]
        if chosen.empty:
            continue
        words = VERDICTS[verdict].format(margin=margin_text(chosen["margin"].iloc[0]))
        named = [
            name(row)
            + (
                f" ({points(row['difference'])} points, 95% CI "
                f"{interval_text(row['ci_low'], row['ci_high'])})"
                if verdict != "inconclusive" or ci_when_inconclusive
                else ""
            )
            for _, row in chosen.iterrows()
        ]
        parts.append(f"**{words}**: {', '.join(named)}")
    return "; ".join(parts) + "."
