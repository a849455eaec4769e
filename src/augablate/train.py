"""One training run: a (variant, seed) pair of the study, from the cache to its evidence.

A run writes three files: ``history.csv`` (one row per epoch), ``predictions.csv.gz`` (every
validation image at every epoch: the per-image evidence the study's statistics use) and
``metrics.json`` (what ran, where, how long). It scores the whole validation split, each image
once, at each of the last 10 epochs and every ``validate_every`` epochs before them, and, every
``clean_train_every`` epochs, a fixed sample of training images *without* augmentation (both
counted back from the last epoch; see :mod:`augablate.evaluate`). The history has a row for
every epoch (NaN where a measure was not taken); the per-image evidence one block per validated
epoch.

Threads, seeds and determinism are set before TensorFlow runs any op. Per-epoch progress goes
to the logger (the rule's log file).

A run survives being killed: after an epoch it saves a checkpoint (see
:mod:`augablate.checkpoint`) when ``checkpoint_every`` seconds have passed since the last one
(the workflow's ``resources.checkpoint_every_seconds``; 0: every epoch), and after its last
epoch always, and a rerun continues after the last saved epoch. The resumed run
reproduces the uninterrupted one exactly: the data stream and the augmentation draws restart at
the same batch (``start_step`` of :func:`augablate.pipeline.training_dataset`), evaluation draws
no random numbers, and nothing else in a run draws random numbers after the initial weights,
which the checkpoint replaces. The checkpoint is removed once the outputs are written, unless
the caller keeps it: a job of several runs (:mod:`augablate.runner`) removes them once all its
runs are written.

This module imports TensorFlow: a training process first calls
:func:`augablate.startup.prepare_training_process`, then imports it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import tensorflow as tf
except ImportError as error:
    raise ImportError(
        "TensorFlow is not installed in this environment: install the project with "
        "pip install -e '.[cpu]' (CPU only) or pip install -e '.[gpu]' (NVIDIA GPUs)"
    ) from error
import keras

from augablate.augment import AugmentationLayer
from augablate.checkpoint import discard, load_checkpoint, load_weights, save_checkpoint
from augablate.data.cache import load_meta, load_split
from augablate.evaluate import Scores, clean_train_sample, predict_probabilities, score
from augablate.io import atomic_write_csv, atomic_write_json
from augablate.model import build_model
from augablate.pipeline import training_dataset
from augablate.protocol import (
    CHECKPOINT,
    FULL_VALIDATION_EPOCHS,
    HISTORY_COLUMNS,
    PREDICTION_COLUMNS,
    TrainSettings,
)
from augablate.startup import process_start_time
from augablate.variants import AugmentationSettings

log = logging.getLogger(__name__)


def configure_tensorflow(threads: int, seed: int, deterministic: bool):
    """Set TensorFlow's thread pools, every RNG and determinism, and let every visible GPU's
    memory grow as needed (instead of one process taking it all, so that several trainings can
    share a GPU: ``resources.trainings_per_gpu``); call before any op runs."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return tf


