"""The learning-rate schedule: the reference's constant rate, or a cosine decay to 0 at the last
step, which a finished study's constant-rate trainings do not see (their params stay)."""

import pytest
from conftest import REPO

from augablate.model import build_model
from augablate.settings import load_config, run_params, train_settings


def test_the_constant_schedule_leaves_a_runs_params_as_before_the_key():
    config = load_config(REPO / "config" / "smoke.yaml")
    assert config["train"]["learning_rate_schedule"] == "constant"
    assert "learning_rate_schedule" not in run_params(config, "none")["train"]
    cosine = load_config(
        REPO / "config" / "smoke.yaml", {"train": {"learning_rate_schedule": "cosine"}}
    )
    assert run_params(cosine, "none")["train"]["learning_rate_schedule"] == "cosine"
    assert train_settings(run_params(cosine, "none")).learning_rate_schedule == "cosine"


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_the_rate_at_the_first_middle_and_last_step(schedule):
    config = load_config(
        REPO / "config" / "smoke.yaml",
        {"train": {"learning_rate_schedule": schedule, "learning_rate": 0.01, "epochs": 4}},
    )
    settings = train_settings(config)
    optimizer = build_model(24, 10, settings).optimizer
    steps = settings.epochs * settings.steps_per_epoch  # 16

    def rate_at(step):
        optimizer.iterations.assign(step)
        return float(optimizer.learning_rate)

    if schedule == "constant":
        assert [rate_at(s) for s in (0, steps // 2, steps)] == pytest.approx([0.01] * 3)
    else:  # cos(0) = 1, cos(pi/2) = 0 halves it, cos(pi) = -1 ends at 0
        assert rate_at(0) == pytest.approx(0.01)
        assert rate_at(steps // 2) == pytest.approx(0.005, rel=1e-6)
        assert rate_at(steps) == pytest.approx(0.0, abs=1e-12)
