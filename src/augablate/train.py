"""One training run: a (variant, seed) pair of the study, from the cache to history and metrics.

Threads, seeds and determinism are set before TensorFlow runs any op. Per-epoch progress goes
to the logger (the rule's log file).

A run survives being killed: after every epoch it saves a checkpoint (weights, optimizer state,
the history so far) in ``checkpoint/`` beside its outputs, and a rerun continues after the last
saved epoch. The resumed run reproduces the uninterrupted one exactly: the data stream and the
augmentation draws restart at the same batch (``start_step`` of
:func:`augablate.pipeline.training_dataset`), and nothing else in a run draws random numbers
after the initial weights, which the checkpoint replaces. The folder is removed once the
outputs are written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from augablate.io import atomic_write, atomic_write_csv, atomic_write_json
from augablate.variants import AugmentationSettings, variant_transforms

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"]
CHECKPOINT_FOLDER = "checkpoint"
CHECKPOINT_STATE = "state.json"
CHECKPOINT_KEYS = (
    "epoch",
    "fingerprint",
    "weights",
    "history",
    "wall_seconds",
    "resumed_at_epochs",
)


@dataclass
class TrainSettings:
    """Everything that decides a run except the variant and the seed."""

    batch_size: int = 20
    steps_per_epoch: int = 100
    epochs: int = 100
    validation_steps: int = 50
    learning_rate: float = 1e-4
    filters: list[int] = field(default_factory=lambda: [32, 64, 128, 128])
    dense_units: int = 512
    deterministic: bool = True
    augmentation_placement: str = "pipeline"  # or "model"


def configure_tensorflow(threads: int, seed: int, deterministic: bool):
    """Set TensorFlow's thread pools, every RNG and determinism; call before any op runs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

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
    import keras

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
# Checkpoints: <run>/checkpoint/{state.json, epoch-NNNN.weights.h5}
# --------------------------------------------------------------------------------------------


def checkpoint_folder(history_path: Path | str) -> Path:
    """Where a run keeps its checkpoint: ``checkpoint/`` beside its outputs (not an output)."""
    return Path(history_path).parent / CHECKPOINT_FOLDER


def save_checkpoint(folder: Path, model, state: dict) -> None:
    """Save the weights and optimizer state after ``state["epoch"]`` epochs, then the state.

    Each file is written to a temporary name and renamed; the weights get a new name per epoch
    and ``state.json``, renamed last, names them. A kill at any moment leaves the previous
    checkpoint or the new one whole, never a mix.
    """
    weights = f"epoch-{state['epoch']:04d}.weights.h5"
    atomic_write(folder / weights, model.save_weights, suffix=".weights.h5")
    atomic_write_json(folder / CHECKPOINT_STATE, {**state, "weights": weights})
    for path in folder.iterdir():
        if path.name not in (weights, CHECKPOINT_STATE):
            path.unlink(missing_ok=True)


def load_checkpoint(folder: Path, fingerprint: str) -> dict | None:
    """The state of the last checkpoint in ``folder`` if it belongs to this configuration.

    A checkpoint of another configuration (the config changed since the run was killed), or
    one that cannot be read, is removed with a warning and the run starts from the beginning.
    """
    state_path = folder / CHECKPOINT_STATE
    if not state_path.exists():
        shutil.rmtree(folder, ignore_errors=True)  # at most a half-written first checkpoint
        return None
    try:
        state = json.loads(state_path.read_text())
        problem = None
        if missing := [key for key in CHECKPOINT_KEYS if key not in state]:
            problem = f"its {CHECKPOINT_STATE} lacks {missing}"
        elif state["fingerprint"] != fingerprint:
            problem = (
                f"it was saved for another configuration (fingerprint {state['fingerprint']}, "
                f"this run {fingerprint})"
            )
        elif not (folder / state["weights"]).is_file():
            problem = f"its weights file {state['weights']} is missing"
    except (OSError, ValueError, KeyError, TypeError) as error:
        problem = f"it cannot be read ({type(error).__name__}: {error})"
    if problem:
        log.warning("ignoring the checkpoint in %s: %s; starting from epoch 1", folder, problem)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return state