def config_hash(payload: dict) -> str:
    """A short stable hash of what decides a run (for telling runs of different configs apart)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def environment_info(tf) -> dict:
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
    }


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass
class RunData:
    """The cached images of one run, memory-mapped, and what the evaluation needs of them."""

    meta: dict
    classes: list[str]
    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    val_files: list[str]
    clean_indices: np.ndarray  # the fixed clean-train sample

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[1])


def load_run_data(cache: Path, clean_train_images: int) -> RunData:
    meta = load_meta(cache)
    train_images, train_labels = load_split(cache, "train")
    val_images, val_labels = load_split(cache, "validation")
    return RunData(
        meta=meta,
        classes=meta["classes"],
        train_images=train_images,
        train_labels=train_labels,
        val_images=val_images,
        val_labels=val_labels,
        val_files=meta["splits"]["validation"]["files"],
        clean_indices=clean_train_sample(len(train_labels), clean_train_images),
    )


# --------------------------------------------------------------------------------------------
# Evidence: the history and the per-image validation results, epoch by epoch
# --------------------------------------------------------------------------------------------

_ARRAYS = ("predicted", "probability", "true_probability")


class Evidence:
    """What a run has measured so far; restored from, and saved to, its checkpoint."""

    def __init__(self, rows: list[dict] | None = None, arrays: dict | None = None):
        self.rows: list[dict] = list(rows or [])
        self.per_image = {name: list((arrays or {}).get(name, [])) for name in _ARRAYS}

    def add(self, row: dict, validation: Scores | None) -> None:
        """One epoch's row, and its per-image results when it scored the validation split."""
        self.rows.append(row)
        if validation is not None:
            for name in _ARRAYS:
                self.per_image[name].append(getattr(validation, name))

    def validated_epochs(self) -> list[int]:
        """The epochs that scored the validation split (see ``TrainSettings.validation_due``)."""
        return [row["epoch"] for row in self.rows if not math.isnan(row["val_accuracy"])]

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(values) for name, values in self.per_image.items()}

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=HISTORY_COLUMNS)

    def predictions(self, data: RunData) -> pd.DataFrame:
        """One row per (epoch, validation image): the per-image evidence of the run."""
        arrays = self.arrays()
        epochs, count = arrays["predicted"].shape
        classes = np.asarray(data.classes, dtype=object)
        labels = np.asarray(data.val_labels)
        predicted = arrays["predicted"].ravel()
        return pd.DataFrame(
            {
                "epoch": np.repeat(np.asarray(self.validated_epochs(), dtype=np.int64), count),
                "image": np.tile(np.asarray(data.val_files, dtype=object), epochs),
                "label": np.tile(classes[labels], epochs),
                "predicted": classes[predicted],
                "probability": arrays["probability"].ravel().round(6),
                "true_class_probability": arrays["true_probability"].ravel().round(6),
                "correct": (predicted == np.tile(labels, epochs)).astype(np.int8),
            },
            columns=PREDICTION_COLUMNS,
        )


def evaluate_epoch(
    model, data: RunData, epoch: int, settings: TrainSettings
) -> tuple[dict, Scores | None]:
    """Score the whole validation split and the clean training sample, each when due (the
    validation's per-image scores are None when it is not)."""
    started = time.perf_counter()
    validation = None
    row = {"val_loss": float("nan"), "val_accuracy": float("nan")}
    if settings.validation_due(epoch):
        validation = score(predict_probabilities(model, data.val_images), data.val_labels)
        row = {"val_loss": validation.loss, "val_accuracy": validation.accuracy}
    if settings.clean_train_due(epoch):
        clean = score(
            predict_probabilities(model, data.train_images, data.clean_indices),
            data.train_labels[data.clean_indices],
        )
        row.update(clean_train_loss=clean.loss, clean_train_accuracy=clean.accuracy)
    else:
        row.update(clean_train_loss=float("nan"), clean_train_accuracy=float("nan"))
    row["evaluation_seconds"] = time.perf_counter() - started
    return row, validation


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def run_fingerprint(settings, active, data: RunData, variant: str, seed: int) -> tuple[str, str]:
    """(config hash, checkpoint fingerprint): a checkpoint is only valid for the same run on
    the same cached images."""
    train = asdict(settings)
    # keys at the value they had before they existed: a checkpoint of earlier code still fits
    for key, before in (
        ("validate_every", 1),
        ("architecture", "reference"),
        ("weights", None),
        ("model_args", {}),
    ):
        if train[key] == before:
            del train[key]
    run_hash = config_hash(
        {
            "train": train,
            "augmentation": active.as_dict(),
            "cache": data.meta["image_size"],
            "resize": data.meta["resize"],
            "classes": data.classes,
            "seed": seed,
        }
    )
    return run_hash, config_hash({"run": run_hash, "variant": variant, "meta": data.meta})


def build_run_model(settings: TrainSettings, active, data: RunData, seed: int):
    """The compiled model, with the augmentation layer when it is placed in the model, and
    for soft labels when the variant mixes them (MixUp, CutMix)."""
    layer = None
    if settings.augmentation_placement == "model" and not active.is_identity:
        layer = AugmentationLayer(active, seed=seed)
    model = build_model(
        data.image_size,
        len(data.classes),
        settings,
        augmentation_layer=layer,
        soft_labels=active.mixes_labels,
    )
    return model, layer


class DamagedCheckpoint(Exception):
    """The checkpoint's weights could not be loaded; the model may hold part of them."""


