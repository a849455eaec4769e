"""The sequential top-up as a user runs it (snakemake ... until_conclusive) on the smoke study:
round files, trainings added only for the open contrast's variants within the budget, finished
trainings never redone, the report's round section, and dry runs that schedule only the added
trainings (none once the procedure is done)."""

import json
import shutil

import pandas as pd
import pytest
from conftest import REPO, job_stats, run_snakemake, train_jobs

SMOKE = str(REPO / "config" / "smoke.yaml")
TOPUP = "topup:\n  rounds: 1\n  seeds_per_round: 2\n  max_trainings: 4\n"


@pytest.mark.slow
def test_until_conclusive_adds_seeds_only_where_open_and_never_retrains(smoke_study, tmp_path):
    # a copy of the session's finished smoke study (mtimes and Snakemake's records kept): the
    # top-up grows a study that is done, and the shared study's outputs stay as made
    shutil.copytree(smoke_study[0], tmp_path, symlinks=True, dirs_exist_ok=True)
    topup = tmp_path / "topup.yaml"
    topup.write_text(TOPUP)

    def snakemake(*args):
        result = run_snakemake(
            tmp_path, *args, "--cores", "2", "--configfile", SMOKE, str(topup), timeout=900
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        return result

    # round 0: the look at the finished study, whose trainings the top-up's keys leave as done
    look = snakemake("results/topup/round-0.json")
    assert "train" not in job_stats(look.stdout), look.stdout[-2000:]
    first = json.loads((tmp_path / "results/topup/round-0.json").read_text())
    finished = {p: p.stat().st_mtime for p in (tmp_path / "results/train").rglob("metrics.json")}
    assert len(finished) == 6
    assert first["verdicts"] == {"rotation vs none": "inconclusive"}  # 2 seeds cannot settle it
    assert first["added"] == {
        "variants": ["rotation", "none"],
        "seeds": [3, 4],
        "trainings": 4,
        "reason": "",
    }
    # a dry run now schedules the added trainings only: jobs of their own, none of the study's
    planned = snakemake("-n", "until_conclusive")
    assert sorted(train_jobs(planned.stdout)) == ["none_seeds-3-4", "rotation_seeds-3-4"]

    snakemake("until_conclusive")
    last = json.loads((tmp_path / "results/topup/round-1.json").read_text())
    assert last["finished"] and last["trainings_added"] == 4 <= 4  # the budget
    assert "last look" in last["reason"]
    assert {p: p.stat().st_mtime for p in finished} == finished  # nothing redone
    runs = pd.read_csv(tmp_path / "results/tables/runs.csv")
    seeds = runs.groupby("variant")["seed"].apply(sorted).to_dict()
    assert seeds == {"all": [1, 2], "none": [1, 2, 3, 4], "rotation": [1, 2, 3, 4]}
    contrasts = pd.read_csv(tmp_path / "results/tables/contrasts.csv")
    primary = contrasts[contrasts["primary"]]
    assert primary["verdict"].tolist() == [last["verdicts"]["rotation vs none"]]
    row = last["look"][0]
    assert row["seeds"] == 4 and row["look"] == 1
    report = (tmp_path / "results/report.md").read_text()
    assert "## Top-up: seeds where the answer was open" in report
    assert "Added seeds 3, 4 for `rotation`, `none` (4 trainings, 4 added in all)" in report
    assert f"p = {row['p_value']:.2g} against {row['level']:.2g}" in report
    # done: a dry run schedules nothing, with the top-up's target or the default one
    for target in ([], ["until_conclusive"]):
        again = snakemake("-n", *target)
        assert job_stats(again.stdout) == {}, again.stdout[-2000:]


def test_a_topped_up_verdict_is_not_worded_with_a_fixed_sample_p_value():
    """The aggregation leaves out a topped-up primary contrast's Holm p-values (its verdict is
    the sequential one); its sentence names the boundaries instead of 'Holm-adjusted p = n/a'."""
    from augablate.report import effect_sentence

    row = {
        "family": "alone",
        "variant": "rotation",
        "baseline": "none",
        "transform": "rotation",
        "difference": -0.04,
        "ci_low": -0.06,
        "ci_high": -0.02,
        "population": "seeds and images",
        "margin": 0.03,
        "p_holm": float("nan"),
        "p_equivalence_holm": float("nan"),
        "verdict": "hurts",
    }
    text = effect_sentence(row, 12)
    assert "decided at the top-up's alpha-spending boundaries): **it hurts**" in text
    assert "n/a" not in text
    text = effect_sentence({**row, "verdict": "inconclusive"}, 12)
    assert "not settled at the top-up's alpha-spending boundaries)" in text
    assert "Holm's correction" not in text
    fixed = effect_sentence({**row, "p_holm": 0.01}, 12)
    assert "Holm-adjusted p = 0.010): **it hurts**" in fixed
