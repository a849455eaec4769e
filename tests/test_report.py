"""The report says what the tables say, in the words its verdict rule fixes."""

import math

import pandas as pd
import pytest
from test_analysis import runs_of, study

from augablate.analysis import (
    contrast_pairs,
    contrasts,
    mcnemar_table,
    noise_floor,
    study_power,
    variant_summary,
)
from augablate.report import build_report, effect_sentence

CONFIG = {
    "data": {"name": "toy", "source": "embedded"},
    "model": {"filters": [8], "dense_units": 4},
    "train": {"batch_size": 2, "steps_per_epoch": 1, "epochs": 3, "learning_rate": 0.001},
    "evaluation": {"clean_train_every": 1, "clean_train_images": 1000},
    "augmentation": {"rotation": 40, "shear": 0.2},
    "analysis": {"last_k": 2, "alpha": 0.05, "equivalence_margin": 1.0},
}
META = {
    "classes": ["cat", "dog"],
    "image_size": 8,
    "resize": "nearest",
    "splits": {"train": {"count": 10}, "validation": {"count": 600}},
}


def tables(seeds=3):
    images = study(seeds=seeds)
    runs = runs_of(images, gap=0.2)  # clean accuracy 20% of the way to 100%
    return images, runs, variant_summary(runs, images), contrasts(images)


def render(seeds=3):
    images, runs, variants, table = tables(seeds)
    mcnemar = mcnemar_table(images, contrast_pairs(images["variant"].unique()))
    text = build_report(
        config=CONFIG,
        meta=META,
        variants=variants,
        runs=runs,
        contrasts=table,
        floor=noise_floor(mcnemar),
        power=study_power(table),
        run_metrics=[],
        figures={"Curves": "figures/c.png"},
        command="snakemake --cores 4",
    )
    return text, variants, table


def test_report_matches_the_tables_and_names_populations():
    text, variants, table = render()
    for _, row in variants.iterrows():
        assert f"| {row['variant']} " in text
        assert f"{row['final_val_accuracy_mean'] * 100:.1f}%" in text
    rotation = table[(table["family"] == "alone") & (table["transform"] == "rotation")].iloc[0]
    assert (
        f"`rotation` alone (against `none`) raised validation accuracy by "
        f"{rotation['difference'] * 100:.1f} points" in text
    )
    assert "over seeds and images" in text and "**it helps**" in text
    assert "### Verdicts (4 primary contrasts, Holm-corrected together)" in text
    assert "In short: **Helps**: `rotation`, `rotation` in company." in text
    assert (
        "| rotation    | what a transform does alone (X vs none)                  | +7.5 " in text
    )
    assert "### Descriptive contrasts (not part of the corrected family)" in text
    assert "Adding `rotation` to the others (`all` vs `all-minus-rotation`)" in text
    assert "Noise floor: every run scores the same 600 distinct validation images" in text
    assert "with 80% power at Holm's strictest level (alpha = 0.0125)" in text
    assert "Chance level: the majority class is 66.7% of the validation images" in text
    assert "![Curves](figures/c.png)" in text
    assert "Note on shear" in text and "0.2 degrees" in text


def test_one_seed_report_gives_no_verdicts():
    text, _, table = render(seeds=1)
    assert set(table.loc[table["primary"], "verdict"]) == {"single seed"}
    assert "over images (one seed)" in text
    assert "with one seed this interval speaks about validation images only" in text
    assert "**it helps**" not in text and "**it hurts**" not in text
    assert "the effect this study could detect across seeds cannot be computed" in text


BASE = {
    "family": "alone",
    "variant": "zoom",
    "baseline": "none",
    "transform": "zoom",
    "population": "seeds and images",
    "difference": 0.05,
    "ci_low": 0.03,
    "ci_high": 0.07,
    "p_value": 0.001,
    "p_holm": 0.004,
    "p_equivalence_holm": 0.9,
    "margin": 0.01,
}