def restore(folder: Path, fingerprint: str, model) -> tuple[dict, dict]:
    """Load the checkpoint into ``model``: its state and arrays, or two empty dicts when there
    is none to use. Raises :class:`DamagedCheckpoint` (the folder removed) when its weights
    cannot be loaded."""
    loaded = load_checkpoint(folder, fingerprint) if folder.exists() else None
    if loaded is None:
        return {}, {}
    state, arrays = loaded
    try:
        load_weights(model, folder / state["weights"])
    except Exception as error:  # a damaged file: start again
        discard(folder, f"{state['weights']} cannot be loaded ({type(error).__name__}: {error})")
        raise DamagedCheckpoint from error
    return state, arrays


@dataclass
class Run:
    """One training in progress: what it trains on and what it has measured so far."""

    variant: str
    seed: int
    active: AugmentationSettings
    settings: TrainSettings
    data: RunData
    threads: int
    folder: Path
    started: float  # time.time() at the start of this attempt
    fingerprint: str = ""
    earlier_seconds: float = 0.0  # wall time of earlier, killed attempts
    resumed_at: list[int] = field(default_factory=list)
    evidence: Evidence = field(default_factory=Evidence)
    checkpoint_seconds: float = 0.0
    #: seconds between checkpoints (the last epoch's is always saved); 0: after every epoch
    checkpoint_every: float = 0.0
    last_checkpoint: float = field(default_factory=time.perf_counter)
    #: wall-clock times (seconds since the epoch) of this attempt: process start, the start of
    #: its first epoch, the end of each epoch (checkpoint saved), the outputs written
    timeline: dict = field(default_factory=lambda: {"epoch_ends": []})
    compiled: object = None  # an augablate.runner.CompiledModels, or None

    @property
    def wall_seconds(self) -> float:
        return self.earlier_seconds + time.time() - self.started

    def end_epoch(self, model, last: bool) -> None:
        """Save the checkpoint when it is due (``checkpoint_every`` seconds since the last one,
        or the run's last epoch, so that a job's finished runs survive a kill of a later one)."""
        if last or time.perf_counter() - self.last_checkpoint >= self.checkpoint_every:
            self.checkpoint(model)
        self.timeline["epoch_ends"].append(time.time())

    def checkpoint(self, model) -> None:
        saving = time.perf_counter()
        state = {
            "epoch": len(self.evidence.rows),
            "fingerprint": self.fingerprint,
            "history": self.evidence.rows,
            "wall_seconds": self.wall_seconds,
            "resumed_at_epochs": self.resumed_at,
        }
        save_checkpoint(self.folder, model, state, self.evidence.arrays())
        self.last_checkpoint = time.perf_counter()
        self.checkpoint_seconds += self.last_checkpoint - saving


