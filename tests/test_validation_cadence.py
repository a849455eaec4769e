"""``evaluation.validate_every``: which epochs score the validation split, what a finished
study's trainings see of the key (nothing when it is 1), and the tables made from a history
with epochs left unscored. The training itself is unchanged: tests/test_resume.py compares a
thinned run with one that validates every epoch, value for value."""

import math

import pandas as pd
import pytest
from conftest import REPO

from augablate.analysis import learning_curves, run_summary
from augablate.convergence import convergence_table
from augablate.protocol import FULL_VALIDATION_EPOCHS, ConfigError, TrainSettings
from augablate.settings import load_config, run_params, train_settings


@pytest.mark.parametrize(
    "epochs, every, expected",
    [
        (14, 3, [2, *range(5, 15)]),
        (40, 4, [4, 8, 12, 16, 20, 24, 28, *range(31, 41)]),
        (8, 5, list(range(1, 9))),  # fewer epochs than the window: every one
        (12, 1, list(range(1, 13))),
    ],
)
def test_the_validated_epochs(epochs, every, expected):
    settings = TrainSettings(epochs=epochs, validate_every=every)
    assert [e for e in range(1, epochs + 1) if settings.validation_due(e)] == expected
    assert FULL_VALIDATION_EPOCHS == 10


def test_validating_every_epoch_leaves_a_runs_params_as_before_the_key():
    config = load_config(REPO / "config" / "smoke.yaml")
    assert config["evaluation"]["validate_every"] == 1
    assert "validate_every" not in run_params(config, "none")["evaluation"]
    thinned = load_config(REPO / "config" / "smoke.yaml", {"evaluation": {"validate_every": 3}})
    params = run_params(thinned, "none")
    assert params["evaluation"]["validate_every"] == 3
    assert train_settings(params).validate_every == 3
    assert train_settings(run_params(config, "none")).validate_every == 1


def test_last_k_beyond_the_always_validated_epochs_is_refused():
    with pytest.raises(ConfigError) as error:
        load_config(
            REPO / "config" / "config.yaml",
            {"evaluation": {"validate_every": 2}, "analysis": {"last_k": 11}},
        )
    message = str(error.value)
    assert "'analysis.last_k'" in message and "evaluation.validate_every" in message
    load_config(  # 10 is fine, and so is any last_k when every epoch is validated
        REPO / "config" / "config.yaml",
        {"evaluation": {"validate_every": 2}, "analysis": {"last_k": 10}},
    )
    load_config(
        REPO / "config" / "config.yaml",
        {"evaluation": {"validate_every": 1}, "analysis": {"last_k": 11}},
    )


def thinned_history(epochs=14, every=3) -> pd.DataFrame:
    """Two seeds of one variant whose accuracy rises 1 point an epoch (seed 2: 2 points higher),
    validated at the epochs ``validate_every`` keeps."""
    settings = TrainSettings(epochs=epochs, validate_every=every)
    rows = []
    for seed in (1, 2):
        for epoch in range(1, epochs + 1):
            due = settings.validation_due(epoch)
            accuracy = 0.5 + 0.01 * epoch + 0.02 * (seed - 1)
            rows.append(
                {
                    "variant": "none",
                    "seed": seed,
                    "epoch": epoch,
                    "val_accuracy": accuracy if due else math.nan,
                    "val_loss": 1 - accuracy if due else math.nan,
                    "clean_train_accuracy": accuracy + 0.1 if epoch % 2 == 0 else math.nan,
                    "clean_train_loss": 0.9 - accuracy if epoch % 2 == 0 else math.nan,
                    "augmented_batch_accuracy": accuracy,
                    "augmented_batch_loss": 1 - accuracy,
                    "epoch_seconds": 1.0,
                    "evaluation_seconds": 0.5 if due else 0.0,
                }
            )
    return pd.DataFrame(rows)


def test_tables_from_a_thinned_history():
    history = thinned_history()
    curves = learning_curves(history)
    validation = curves[curves["measure"] == "val_accuracy"]
    assert validation["epoch"].tolist() == [2, *range(5, 15)]  # no row for an unscored epoch
    assert validation["mean"].tolist() == pytest.approx(
        [0.51 + 0.01 * e for e in [2, *range(5, 15)]]
    )
    runs = run_summary(history, last_k=5)
    assert runs["final_val_accuracy"].tolist() == pytest.approx([0.62, 0.64])
    assert runs["best_val_accuracy_epoch"].tolist() == [14, 14]
    assert runs["min_val_loss_epoch"].tolist() == [14, 14]
    convergence = convergence_table(history, last_k=5)
    assert convergence["slope_per_epoch"].tolist() == pytest.approx([0.01])
    assert convergence["window"].tolist() == [10]


def test_the_report_says_which_epochs_were_validated():
    from augablate.report import validation_cadence

    assert validation_cadence(40, 1) == "Every epoch scores"
    assert validation_cadence(8, 4) == "Every epoch scores"  # all within the last 10
    assert validation_cadence(40, 4).startswith("Each of the last 10 epochs, and one in 4 before")


def test_the_reports_evaluation_time_is_that_of_the_validated_epochs():
    from augablate.report import protocol_lines

    config = load_config(REPO / "config" / "config.yaml")
    environment = dict(python="3", tensorflow="2", keras="3", numpy="2", platform="p", cpu_count=2)
    environment["gpus"] = []
    run = {
        "wall_seconds": 60.0,
        "threads": 1,
        "environment": environment,
        "epoch_seconds": [0.2] * 40,
        # a skipped validation costs nothing; the 17 validated epochs 0.3 s, or 0.5 s
        "evaluation_seconds": [
            0.0 if e % 4 and e <= 30 else 0.3 + 0.2 * (e > 36) for e in range(1, 41)
        ],
        "validated_epochs": [4, 8, 12, 16, 20, 24, 28, *range(31, 41)],
    }
    splits = {"train": {"count": 599}, "validation": {"count": 1198}}
    meta = {"classes": list("0123456789"), "splits": splits, "image_size": 32, "resize": "nearest"}
    text = "\n".join(protocol_lines(config, meta, ["none"], [1], [run]))
    assert "median epoch 0.20 s of training plus 0.30 s of evaluation in a validated epoch" in text
    assert "one in 4 before them" in text and "fixed sample of 599 un-augmented" in text


def test_a_checkpoint_of_code_from_before_the_new_keys_still_fits():
    """The run fingerprint of the reference CNN validated every epoch is the one computed before
    ``validate_every``, ``architecture``, ``weights`` and ``model_args`` existed (so a study
    killed under earlier code resumes its trainings); a value other than the old one changes it."""
    from dataclasses import asdict, replace
    from types import SimpleNamespace

    from augablate.train import config_hash, run_fingerprint
    from augablate.variants import AugmentationSettings

    settings = TrainSettings(epochs=40, learning_rate_schedule="cosine")
    active = AugmentationSettings().for_variant("none")
    data = SimpleNamespace(meta={"image_size": 32, "resize": "nearest"}, classes=["0", "1"])
    new_keys = ("validate_every", "architecture", "weights", "model_args")
    before = {k: v for k, v in asdict(settings).items() if k not in new_keys}
    expected = config_hash(
        {
            "train": before,
            "augmentation": active.as_dict(),
            "cache": 32,
            "resize": "nearest",
            "classes": ["0", "1"],
            "seed": 3,
        }
    )
    assert run_fingerprint(settings, active, data, "none", 3)[0] == expected
    thinned = replace(settings, validate_every=4)
    assert run_fingerprint(thinned, active, data, "none", 3)[0] != expected
