"""The study whose answer is known: on the generated mirror-glyph data set
(config/known_answer.yaml, augablate.data.generated) the workflow's own tables and report must find
the planted verdicts: rotation and the width shift help, the horizontal flip hurts."""

import pandas as pd
import pytest
from conftest import REPO, job_stats, run_snakemake, train_jobs

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
    # 2 variants per job (known_answer.yaml): both jobs ran, each variant's seeds in one process
    for job in ("none-to-rotation", "width_shift-to-horizontal_flip"):
        log = (tmp_path / "logs" / "train" / f"{job}_seeds-1-2-3-4.log").read_text()
        assert log.count("done in") == 8, log[-2000:]
    grown_by_what_a_job_of_variants_reruns(tmp_path, config)


def grown_by_what_a_job_of_variants_reruns(workdir, config):
    """On the finished study, dry runs: a variant appended after full groups is a job of its
    own; a transform's range reruns the jobs whose variants use it, whole; regrouped seeds or
    variants are new jobs (a job's output is its folder, named by its variants and seeds)."""
    cases = [
        (
            "variants: [none, rotation, width_shift, horizontal_flip, zoom]\n",
            {"zoom_seeds-1-2-3-4"},
        ),
        ("augmentation: {rotation: 60}\n", {"none-to-rotation_seeds-1-2-3-4"}),
        (
            "resources: {seeds_per_job: 2}\n",
            {
                f"{group}_seeds-{seeds}"
                for group in ("none-to-rotation", "width_shift-to-horizontal_flip")
                for seeds in ("1-2", "3-4")
            },
        ),
        ("resources: {variants_per_job: 4}\n", {"none-to-horizontal_flip_seeds-1-2-3-4"}),
    ]
    for index, (change, trainings) in enumerate(cases):
        changed = workdir / f"change-{index}.yaml"
        changed.write_text(change)
        result = run_snakemake(
            workdir, "-n", "--cores", "2", "--configfile", str(config), str(changed)
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert set(train_jobs(result.stdout)) == trainings
        assert job_stats(result.stdout).get("train", 0) == len(trainings)
