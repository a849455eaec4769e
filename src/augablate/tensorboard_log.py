"""TensorBoard event files of the runs (``evaluation.tensorboard``), opt-in.

A run writes one event file in ``tensorboard/`` beside its outputs, as it trains (watch it
live with ``tensorboard --logdir results/train``): its hyper-parameters (the HParams plugin's
session start: variant, seed, every transform's setting, the protocol and the model) and, per
epoch (the step), the scalars of its ``history.csv`` under the same names. The rule
``tensorboard`` gathers the runs' files into ``results/tensorboard/<variant>/seed-<seed>/``.

Written with ``tf.summary`` and ``tensorboard.plugins.hparams.api`` rather than
``keras.callbacks.TensorBoard``: the study's numbers are its own evaluation of the whole
validation split and of the clean training sample, which Keras' callback never sees (it would
log Keras' running means over the augmented batches as "train" accuracy), and a resumed run
must rewrite its file from the checkpoint's history.

A resumed run (killed after its checkpoint of epoch k) starts a new file and writes epochs 1..k
again from the checkpoint's history before it trains on: each epoch once, none lost (Snakemake
has removed the job's outputs, the earlier file with them; outside Snakemake the earlier file
is removed here). Epochs written again carry the wall time of the rewrite.

TensorFlow and TensorBoard are imported only when a run writes an event file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from augablate.protocol import TENSORBOARD

#: The per-epoch scalars, named as the columns of history.csv (augablate.protocol): the
#: running means over the augmented training batches under their honest name, the clean
#: training sample's scores (at the epochs that measure them) and the validation split's.
SCALARS = (
    "val_accuracy",
    "val_loss",
    "clean_train_accuracy",
    "clean_train_loss",
    "augmented_batch_accuracy",
    "augmented_batch_loss",
)
#: The training settings shown as hyper-parameters (the rest of a run's protocol is the same
#: for every run of a study).
PROTOCOL = (
    "epochs",
    "batch_size",
    "steps_per_epoch",
    "learning_rate",
    "learning_rate_schedule",
    "augmentation_placement",
)


def trial_id(variant: str, seed: int) -> str:
    """A run's name in TensorBoard, and its folder under ``results/tensorboard``."""
    return f"{variant}/seed-{seed}"


def hparam_value(value):
    """A value the HParams plugin takes (bool, int, float or str): lists and mappings as JSON,
    None as "none"."""
    if value is None:
        return "none"
    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def run_hparams(
    variant: str, seed: int, augmentation: Mapping, settings: Mapping, image_size: int
) -> dict:
    """A run's hyper-parameters: its variant and seed, every transform's setting (the value it
    trains with; off transforms at their off value), the protocol, the image size and the
    model (``reference`` with its filters and dense units, or the architecture with its
    weights and arguments as ``model_args``)."""
    if settings["architecture"] == "reference":
        model_args = {key: settings[key] for key in ("filters", "dense_units")}
    else:
        model_args = {"weights": settings["weights"], **settings["model_args"]}
    values = {
        "variant": variant,
        "seed": seed,
        **{key: settings[key] for key in PROTOCOL},
        "image_size": image_size,
        "model": settings["architecture"],
        "model_args": model_args,
        **augmentation,
    }
    return {name: hparam_value(value) for name, value in values.items()}


class EventLog:
    """One run's event file: its hyper-parameters once, then the scalars of each epoch."""

    def __init__(self, folder: Path | str, hparams: Mapping, trial: str):
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp

        self._tf = tf
        shutil.rmtree(folder, ignore_errors=True)  # an earlier attempt's file: written again
        self.writer = tf.summary.create_file_writer(str(folder))
        with self.writer.as_default():
            hp.hparams(dict(hparams), trial_id=trial)
        self.epochs = 0

    def write(self, rows: Sequence[Mapping]) -> None:
        """Write the epochs of ``rows`` (a run's history so far) not written yet, and flush:
        TensorBoard shows each epoch as soon as it is scored."""
        with self.writer.as_default():
            for row in rows[self.epochs :]:
                for tag in SCALARS:
                    if not math.isnan(row[tag]):  # clean-train: only at the epochs it is scored
                        self._tf.summary.scalar(tag, row[tag], step=row["epoch"])
        self.epochs = len(rows)
        self.writer.flush()

    def callback(self, rows: Sequence[Mapping]):
        """A Keras callback writing the new epochs of ``rows`` (the list the run's evidence
        appends to) at each epoch's end; give it after the callback that appends them."""
        import keras

        return keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs=None: self.write(rows)
        )

    def close(self) -> None:
        self.writer.close()


def gather(runs: Sequence[tuple[str, int, str]], target: Path | str) -> None:
    """Copy each run's ``tensorboard/`` folder (``runs``: variant, seed, run folder) to
    ``target/<variant>/seed-<seed>/``, into a temporary folder renamed when complete."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    for variant, seed, folder in runs:
        source = Path(folder) / TENSORBOARD
        if not any(source.glob("events.out.tfevents.*")):
            raise FileNotFoundError(f"{source} holds no event file (evaluation.tensorboard)")
        shutil.copytree(source, partial / trial_id(variant, seed))
    shutil.rmtree(target, ignore_errors=True)
    partial.mkdir(parents=True, exist_ok=True)
    partial.rename(target)
