"""The committed cats-vs-dogs factorial example (docs/cats-vs-dogs-factorial/): its tables are
the analysis of its committed trainings, its pages are made from its tables and JSON, and it
answers what the reference study asks (every transform's main effect with a CI and a verdict,
the interactions the design can estimate, agreement with the none-vs-all example)."""

import importlib.util
import json

import pandas as pd
import pytest
from conftest import REPO

from augablate import analysis
from augablate.design import build_design
from augablate.factorial import design_scores, effects_table, overall_table
from augablate.simulate import DEFAULT_TRANSFORMS

DOCS = REPO / "docs" / "cats-vs-dogs-factorial"
RESULTS = json.loads((REPO / "benchmarks" / "cats_factorial.json").read_text())
DESIGN = build_design(DEFAULT_TRANSFORMS, resolution=4)
REFERENCE = {  # the seed's ImageDataGenerator ranges (shear in degrees)
    "rotation": 40.0,
    "width_shift": 0.2,
    "height_shift": 0.2,
    "shear": 0.2,
    "zoom": 0.2,
    "horizontal_flip": True,
}


def builder():
    spec = importlib.util.spec_from_file_location(
        "cats_factorial", REPO / "benchmarks" / "cats_factorial.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def images():
    """The per-image scores of the committed trainings that the tables analyse."""
    analysed = set(pd.read_csv(DOCS / "tables" / "runs.csv")[["variant", "seed"]].itertuples(False))
    predictions = []
    for run in sorted(DOCS.glob("runs/*/*/seed-*")):
        metrics = json.loads((run / "metrics.json").read_text())
        if (metrics["variant"], metrics["seed"]) in analysed:
            table = pd.read_csv(run / "predictions.csv.gz")
            predictions.append((metrics["variant"], metrics["seed"], table))
    assert len(predictions) == len(analysed)
    return analysis.image_table(predictions, last_k=5)


def test_every_kept_training_is_whole_and_of_the_reference_protocol():
    runs = sorted(DOCS.glob("runs/*/*/seed-*"))
    assert len(runs) >= 16
    for run in runs:
        assert {p.name for p in run.iterdir()} == {
            "history.csv",
            "predictions.csv.gz",
            "metrics.json",
        }
        m = json.loads((run / "metrics.json").read_text())
        assert m["epochs"] == 50 and run.parent.name == m["variant"]
        assert m["image_size"] == 150 and m["train"]["batch_size"] == 20
        assert m["train"]["steps_per_epoch"] == 100 and m["train"]["learning_rate"] == 1e-4
        assert m["train"]["filters"] == [32, 64, 128, 128] and m["train"]["dense_units"] == 512
        on = set(m["transforms"])
        for name, value in REFERENCE.items():  # the reference range when on, off otherwise
            assert m["augmentation"][name] == (value if name in on else type(value)(0)), name


def test_the_tables_are_the_analysis_of_the_committed_trainings(images):
    """effects.csv and overall.csv recomputed from the committed per-image predictions."""
    scores = design_scores(images, DESIGN.variants(DEFAULT_TRANSFORMS))
    effects = pd.read_csv(DOCS / "tables" / "effects.csv")
    fresh = effects_table(scores, DESIGN, margin=0.02)
    columns = list(effects.select_dtypes("number").columns)  # every number it states
    assert {"ci_low", "p_holm", "minimum_detectable_effect", "one_at_a_time_seeds_high"} <= set(
        columns
    )
    assert fresh[columns].to_numpy() == pytest.approx(
        effects[columns].to_numpy(), abs=1e-12, nan_ok=True
    )
    assert list(fresh["verdict"]) == list(effects["verdict"])
    overall = pd.read_csv(DOCS / "tables" / "overall.csv")
    again = overall_table(scores, DESIGN, DEFAULT_TRANSFORMS)
    numbers = ["difference", "ci_low", "ci_high", "standard_error", "p_value"]
    assert again[numbers].to_numpy() == pytest.approx(overall[numbers].to_numpy(), abs=1e-12)


def test_it_answers_the_reference_question():
    """At least 16 trainings of at least 50 epochs over all six transforms; every main effect
    has a 95% CI and one of the three verdicts; every interaction chain the design can
    estimate is reported; the report says all of it."""
    effects = pd.read_csv(DOCS / "tables" / "effects.csv")
    main = effects[effects["kind"] == "main effect"]
    assert sorted(main["effect"]) == sorted(DEFAULT_TRANSFORMS)
    assert main[["ci_low", "ci_high"]].notna().all().all()
    assert main["verdict"].isin(["helps", "hurts", "negligible", "inconclusive"]).all()
    assert (effects["kind"] == "interaction").sum() == 7  # the fraction's 2FI chains
    cost = RESULTS["cost"]
    assert cost["trainings"] >= 16 and min(cost["epochs"]) >= 50
    report = (DOCS / "report.md").read_text()
    assert "## Factorial design: main effects and interactions" in report
    assert "### Two-factor interactions" in report and "Cost: " in report


def test_it_agrees_with_the_none_vs_all_example_as_its_json_says():
    module = builder()
    fresh = json.loads(json.dumps(module.finite(module.agreement(DOCS / "tables"))))
    assert fresh == RESULTS["agreement_with_none_vs_all_example"]
    assert all(row["agree"] for row in RESULTS["agreement_with_none_vs_all_example"].values())


def test_its_page_and_the_readme_are_made_from_its_tables():
    module = builder()
    assert (DOCS / "README.md").read_text() == module.readme(DOCS, RESULTS)
    readme = flat((REPO / "README.md").read_text())
    assert flat(module.readme_paragraph(DOCS, RESULTS)) in readme
    first_screen = "\n".join((REPO / "README.md").read_text().splitlines()[:50])
    assert "docs/cats-vs-dogs-factorial/README.md" in first_screen
