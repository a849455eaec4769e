"""A training killed with SIGKILL resumes from its last checkpoint and ends with exactly the
history of an uninterrupted run; the same config and seed twice give identical histories.

Each training runs in its own process (TensorFlow's thread and determinism settings are
per process), or with other seeds in one process as a training job runs them, on a tiny cache
of generated images, a few steps per epoch.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_image_tree

from augablate.data import build_cache
from augablate.protocol import HISTORY_COLUMNS

EPOCHS = 6
SETTINGS = {
    "batch_size": 8,
    "steps_per_epoch": 4,
    "epochs": EPOCHS,
    "clean_train_every": 2,
    "learning_rate": 1e-3,
    "filters": [8, 16, 16],
    "dense_units": 16,
}
AUGMENTATION = {
    "rotation": 40,
    "width_shift": 0.2,
    "height_shift": 0.2,
    "shear": 0.2,
    "zoom": 0.2,
    "horizontal_flip": True,
    "fill_mode": "nearest",
}
METRIC_COLUMNS = [c for c in HISTORY_COLUMNS if not c.endswith("_seconds")]  # not timings

# Runs one training. Test-only hooks around each checkpoint: ``slow_checkpoints`` sleeps before
# it is saved, so that the test can kill the process while it trains whatever the machine's
# speed; ``exit_after`` ends the process abruptly (no clean-up) once epoch N is saved.
DRIVER = """
import json, logging, os, sys, time
from pathlib import Path
import augablate.train as train
from augablate.protocol import RunOutputs, TrainSettings
from augablate.runner import run_job
from augablate.variants import AugmentationSettings
args = json.loads(sys.argv[1])
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
save = train.save_checkpoint
def hooked_save(folder, model, state, arrays):
    time.sleep(args["slow_checkpoints"])
    save(folder, model, state, arrays)
    with open(Path(args["run"]) / "saves.txt", "a") as saves:  # the epochs saved, in order
        saves.write(f"{state['epoch']}\\n")
    if state["epoch"] == args["exit_after"] and args["exit_in"] in (None, *folder.parts):
        os._exit(9)
train.save_checkpoint = hooked_save
run = Path(args["run"])
augmentation = AugmentationSettings.from_config(args["augmentation"])
common = dict(
    cache=Path(args["cache"]),
    settings=TrainSettings(**args["settings"]),
    threads=1,
    checkpoint_every=args["checkpoint_every"],
)
if args["job"]:  # several seeds in this process, as a training job of the workflow runs them
    # a seed (variant all, in run/seed-N) or [variant, seed] (in run/<variant>/seed-N)
    pairs = [("all", job) if isinstance(job, int) else tuple(job) for job in args["job"]]
    folders = [run / ("" if v == "all" else v) / f"seed-{seed}" for v, seed in pairs]
    # as a job of the workflow: the checkpoints outside the outputs' folders, in
    # run/checkpoints/<variant>/seed-N (Snakemake removes a job's output folder before a rerun)
    run_job(
        runs=[
            RunOutputs.in_folder(f, v, seed, checkpoint=run / "checkpoints" / v / f"seed-{seed}")
            for (v, seed), f in zip(pairs, folders)
        ],
        # each variant's own settings, as a job of the workflow has them (its params)
        augmentation={v: augmentation.for_variant(v) for v, _ in pairs},
        **common,
    )
else:
    train.run_training(
        variant="all",
        seed=args["seed"],
        augmentation=augmentation,
        history_path=run / "history.csv",
        predictions_path=run / "predictions.csv.gz",
        metrics_path=run / "metrics.json",
        **common,
    )
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    images = write_image_tree(folder / "images", per_class=(24, 8), size=24)
    build_cache(images, folder / "cache", size=24)
    return folder / "cache"


@pytest.fixture(scope="module")
def uninterrupted(cache, tmp_path_factory) -> pd.DataFrame:
    """The history of an uninterrupted run (augmentation in the pipeline)."""
    run = tmp_path_factory.mktemp("uninterrupted")
    return finish(start(cache, run), run)