def run_training(
    cache: Path,
    variant: str,
    seed: int,
    augmentation: AugmentationSettings,
    settings: TrainSettings,
    history_path: Path,
    predictions_path: Path,
    metrics_path: Path,
    threads: int = 1,
    keep_checkpoint: bool = False,
    checkpoint: Path | None = None,
    compiled=None,
    checkpoint_every: float = 0.0,
    tensorboard: Path | None = None,
) -> dict:
    """Train the model for one (variant, seed); write its history, per-image
    predictions and metrics. Resumes from the checkpoint a killed earlier attempt left in
    ``checkpoint`` (by default ``checkpoint/`` beside the history); the checkpoint is removed
    once the outputs are written, unless ``keep_checkpoint`` (then the caller removes it:
    :func:`augablate.runner.run_job` does once all its runs are written). ``compiled`` (an
    :class:`augablate.runner.CompiledModels` shared by the runs of one process) lends the run
    a model this process has compiled before; without it the run compiles its own. A checkpoint
    is saved after an epoch once ``checkpoint_every`` seconds have passed since the last one
    (0: every epoch) and after the last epoch. ``tensorboard`` (a folder) makes the run write
    its event file there as it trains (:mod:`augablate.tensorboard_log`)."""
    started = time.time()
    timeline = {
        "process_start": process_start_time() or started,
        "run_start": started,
        "epoch_ends": [],
    }
    tf = configure_tensorflow(threads, seed, settings.deterministic)
    active = augmentation.for_variant(variant)
    transforms = sorted(active.enabled())
    data = load_run_data(cache, settings.clean_train_images)
    run = Run(
        variant,
        seed,
        active,
        settings,
        data,
        threads,
        Path(checkpoint) if checkpoint else Path(history_path).parent / CHECKPOINT,
        started,
        timeline=timeline,
        compiled=compiled,
        checkpoint_every=checkpoint_every,
    )
    run_hash, run.fingerprint = run_fingerprint(settings, active, data, variant, seed)
    model, initial_epoch = resume(run)
    log_start(variant, seed, transforms, data, settings, threads)
    events = open_event_log(run, tensorboard) if tensorboard else None
    fit(model, run, initial_epoch, callbacks=[events.callback(run.evidence.rows)] if events else [])
    if events:
        events.close()
    history = run.evidence.history()
    if history["epoch"].tolist() != list(range(1, settings.epochs + 1)):
        raise RuntimeError(
            f"history for {history_path} has epochs {history['epoch'].tolist()}, "
            f"expected 1..{settings.epochs} once each"
        )
    metrics = run_metrics(run, transforms, history)
    metrics.update(
        config_hash=run_hash,
        environment=environment_info(tf),
        wall_seconds=run.wall_seconds,
        resumed_at_epochs=run.resumed_at,
        checkpoint_seconds=run.checkpoint_seconds,
    )
    atomic_write_csv(history_path, history)
    atomic_write_csv(predictions_path, run.evidence.predictions(data))
    run.timeline["outputs_written"] = time.time()
    metrics["timeline"] = run.timeline
    atomic_write_json(metrics_path, metrics)
    if not keep_checkpoint:  # the outputs are complete: no longer needed
        shutil.rmtree(run.folder, ignore_errors=True)
    log.info(
        "done in %.1f s: last-epoch val_accuracy %.4f",
        metrics["wall_seconds"],
        history["val_accuracy"].iloc[-1],
    )
    return metrics


def fresh_model(run: Run):
    """The run's model with its initial weights (the seed set just before), and its
    augmentation layer when augmentation is placed in the model (such a model, whose layer
    holds the seed, is not shared between runs)."""
    model, layer = build_run_model(run.settings, run.active, run.data, run.seed)
    if layer is None and run.compiled is not None:
        model = run.compiled.reuse(model, run.settings, run.data, run.active.mixes_labels)
    return model, layer


def resume(run: Run):
    """The run's model, restored from its checkpoint when there is a usable one (the evidence
    and times so far with it), and the epoch to continue after."""
    settings = run.settings
    model, augmentation_layer = fresh_model(run)
    try:
        state, arrays = restore(run.folder, run.fingerprint, model)
    except DamagedCheckpoint:  # the model may hold part of it: the same initial weights again
        keras.utils.set_random_seed(run.seed)
        model, augmentation_layer = fresh_model(run)
        state, arrays = {}, {}
    initial_epoch = state.get("epoch", 0)
    if state:
        run.earlier_seconds = state["wall_seconds"]
        run.resumed_at = [*state["resumed_at_epochs"], initial_epoch]
        run.evidence = Evidence(state["history"], arrays)
        log.info(
            "resuming from the checkpoint in %s after epoch %d of %d",
            run.folder,
            initial_epoch,
            settings.epochs,
        )
    if augmentation_layer is not None:  # its draw counter is not part of the saved weights
        augmentation_layer.calls.assign(initial_epoch * settings.steps_per_epoch)
    return model, initial_epoch


def open_event_log(run: Run, folder: Path):
    """The run's TensorBoard event file, holding the epochs it has so far (from its checkpoint
    when it resumes): :class:`augablate.tensorboard_log.EventLog`."""
    from augablate.tensorboard_log import EventLog, run_hparams, trial_id

    hparams = run_hparams(
        run.variant, run.seed, run.active.as_dict(), asdict(run.settings), run.data.image_size
    )
    events = EventLog(folder, hparams, trial_id(run.variant, run.seed))
    events.write(run.evidence.rows)
    return events