@pytest.mark.parametrize(
    "verdict, changes, wording",
    [
        (
            "helps",
            {},
            "`zoom` alone (against `none`) raised validation accuracy by 5.0 points "
            "(95% CI +3.0 to +7.0 points over seeds and images; Holm-adjusted p = 0.004): "
            "**it helps**.",
        ),
        (
            "hurts",
            {"difference": -0.05, "ci_low": -0.07, "ci_high": -0.03},
            "lowered validation accuracy by 5.0 points (95% CI -7.0 to -3.0 points",
        ),
        (
            "negligible",
            {
                "difference": 0.001,
                "ci_low": -0.004,
                "ci_high": 0.006,
                "p_holm": 0.8,
                "p_equivalence_holm": 0.01,
            },
            "the whole effect lies within ±1 point (equivalence test, Holm-adjusted p = 0.010): "
            "**no effect larger than ±1 point**.",
        ),
        (
            "inconclusive",
            {"difference": 0.01, "ci_low": -0.02, "ci_high": 0.04, "p_holm": 0.6},
            "**inconclusive**: we could not tell whether it helps, hurts or changes accuracy by "
            "less than ±1 point.",
        ),
        (
            "inconclusive",
            {"ci_low": 0.001, "p_holm": 0.2},
            "its 95% CI excludes zero, but not after Holm's correction over the 12 primary "
            "contrasts",
        ),
        (
            "single seed",
            {"population": "images (one seed)"},
            "over images (one seed)): with one seed this interval speaks about validation images "
            "only",
        ),
        (
            "untestable",
            {"ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan},
            "the compared runs score every image alike in every seed",
        ),
        (
            "descriptive",
            {"family": "overall", "variant": "all", "transform": "all", "p_holm": math.nan},
            "All transforms together (`all` vs `none`) changed validation accuracy by +5.0 points "
            "(95% CI +3.0 to +7.0 points over seeds and images; unadjusted p = 0.001): "
            "descriptive, no verdict.",
        ),
    ],
)
def test_every_verdict_has_its_sentence(verdict, changes, wording):
    row = pd.Series({**BASE, **changes, "verdict": verdict})
    assert wording in effect_sentence(row, family_size=12)


def test_the_report_says_what_was_not_read_as_data_and_warns_about_classes():
    from augablate.report import data_lines

    meta = {
        **META,
        "ignored": {"hidden": 3, "hidden_examples": [], "other_suffixes": {".txt": 2}},
        "skipped": {"train": ["a/x.jpg: OSError: truncated"], "validation": []},
        "exif_orientation": "apply",
        "warnings": ["train: 100% of class 'a' but 0% of class 'b' are JPEG/RGB files"],
    }
    text = "\n".join(data_lines(meta))
    assert "3 hidden file(s) or folder(s)" in text and "2 file(s) of other kinds (.txt: 2)" in text
    assert "1 undecodable file(s) skipped" in text
    assert "EXIF orientation: applied" in text
    assert "**Warning**: train: 100% of class 'a' but 0% of class 'b' are JPEG/RGB files." in text
    assert "EXIF orientation: ignored" in "\n".join(data_lines(META))


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The cells of the markdown table whose header line starts with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def holm_by_hand(p):
    order = sorted(range(len(p)), key=lambda i: p[i])
    adjusted, running = [0.0] * len(p), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def test_a_whole_verdict_row_and_ranked_row_cell_by_cell():
    """Every cell of a verdict-table row and of a ranked-table row, from numbers computed
    here from the per-image table (not read back from the contrasts table where avoidable)."""
    from scipy import stats
    from test_analysis import pooled_run_part_by_hand

    from augablate.inference import CrossedEstimate, crossed_mean

    images, runs, variants, table = tables()
    text, _, _ = render()
    matrix = {
        v: images[images["variant"] == v].pivot(index="seed", columns="image", values="score")
        for v in images["variant"].unique()
    }
    # verdict table: "rotation in company" (all vs all-minus-rotation)
    first, second = matrix["all"], matrix["all-minus-rotation"]
    differences = (first - second).to_numpy()
    row = table[(table["family"] == "in company") & (table["transform"] == "rotation")].iloc[0]
    own = crossed_mean(differences)
    if row["method"] == "pooled runs":
        run_part, run_df = pooled_run_part_by_hand(images)
        estimate = CrossedEstimate(own.estimate, 3, 600, 2 * run_part, run_df, own.image_part)
    else:
        estimate = own
    low, high = estimate.interval()
    primary = table[table["primary"]]
    raw = primary["p_value"].tolist()
    holm_p = holm_by_hand(raw)[list(primary.index).index(row.name)]
    assert f"{holm_p:.3f}" != f"{row['p_value']:.3f}"  # the row tells Holm's from the raw p
    agreeing = 0
    for seed in (1, 2, 3):
        right = {
            v: images[(images["variant"] == v) & (images["seed"] == seed)][
                "last_epoch_correct"
            ].to_numpy()
            for v in ("all", "all-minus-rotation")
        }
        only_first = int(((right["all"] == 1) & (right["all-minus-rotation"] == 0)).sum())
        only_second = int(((right["all"] == 0) & (right["all-minus-rotation"] == 1)).sum())
        p = stats.binomtest(only_first, only_first + only_second).pvalue
        agreeing += p < 0.05 and (only_first > only_second) == (differences.mean() > 0)
    assert agreeing == 3
    verdict_rows = table_rows(text, "| transform")
    assert verdict_rows[2] == [
        "rotation",
        "what a transform adds to the others (all vs all minus X)",
        f"{differences.mean() * 100:+.1f}",
        f"{low * 100:+.1f} to {high * 100:+.1f} points",
        f"{holm_p:.3f}",
        "3/3",
        "helps" if holm_p < 0.05 else "inconclusive: we could not tell",
    ]
    # ranked table: the best variant
    accuracy = {v: m.to_numpy().mean() for v, m in matrix.items()}
    best = max(accuracy, key=accuracy.get)
    low, high = crossed_mean(matrix[best].to_numpy()).interval()
    clean = runs.loc[runs["variant"] == best, "final_clean_train_accuracy"].mean()
    gap = runs.loc[runs["variant"] == best, "generalization_gap"].mean()
    chance = 2 / 3  # dogs: 2 of every 3 images
    assert table_rows(text, "| rank")[0] == [
        "1",
        best,
        "3",
        f"{accuracy[best] * 100:.1f}%",
        f"{low * 100:.1f}% to {high * 100:.1f}%",
        f"{clean * 100:.1f}%",
        f"{gap * 100:+.1f}",
        "yes" if low > chance else "**no**",
    ]
    # and the clean-train accuracy's interval is not the validation one (the column guard)
    best_row = variants.set_index("variant").loc[best]
    assert f"{best_row['final_clean_train_accuracy_ci_low'] * 100:.1f}%" != f"{low * 100:.1f}%"


def test_a_negligible_verdict_renders_in_the_summary_table_and_sentence():
    from augablate.report import verdict_summary, verdict_table

    _, _, _, table = tables()
    primary = table[table["primary"]].copy()
    index = primary.index[1]  # zoom alone
    primary.loc[index, "verdict"] = "negligible"
    primary.loc[index, "p_equivalence_holm"] = 0.01
    summary, rendered = verdict_summary(primary), verdict_table(primary)
    assert "**No effect larger than ±1 point**: `zoom`." in summary
    assert "| no effect larger than ±1 point " in rendered
    sentence = effect_sentence(primary.loc[index], family_size=4)
    assert sentence.endswith("**no effect larger than ±1 point**.")
    for text in (summary, rendered, sentence):
        assert "+-" not in text and "points points" not in text and "point points" not in text
    primary.loc[index, "margin"] = 0.025
    assert "**No effect larger than ±2.5 points**" in verdict_summary(primary)


def test_the_noise_floor_and_power_sentences_carry_the_tables_numbers():
    from augablate.analysis import pair_noise

    images, _, _, table = tables()
    text, _, _ = render()
    pairs = contrast_pairs(images["variant"].unique())
    noise = [
        pair_noise(
            images[(images["variant"] == p.variant) & (images["seed"] == s)]["score"].to_numpy(),
            images[(images["variant"] == p.baseline) & (images["seed"] == s)]["score"].to_numpy(),
        )
        for p in pairs
        for s in (1, 2, 3)
    ]
    disagreement = pd.Series([n[1] for n in noise]).median()
    se = pd.Series([n[2] for n in noise]).median() * 100
    assert f"score a median {disagreement * 100:.1f}% of them differently" in text
    assert f"standard error of about {se:.1f} points" in text
    power = study_power(table)
    assert (
        f"detects a true difference of {power['detectable'] * 100:.1f} points (95% CI "
        f"{power['detectable_ci_low'] * 100:.1f} to {power['detectable_ci_high'] * 100:.1f})"
        in text
    )
    assert f"when the true effect is 0 is ±{power['smallest_margin'] * 100:.1f} points" in text