def start(
    cache: Path,
    run: Path,
    placement="pipeline",
    slow_checkpoints=0.0,
    exit_after=None,
    seed=7,
    job=None,
    exit_in=None,
    settings=None,
    checkpoint_every=0.0,
):
    """Start a training process: seed ``seed`` in ``run``, or the seeds ``job`` one after the
    other in ``run/seed-N`` (variant all) or ``[variant, seed]`` pairs in
    ``run/<variant>/seed-N`` (``exit_in``: the run folder whose checkpoint ``exit_after``
    watches; any when None). ``settings`` override :data:`SETTINGS`; ``checkpoint_every``:
    seconds between checkpoints (0: every epoch)."""
    run.mkdir(parents=True, exist_ok=True)
    args = {
        "cache": str(cache),
        "run": str(run),
        "settings": {**SETTINGS, "augmentation_placement": placement, **(settings or {})},
        "checkpoint_every": checkpoint_every,
        "augmentation": AUGMENTATION,
        "slow_checkpoints": slow_checkpoints,
        "exit_after": exit_after,
        "seed": seed,
        "job": job,
        "exit_in": exit_in,
    }
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with open(run / "log.txt", "a") as log:
        return subprocess.Popen(
            [sys.executable, "-c", DRIVER, json.dumps(args)], stdout=log, stderr=log, env=env
        )


def wait(process: subprocess.Popen, run: Path) -> None:
    assert process.wait(timeout=120) == 0, (run / "log.txt").read_text()[-3000:]


def finish(process: subprocess.Popen, run: Path) -> pd.DataFrame:
    """The run's history, with its per-image predictions attached (``.attrs``)."""
    wait(process, run)
    return read_run(run)


def read_run(run: Path) -> pd.DataFrame:
    history = pd.read_csv(run / "history.csv")
    history.attrs["predictions"] = pd.read_csv(run / "predictions.csv.gz")
    return history


