"""evaluation.tensorboard: each run's event file, read back with TensorBoard's reader (tbparse),
holds its hyper-parameters and every epoch's scalars of its history.csv, once each, also when
the run was killed and resumed from its checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import read_tensorboard, write_image_tree

from augablate.data import build_cache
from augablate.tensorboard_log import SCALARS, gather, hparam_value, run_hparams

EPOCHS = 4
SETTINGS = {
    "batch_size": 8,
    "steps_per_epoch": 3,
    "epochs": EPOCHS,
    "clean_train_every": 2,
    "learning_rate": 1e-3,
    "filters": [8, 16],
    "dense_units": 16,
}
# One training with its event file in run/tensorboard; ``exit_after``: the process ends abruptly
# once the checkpoint of that epoch is saved (before the event file gets that epoch)
DRIVER = """
import json, os, sys
from pathlib import Path
import augablate.train as train
from augablate.protocol import TrainSettings
from augablate.variants import AugmentationSettings
args = json.loads(sys.argv[1])
save = train.save_checkpoint
def hooked_save(folder, model, state, arrays):
    save(folder, model, state, arrays)
    if state["epoch"] == args["exit_after"]:
        os._exit(9)
train.save_checkpoint = hooked_save
run = Path(args["run"])
train.run_training(
    cache=Path(args["cache"]), variant="rotation", seed=5,
    augmentation=AugmentationSettings.from_config({"rotation": 30}),
    settings=TrainSettings(**args["settings"]), threads=1,
    history_path=run / "history.csv", predictions_path=run / "predictions.csv.gz",
    metrics_path=run / "metrics.json", tensorboard=run / "tensorboard",
)
"""


def train(cache, run, exit_after=None) -> int:
    args = {"cache": str(cache), "run": str(run), "settings": SETTINGS, "exit_after": exit_after}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(args)], capture_output=True, text=True, env=env
    )
    assert result.returncode == (9 if exit_after else 0), result.stderr[-3000:]
    return result.returncode


def assert_event_file_is_the_history(logdir, runs: dict[str, pd.DataFrame], hparams: dict):
    """Under ``logdir`` every run of ``runs`` (its folder -> its history) has every scalar of
    its history at every epoch it was measured, once, and the hyper-parameters ``hparams``
    (folder -> name -> value) with the same names."""
    scalars, found = read_tensorboard(logdir)
    assert sorted(scalars["dir_name"].unique()) == sorted(runs)
    assert sorted(found["dir_name"].unique()) == sorted(runs)
    for folder, history in runs.items():
        run = scalars[scalars["dir_name"] == folder]
        assert not run.duplicated(["tag", "step"]).any(), "an epoch written twice"
        for tag in SCALARS:
            expected = history.dropna(subset=[tag])
            written = run[run["tag"] == tag].sort_values("step")
            assert written["step"].tolist() == expected["epoch"].tolist(), (folder, tag)
            np.testing.assert_allclose(written["value"], expected[tag], rtol=1e-6)
        values = found[found["dir_name"] == folder].set_index("tag")["value"].to_dict()
        assert {name: values.get(name) for name in hparams[folder]} == hparams[folder]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tensorboard")
    build_cache(
        write_image_tree(folder / "images", per_class=(16, 6), size=24), folder / "cache", size=24
    )
    return folder / "cache"


def test_a_resumed_run_writes_each_epoch_once(cache, tmp_path):
    """Killed once its checkpoint of epoch 2 is saved (its event file then holds epoch 1), the
    rerun replaces the file: epochs 1-2 from the checkpoint's history, 3-4 as it trains."""
    run = tmp_path / "rotation" / "seed-5"
    train(cache, run, exit_after=2)
    before, _ = read_tensorboard(run / "tensorboard")
    assert sorted(before["step"].unique()) == [1]  # epoch 2 checkpointed, not yet written
    train(cache, run)
    history = pd.read_csv(run / "history.csv")
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert json.loads((run / "metrics.json").read_text())["resumed_at_epochs"] == [2]
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 1
    hparams = {  # some of them: every transform is there
        "variant": "rotation",
        "seed": 5.0,  # TensorBoard keeps numbers as floats
        "epochs": float(EPOCHS),
        "batch_size": 8.0,
        "steps_per_epoch": 3.0,
        "learning_rate": 1e-3,
        "learning_rate_schedule": "constant",
        "augmentation_placement": "pipeline",
        "image_size": 24.0,
        "model": "reference",
        "model_args": '{"dense_units": 16, "filters": [8, 16]}',
        "rotation": 30.0,
        "width_shift": 0.0,  # the transforms the variant leaves off, at their off value
        "horizontal_flip": False,
        "brightness_range": "none",
    }
    # gathered as the workflow's rule tensorboard does: the run's name is variant/seed-N
    gather([("rotation", 5, str(run))], tmp_path / "gathered")
    assert_event_file_is_the_history(
        tmp_path / "gathered", {"rotation/seed-5": history}, {"rotation/seed-5": hparams}
    )


def test_hyper_parameters_are_values_tensorboard_takes():
    settings = {
        "epochs": 3,
        "batch_size": 16,
        "steps_per_epoch": 4,
        "learning_rate": 0.001,
        "learning_rate_schedule": "cosine",
        "augmentation_placement": "model",
        "architecture": "MobileNetV3Small",
        "weights": None,
        "model_args": {"minimalistic": True},
        "filters": [32],  # the reference CNN's keys do not describe another model
        "dense_units": 512,
    }
    augmentation = {"rotation": 40.0, "brightness_range": [0.5, 1.5], "horizontal_flip": True}
    hparams = run_hparams("all", 2, augmentation, settings, 32)
    assert hparams["model"] == "MobileNetV3Small"
    assert hparams["model_args"] == '{"minimalistic": true, "weights": null}'
    assert hparams["brightness_range"] == "[0.5, 1.5]" and hparams["horizontal_flip"] is True
    assert hparams["variant"] == "all" and hparams["seed"] == 2
    assert all(type(value) in (bool, int, float, str) for value in hparams.values())
    assert hparam_value(None) == "none"