def run_training(
    cache: Path,
    variant: str,
    seed: int,
    augmentation: AugmentationSettings,
    settings: TrainSettings,
    history_path: Path,
    metrics_path: Path,
    threads: int = 1,
    last_k: int = 5,
) -> dict:
    """Train the reference CNN for one (variant, seed) and write history.csv and metrics.json.

    Resumes from the checkpoint a killed earlier attempt left (see the module's docstring).
    """
    started = time.time()
    tf = configure_tensorflow(threads, seed, settings.deterministic)
    import keras
    import pandas as pd

    from augablate.data import load_meta, load_split
    from augablate.model import build_model
    from augablate.pipeline import training_dataset, validation_dataset

    transforms = sorted(variant_transforms(variant))
    active = augmentation.restricted_to(transforms)
    meta = load_meta(cache)
    classes = meta["classes"]
    binary = len(classes) == 2
    train_images, train_labels = load_split(cache, "train")
    val_images, val_labels = load_split(cache, "validation")
    image_size = int(train_images.shape[1])
    in_pipeline = settings.augmentation_placement == "pipeline"
    run_hash = config_hash(
        {
            "train": asdict(settings),
            "augmentation": asdict(active),
            "cache": meta["image_size"],
            "resize": meta["resize"],
            "classes": classes,
            "seed": seed,
        }
    )
    # a checkpoint is only valid for the same run on the same cached images
    fingerprint = config_hash({"run": run_hash, "variant": variant, "meta": meta})

    def build():
        layer = None
        if not in_pipeline and not active.is_identity:
            from augablate.augment import AugmentationLayer

            layer = AugmentationLayer(active, seed=seed)
        built = build_model(
            image_size,
            len(classes),
            settings.filters,
            settings.dense_units,
            settings.learning_rate,
            augmentation_layer=layer,
        )
        return built, layer

    model, augmentation_layer = build()
    folder = checkpoint_folder(history_path)
    state = load_checkpoint(folder, fingerprint) if folder.exists() else None
    if state is not None:
        try:
            model.optimizer.build(model.trainable_variables)  # so that its state loads too
            model.load_weights(folder / state["weights"])
        except Exception as error:  # a damaged file: start again, with the same initial weights
            log.warning(
                "ignoring the checkpoint in %s: %s cannot be loaded (%s: %s); starting from "
                "epoch 1",
                folder,
                state["weights"],
                type(error).__name__,
                error,
            )
            shutil.rmtree(folder, ignore_errors=True)
            state = None
            keras.utils.set_random_seed(seed)
            model, augmentation_layer = build()
    initial_epoch = state["epoch"] if state else 0
    rows: list[dict] = state["history"] if state else []
    earlier_seconds = state["wall_seconds"] if state else 0.0
    resumed_at = [*state["resumed_at_epochs"], initial_epoch] if state else []
    if augmentation_layer is not None:  # its draw counter is not part of the saved weights
        augmentation_layer.calls.assign(initial_epoch * settings.steps_per_epoch)

    train_data = training_dataset(
        train_images,
        train_labels,
        batch_size=settings.batch_size,
        seed=seed,
        settings=active,
        binary=binary,
        threads=threads,
        augment=in_pipeline,
        start_step=initial_epoch * settings.steps_per_epoch,
    )
    val_data = validation_dataset(
        val_images,
        val_labels,
        batch_size=settings.batch_size,
        steps=settings.validation_steps,
        binary=binary,
        threads=threads,
    )
    log.info(
        "variant %s seed %d: transforms %s; %d train / %d validation images, %d classes, %dx%d; "
        "%d epochs x %d steps of %d, %d validation steps; %d thread(s)",
        variant,
        seed,
        transforms or "none",
        len(train_labels),
        len(val_labels),
        len(classes),
        image_size,
        image_size,
        settings.epochs,
        settings.steps_per_epoch,
        settings.batch_size,
        settings.validation_steps,
        threads,
    )
    if state:
        log.info(
            "resuming from the checkpoint in %s after epoch %d of %d",
            folder,
            initial_epoch,
            settings.epochs,
        )

    checkpoint_seconds: list[float] = []

    class Progress(keras.callbacks.Callback):
        """Logs each epoch, adds it to the history and saves the checkpoint."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start
            logs = logs or {}
            row = {"epoch": epoch + 1}
            for name in HISTORY_COLUMNS[1:-1]:
                row[name] = float(logs.get(name, float("nan")))
            row["epoch_seconds"] = seconds
            rows.append(row)
            log.info(
                "epoch %d/%d  loss %.4f  accuracy %.4f  val_loss %.4f  val_accuracy %.4f  %.1f s",
                epoch + 1,
                settings.epochs,
                row["loss"],
                row["accuracy"],
                row["val_loss"],
                row["val_accuracy"],
                seconds,
            )
            saving = time.perf_counter()
            save_checkpoint(
                folder,
                model,
                {
                    "epoch": epoch + 1,
                    "fingerprint": fingerprint,
                    "history": rows,
                    "wall_seconds": earlier_seconds + time.time() - started,
                    "resumed_at_epochs": resumed_at,
                },
            )
            checkpoint_seconds.append(time.perf_counter() - saving)

    if initial_epoch < settings.epochs:
        model.fit(
            train_data,
            steps_per_epoch=settings.steps_per_epoch,
            epochs=settings.epochs,
            initial_epoch=initial_epoch,
            validation_data=val_data,
            validation_steps=settings.validation_steps,
            callbacks=[Progress()],
            verbose=0,
        )
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    if history["epoch"].tolist() != list(range(1, settings.epochs + 1)):
        raise RuntimeError(
            f"history for {history_path} has epochs {history['epoch'].tolist()}, "
            f"expected 1..{settings.epochs} once each"
        )
    epoch_seconds = history["epoch_seconds"].tolist()
    wall = earlier_seconds + time.time() - started
    from augablate.analysis import summarize_run

    summary = summarize_run(history, last_k)  # the same definitions as the study's tables
    metrics = {
        "variant": variant,
        "seed": seed,
        "transforms": transforms,
        "augmentation": asdict(active),
        "train": asdict(settings),
        "classes": classes,
        "train_images": int(len(train_labels)),
        "validation_images": int(len(val_labels)),
        "image_size": image_size,
        "epochs": int(len(history)),
        "final_accuracy": summary["final_train_accuracy"],
        "final_val_accuracy": summary["final_val_accuracy"],
        "best_val_accuracy": summary["best_val_accuracy"],
        "best_val_accuracy_epoch": summary["best_val_accuracy_epoch"],
        "min_val_loss": summary["min_val_loss"],
        "min_val_loss_epoch": summary["min_val_loss_epoch"],
        "last_k": last_k,
        "threads": threads,
        "config_hash": run_hash,
        "environment": environment_info(tf),
        "wall_seconds": wall,
        "epoch_seconds": epoch_seconds,
        "resumed_at_epochs": resumed_at,
        "checkpoint_seconds": float(sum(checkpoint_seconds)),
    }
    atomic_write_csv(history_path, history)
    atomic_write_json(metrics_path, metrics)
    shutil.rmtree(folder, ignore_errors=True)  # the outputs are complete: no longer needed
    log.info("done in %.1f s: final val_accuracy %.4f", wall, metrics["final_val_accuracy"])
    return metrics