def assert_same_history(history: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every epoch's losses and accuracies, and every per-image prediction, equal bit for bit
    (epoch times differ)."""
    pd.testing.assert_frame_equal(
        history[METRIC_COLUMNS], expected[METRIC_COLUMNS], check_exact=True
    )
    pd.testing.assert_frame_equal(
        history.attrs["predictions"], expected.attrs["predictions"], check_exact=True
    )


def kill_after_epoch(process: subprocess.Popen, run: Path, epoch: int) -> int:
    """SIGKILL the training once its checkpoint holds ``epoch`` epochs; return the epoch of the
    checkpoint it left."""
    state = run / "checkpoint" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= epoch:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the training ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    return json.loads(state.read_text())["epoch"]


@pytest.mark.parametrize("placement", ["pipeline", "model"])
def test_a_killed_training_resumes_to_the_uninterrupted_history(
    cache, tmp_path, placement, request
):
    whole = None if placement == "pipeline" else start(cache, tmp_path / "whole", placement)
    run = tmp_path / "killed"
    killed = start(cache, run, placement, slow_checkpoints=0.5)
    saved = kill_after_epoch(killed, run, epoch=2)
    assert 2 <= saved < EPOCHS
    assert not (run / "history.csv").exists() and not (run / "metrics.json").exists()
    resumed = finish(start(cache, run, placement), run)
    if whole is None:
        expected = request.getfixturevalue("uninterrupted")
    else:
        expected = finish(whole, tmp_path / "whole")

    assert resumed["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert_same_history(resumed, expected)
    log = (run / "log.txt").read_text()
    assert f"resuming from the checkpoint in {run / 'checkpoint'} after epoch {saved}" in log
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed_at_epochs"] == [saved] and len(metrics["epoch_seconds"]) == EPOCHS
    assert not (run / "checkpoint").exists()


@pytest.fixture(scope="module")
def seed_8(cache, tmp_path_factory) -> pd.DataFrame:
    """Seed 8's history, trained alone in its own process."""
    run = tmp_path_factory.mktemp("seed-8")
    return finish(start(cache, run, seed=8), run)


def test_seeds_trained_in_one_process_equal_each_in_its_own(cache, tmp_path, uninterrupted, seed_8):
    """A job trains seeds 8 then 7 in one process (seed 7 on the model compiled for seed 8):
    every run is the one its own process makes, value for value."""
    wait(start(cache, tmp_path, job=[8, 7]), tmp_path)
    assert_same_history(read_run(tmp_path / "seed-8"), seed_8)
    assert_same_history(read_run(tmp_path / "seed-7"), uninterrupted)
    assert not seed_8[METRIC_COLUMNS].equals(uninterrupted[METRIC_COLUMNS])  # two seeds differ
    assert not (tmp_path / "checkpoints").exists()  # removed once all runs were written


def test_variants_trained_in_one_process_equal_each_in_its_own(cache, tmp_path, uninterrupted):
    """A job of two variants (resources.variants_per_job) trains rotation, seed 8, then all,
    seed 7, each with its own settings, on the model compiled for the first: each run is the
    one its own process makes (a run given the other variant's settings would differ)."""
    alone = tmp_path / "alone"
    wait(start(cache, alone, job=[["rotation", 8]]), alone)
    rotation_8 = read_run(alone / "rotation" / "seed-8")
    wait(start(cache, tmp_path, job=[["rotation", 8], ["all", 7]]), tmp_path)
    assert_same_history(read_run(tmp_path / "rotation" / "seed-8"), rotation_8)
    assert_same_history(read_run(tmp_path / "seed-7"), uninterrupted)  # variant all
    assert rotation_8["augmented_batch_loss"].nunique() == EPOCHS  # it did train


def test_a_job_killed_in_its_second_run_keeps_its_first(cache, tmp_path, uninterrupted, seed_8):
    """Killed during seed 7, a job's rerun restores seed 8 from the checkpoint it kept (no
    epoch trained again; Snakemake has removed the job's outputs) and resumes seed 7."""
    crashed = start(cache, tmp_path, job=[8, 7], exit_after=2, exit_in="seed-7")
    assert crashed.wait(timeout=120) == 9, (tmp_path / "log.txt").read_text()[-3000:]
    assert (tmp_path / "checkpoints" / "all" / "seed-8" / "state.json").exists()
    assert (tmp_path / "seed-8" / "history.csv").exists()
    # as Snakemake does before it reruns a job: its output folders removed, whole
    shutil.rmtree(tmp_path / "seed-8")
    shutil.rmtree(tmp_path / "seed-7", ignore_errors=True)
    wait(start(cache, tmp_path, job=[8, 7]), tmp_path)
    assert_same_history(read_run(tmp_path / "seed-8"), seed_8)
    assert_same_history(read_run(tmp_path / "seed-7"), uninterrupted)
    for seed, resumed_at in ((8, [EPOCHS]), (7, [2])):
        metrics = json.loads((tmp_path / f"seed-{seed}" / "metrics.json").read_text())
        assert metrics["resumed_at_epochs"] == resumed_at
    assert not (tmp_path / "checkpoints").exists()


def test_same_config_and_seed_give_identical_histories(cache, tmp_path, uninterrupted):
    again = finish(start(cache, tmp_path), tmp_path)
    assert_same_history(again, uninterrupted)
    assert uninterrupted["augmented_batch_loss"].nunique() == EPOCHS  # it did train


def test_a_damaged_checkpoint_starts_the_run_again(cache, tmp_path, uninterrupted):
    crashed = start(cache, tmp_path, exit_after=2)
    assert crashed.wait(timeout=120) == 9
    weights = tmp_path / "checkpoint" / "epoch-0002.weights.npz"
    weights.write_bytes(weights.read_bytes()[:1000])  # as if the disk had lost its end
    history = finish(start(cache, tmp_path), tmp_path)
    assert "epoch-0002.weights.npz cannot be loaded" in (tmp_path / "log.txt").read_text()
    assert_same_history(history, uninterrupted)  # from epoch 1, with the same initial weights
    assert json.loads((tmp_path / "metrics.json").read_text())["resumed_at_epochs"] == []


def test_a_checkpoint_of_another_config_is_not_used(cache, tmp_path):
    run = tmp_path / "run"
    stale = run / "checkpoint"
    stale.mkdir(parents=True)
    state = {
        "epoch": 3,
        "fingerprint": "0" * 16,
        "weights": "epoch-0003.weights.npz",
        "arrays": "epoch-0003.arrays.npz",
        "history": [],
        "wall_seconds": 1.0,
        "resumed_at_epochs": [],
    }
    (stale / "state.json").write_text(json.dumps(state))
    (stale / "epoch-0003.weights.npz").write_bytes(b"not weights")
    history = finish(start(cache, run), run)
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    log = (run / "log.txt").read_text()
    assert "ignoring the checkpoint in" in log and "another configuration" in log
    assert json.loads((run / "metrics.json").read_text())["resumed_at_epochs"] == []


def test_a_checkpoint_of_another_augmentation_range_does_not_match(cache):
    """The fingerprint a checkpoint must match holds the variant's ranges: a killed rotation-40
    run's checkpoint is not continued by a rotation-20 run."""
    from augablate.protocol import TrainSettings
    from augablate.train import load_run_data, run_fingerprint
    from augablate.variants import AugmentationSettings

    data = load_run_data(cache, 1000)
    settings = TrainSettings(**SETTINGS)
    wide = AugmentationSettings(rotation=40).for_variant("rotation")
    narrow = AugmentationSettings(rotation=20).for_variant("rotation")
    fingerprints = {
        run_fingerprint(settings, active, data, variant, 7)[1]
        for active, variant in [(wide, "rotation"), (narrow, "rotation"), (wide, "all")]
    }
    assert len(fingerprints) == 3
    again = run_fingerprint(
        settings, AugmentationSettings(rotation=40).for_variant("rotation"), data, "rotation", 7
    )[1]
    assert again in fingerprints


def test_validating_every_third_epoch_changes_no_training_and_throttled_checkpoints(
    cache, tmp_path
):
    """``validate_every`` 3 over 14 epochs scores the validation split at epoch 2 and at each
    of the last 10 (counted back from the last); every other number of the run is the one of
    a run that validates every epoch, and its predictions are that run's rows of those epochs.
    With ``checkpoint_every`` longer than the run, the only checkpoint is the last epoch's;
    with 0, every epoch's."""
    long = {"epochs": 14}
    every = start(cache, tmp_path / "every", settings=long)
    thinned = start(
        cache, tmp_path / "thin", settings={**long, "validate_every": 3}, checkpoint_every=1e9
    )
    full = finish(every, tmp_path / "every")
    thin = finish(thinned, tmp_path / "thin")

    validated = [2, *range(5, 15)]
    measured = thin["val_accuracy"].notna()
    assert thin.loc[measured, "epoch"].tolist() == validated
    assert thin["val_loss"].notna().tolist() == measured.tolist()
    unaffected = [c for c in METRIC_COLUMNS if not c.startswith("val_")]
    pd.testing.assert_frame_equal(thin[unaffected], full[unaffected], check_exact=True)
    pd.testing.assert_frame_equal(
        thin.loc[measured, METRIC_COLUMNS], full.loc[measured, METRIC_COLUMNS], check_exact=True
    )
    predictions = full.attrs["predictions"]
    pd.testing.assert_frame_equal(
        thin.attrs["predictions"],
        predictions[predictions["epoch"].isin(validated)].reset_index(drop=True),
        check_exact=True,
    )
    assert (tmp_path / "thin" / "saves.txt").read_text().split() == ["14"]
    assert (tmp_path / "every" / "saves.txt").read_text().split() == [str(e) for e in range(1, 15)]
