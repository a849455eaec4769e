"""One training run: a (variant, seed) pair of the study, from the cache to history and metrics.

Threads, seeds and determinism are set before TensorFlow runs any op. Per-epoch progress goes
to the logger (the rule's log file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from augablate.io import atomic_write_csv, atomic_write_json
from augablate.variants import AugmentationSettings, variant_transforms

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"]


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
    """Train the reference CNN for one (variant, seed) and write history.csv and metrics.json."""
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
    augmentation_layer = None
    in_pipeline = settings.augmentation_placement == "pipeline"
    if not in_pipeline and not active.is_identity:
        from augablate.augment import AugmentationLayer

        augmentation_layer = AugmentationLayer(active, seed=seed)
    train_data = training_dataset(
        train_images,
        train_labels,
        batch_size=settings.batch_size,
        seed=seed,
        settings=active,
        binary=binary,
        threads=threads,
        augment=in_pipeline,
    )
    val_data = validation_dataset(
        val_images,
        val_labels,
        batch_size=settings.batch_size,
        steps=settings.validation_steps,
        binary=binary,
        threads=threads,
    )
    model = build_model(
        image_size,
        len(classes),
        settings.filters,
        settings.dense_units,
        settings.learning_rate,
        augmentation_layer=augmentation_layer,
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

    epoch_seconds: list[float] = []

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start
            epoch_seconds.append(seconds)
            logs = logs or {}
            log.info(
                "epoch %d/%d  loss %.4f  accuracy %.4f  val_loss %.4f  val_accuracy %.4f  %.1f s",
                epoch + 1,
                settings.epochs,
                logs.get("loss", float("nan")),
                logs.get("accuracy", float("nan")),
                logs.get("val_loss", float("nan")),
                logs.get("val_accuracy", float("nan")),
                seconds,
            )

    fit = model.fit(
        train_data,
        steps_per_epoch=settings.steps_per_epoch,
        epochs=settings.epochs,
        validation_data=val_data,
        validation_steps=settings.validation_steps,
        callbacks=[Progress()],
        verbose=0,
    )
    history = pd.DataFrame(fit.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history["epoch_seconds"] = epoch_seconds
    history = history[HISTORY_COLUMNS]
    wall = time.time() - started
    tail = history.tail(last_k)
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
        "final_accuracy": float(tail["accuracy"].mean()),
        "final_val_accuracy": float(tail["val_accuracy"].mean()),
        "best_val_accuracy": float(history["val_accuracy"].max()),
        "best_val_accuracy_epoch": int(history.loc[history["val_accuracy"].idxmax(), "epoch"]),
        "min_val_loss": float(history["val_loss"].min()),
        "min_val_loss_epoch": int(history.loc[history["val_loss"].idxmin(), "epoch"]),
        "last_k": last_k,
        "threads": threads,
        "config_hash": config_hash(
            {
                "train": asdict(settings),
                "augmentation": asdict(active),
                "cache": meta["image_size"],
                "resize": meta["resize"],
                "classes": classes,
                "seed": seed,
            }
        ),
        "environment": environment_info(tf),
        "wall_seconds": wall,
        "epoch_seconds": epoch_seconds,
    }
    atomic_write_csv(history_path, history)
    atomic_write_json(metrics_path, metrics)
    log.info("done in %.1f s: final val_accuracy %.4f", wall, metrics["final_val_accuracy"])
    return metrics
