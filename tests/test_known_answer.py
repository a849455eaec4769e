"""The study whose answer is known: on the generated mirror-glyph data set
(config/known_answer.yaml, augablate.data.generated) the workflow's own tables and report must find
the planted verdicts: rotation and the width shift help, the horizontal flip hurts."""

import pandas as pd
import pytest
from conftest import REPO, run_snakemake

PLANTED = {"rotation": "helps", "width_shift": "helps", "horizontal_flip": "hurts"}


@pytest.mark.slow
def test_the_report_recovers_every_planted_verdict(tmp_path):
    config = REPO / "config" / "known_answer.yaml"
    result = run_snakemake(tmp_path, "--cores", "2", "--configfile", str(config), timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    contrasts = pd.read_csv(tmp_path / "results" / "tables" / "contrasts.csv")
    primary = contrasts[contrasts["primary"]].set_index("transform")
    assert primary["verdict"].to_dict() == PLANTED, primary[["difference", "ci_low", "p_holm"]]
    assert (primary["population"] == "seeds and images").all()
    report = (tmp_path / "results" / "report.md").read_text()
    assert "`rotation` alone (against `none`) raised validation accuracy" in report
    assert "`width_shift` alone (against `none`) raised validation accuracy" in report
    assert "`horizontal_flip` alone (against `none`) lowered validation accuracy" in report
    assert report.count("**it helps**") == 2 and report.count("**it hurts**") == 1
