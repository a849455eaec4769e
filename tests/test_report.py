import re

import pandas as pd
import pytest
from test_analysis import planted_runs

from augablate.analysis import contrasts, variant_summary
from augablate.report import build_report, effect_sentence


def study_tables(seeds):
    runs = planted_runs({"none": 0.0, "rotation": 0.06, "zoom": 0.0, "all": 0.04}, seeds=seeds)
    runs["final_train_accuracy"] = runs["final_val_accuracy"] + 0.2
    runs["generalization_gap"] = 0.2
    runs["best_val_accuracy"] = runs["final_val_accuracy"]
    runs["min_val_loss"] = 0.5
    runs["val_loss_rise"] = 0.1
    return runs, variant_summary(runs), contrasts(runs)


CONFIG = {
    "data": {"name": "toy", "source": "embedded"},
    "model": {"filters": [8], "dense_units": 4},
    "train": {
        "batch_size": 2,
        "steps_per_epoch": 1,
        "epochs": 3,
        "validation_steps": 1,
        "learning_rate": 0.001,
    },
    "augmentation": {"rotation": 40, "shear": 0.2},
    "analysis": {"last_k": 2},
}
META = {
    "classes": ["a", "b"],
    "image_size": 8,
    "resize": "nearest",
    "splits": {"train": {"count": 10}, "validation": {"count": 1000}},
}


def render(seeds):
    runs, variants, table = study_tables(seeds)
    text = build_report(
        config=CONFIG,
        meta=META,
        variants=variants,
        runs=runs,
        contrast_table=table,
        run_metrics=[],
        figures={"Curves": "figures/c.png"},
        command="snakemake --cores 4",
    )
    return text, variants, table


def test_report_names_every_variant_and_matches_the_tables():
    text, variants, table = render(seeds=5)
    for variant in ["none", "rotation", "zoom", "all"]:
        assert f"| {variant} " in text or f"`{variant}`" in text
    for _, row in variants.iterrows():
        assert f"{row['final_val_accuracy_mean'] * 100:.1f}%" in text
    rotation = table.set_index("variant").loc["rotation"]
    assert f"raised validation accuracy by {rotation['difference'] * 100:.1f} points" in text
    assert "significant after Holm correction" in text
    assert re.search(r"`zoom` changed validation accuracy by [+-]\d\.\d points .*seed noise", text)
    assert "![Curves](figures/c.png)" in text
    assert "Note on shear" in text and "0.2 degrees" in text


def test_one_seed_report_says_no_test_is_possible():
    text, _, _ = render(seeds=1)
    assert "with one seed no test is possible" in text
    assert "significant" not in text


@pytest.mark.parametrize(
    "row, wording",
    [
        (
            {
                "difference": 0.05,
                "ci_low": 0.03,
                "ci_high": 0.07,
                "seeds": 3,
                "p_value": 0.01,
                "p_holm": 0.02,
                "effect_size_dz": 3.0,
            },
            "raised validation accuracy by 5.0 points [95% CI +3.0, +7.0], significant",
        ),
        (
            {
                "difference": -0.05,
                "ci_low": -0.07,
                "ci_high": -0.03,
                "seeds": 3,
                "p_value": 0.01,
                "p_holm": 0.02,
                "effect_size_dz": -3.0,
            },
            "lowered validation accuracy by 5.0 points",
        ),
        (
            {
                "difference": 0.05,
                "ci_low": 0.01,
                "ci_high": 0.09,
                "seeds": 3,
                "p_value": 0.04,
                "p_holm": 0.2,
                "effect_size_dz": 1.0,
            },
            "does not survive Holm correction",
        ),
        (
            {
                "difference": 0.01,
                "ci_low": -0.02,
                "ci_high": 0.04,
                "seeds": 3,
                "p_value": 0.4,
                "p_holm": 0.8,
                "effect_size_dz": 0.3,
            },
            "no difference distinguishable from seed noise",
        ),
    ],
)
def test_wording_follows_the_significance_rule(row, wording):
    assert wording in effect_sentence(pd.Series(row), "`x`")
