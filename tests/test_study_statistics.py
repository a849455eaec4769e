"""The statistics of the smoke study as the workflow wrote them (the session's smoke study,
run once by ``conftest.smoke_study``): the margin the workflow passed, the method every contrast
used, the design numbers the report prints, and the McNemar table's description of itself."""

import re

import numpy as np
import pandas as pd
import pytest

from augablate.analysis import MCNEMAR_TEST, noise_floor, study_power
from augablate.inference import OWN, POOLED


def test_the_contrasts_table_holds_the_configured_margin_and_the_method_used(smoke_study):
    workdir, config = smoke_study
    tables = workdir / "results" / "tables"
    contrasts = pd.read_csv(tables / "contrasts.csv")
    margin_points = config.get("analysis", {}).get("equivalence_margin", 1.0)
    np.testing.assert_allclose(contrasts["margin"], margin_points / 100)
    variants, seeds = len(config["variants"]), len(config["train"]["seeds"])
    assert set(contrasts["method"]) <= {POOLED, OWN}
    pooled = contrasts[contrasts["method"] == POOLED]
    assert (pooled["run_df"] == (variants - 1) * (seeds - 1)).all()
    assert (contrasts.loc[contrasts["method"] == OWN, "run_df"] == seeds - 1).all()
    assert contrasts["method_reason"].str.len().gt(0).all()
    primary = contrasts["primary"].astype(bool)
    np.testing.assert_allclose(
        contrasts.loc[primary, "design_level"], 0.05 / primary.sum(), rtol=1e-12
    )


def test_the_report_prints_the_tables_numbers(smoke_study):
    workdir, _ = smoke_study
    tables = workdir / "results" / "tables"
    report = (workdir / "results" / "report.md").read_text()
    mcnemar = pd.read_csv(tables / "mcnemar.csv")
    assert (mcnemar["test"] == MCNEMAR_TEST).all()
    floor = noise_floor(mcnemar)
    if floor["disagreement"] > 0:
        assert f"score a median {floor['disagreement'] * 100:.1f}% of them differently" in report
        assert f"standard error of about {floor['standard_error'] * 100:.1f} points" in report
    power = study_power(pd.read_csv(tables / "contrasts.csv"))
    if power:
        match = re.search(r"detects a true difference of ([0-9.]+) points", report)
        assert match and float(match.group(1)) == pytest.approx(round(power["detectable"] * 100, 1))