def fit(model, run: Run, initial_epoch: int, callbacks=()) -> None:
    """Train from ``initial_epoch`` to the last epoch; evaluate, log and checkpoint each (then
    ``callbacks``, which find the epoch in ``run.evidence``)."""
    settings = run.settings
    if initial_epoch >= settings.epochs:
        return
    train_data = training_dataset(
        run.data.train_images,
        run.data.train_labels,
        batch_size=settings.batch_size,
        seed=run.seed,
        settings=run.active,
        binary=run.data.binary,
        threads=run.threads,
        augment=settings.augmentation_placement == "pipeline",
        start_step=initial_epoch * settings.steps_per_epoch,
        steps=(settings.epochs - initial_epoch) * settings.steps_per_epoch,
        classes=len(run.data.classes),
    )

    class Progress(keras.callbacks.Callback):
        """Evaluates each epoch, logs it, adds it to the evidence and saves the checkpoint."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            run.timeline.setdefault("first_epoch_begin", time.time())

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start
            logs = logs or {}
            row, validation = evaluate_epoch(model, run.data, epoch + 1, settings)
            row.update(
                epoch=epoch + 1,
                augmented_batch_loss=float(logs.get("loss", float("nan"))),
                augmented_batch_accuracy=float(logs.get("accuracy", float("nan"))),
                epoch_seconds=seconds,
            )
            run.evidence.add(row, validation)
            log_epoch(row, settings.epochs)
            run.end_epoch(model, last=epoch + 1 == settings.epochs)

    model.fit(
        train_data,
        steps_per_epoch=settings.steps_per_epoch,
        epochs=settings.epochs,
        initial_epoch=initial_epoch,
        callbacks=[Progress(), *callbacks],
        verbose=0,
    )


def log_start(variant, seed, transforms, data: RunData, settings: TrainSettings, threads: int):
    log.info(
        "variant %s seed %d: transforms %s; %d train / %d validation images, %d classes, %dx%d; "
        "%d epochs x %d steps of %d; all %d validation images scored every %d epoch(s) back from "
        "the last (each of the last %d), %d clean training images every %d epoch(s); %d thread(s)",
        variant,
        seed,
        transforms or "none",
        len(data.train_labels),
        len(data.val_labels),
        len(data.classes),
        data.image_size,
        data.image_size,
        settings.epochs,
        settings.steps_per_epoch,
        settings.batch_size,
        len(data.val_labels),
        settings.validate_every,
        FULL_VALIDATION_EPOCHS,
        len(data.clean_indices),
        settings.clean_train_every,
        threads,
    )


def log_epoch(row: dict, epochs: int) -> None:
    def measured(value):
        return "-" if np.isnan(value) else f"{value:.4f}"

    log.info(
        "epoch %d/%d  augmented-batch loss %.4f accuracy %.4f  clean-train accuracy %s  "
        "val_loss %s  val_accuracy %s  %.1f s + %.1f s evaluation",
        row["epoch"],
        epochs,
        row["augmented_batch_loss"],
        row["augmented_batch_accuracy"],
        measured(row["clean_train_accuracy"]),
        measured(row["val_loss"]),
        measured(row["val_accuracy"]),
        row["epoch_seconds"],
        row["evaluation_seconds"],
    )


def run_metrics(run: Run, transforms: list[str], history) -> dict:
    """metrics.json: what ran and the last epoch's numbers (the study's summaries, over the
    last k epochs, are made by the aggregate rule, so that k can change without training)."""
    last, data = history.iloc[-1], run.data
    return {
        "variant": run.variant,
        "seed": run.seed,
        "transforms": transforms,
        "augmentation": run.active.as_dict(),
        "train": asdict(run.settings),
        "classes": data.classes,
        "train_images": int(len(data.train_labels)),
        "clean_train_images": int(len(data.clean_indices)),
        "validation_images": int(len(data.val_labels)),
        "image_size": data.image_size,
        "epochs": int(len(history)),
        "last_epoch_val_accuracy": float(last["val_accuracy"]),
        "last_epoch_clean_train_accuracy": float(last["clean_train_accuracy"]),
        "threads": run.threads,
        "epoch_seconds": history["epoch_seconds"].tolist(),
        "evaluation_seconds": history["evaluation_seconds"].tolist(),
        "validated_epochs": run.evidence.validated_epochs(),
    }
