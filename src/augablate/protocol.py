"""The types the layers of the package hand each other, in a module of their own so that the
config layer (:mod:`augablate.settings`, :mod:`augablate.jobs`), the model and the training
import them without importing each other: what decides a run besides its variant and seed
(:class:`TrainSettings`), where a run's outputs go (:class:`RunOutputs`) and the columns of
those outputs. Standard library only: the Snakefile imports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key."""


#: The last epochs of a run that always score the validation split, whatever
#: ``evaluation.validate_every``: the convergence slope's window and the largest ``last_k`` of
#: the endpoint table (:mod:`augablate.convergence`, :mod:`augablate.endpoint`).
FULL_VALIDATION_EPOCHS = 10


@dataclass
class TrainSettings:
    """Everything that decides a run except the variant and the seed."""

    batch_size: int = 20
    steps_per_epoch: int = 100
    epochs: int = 100
    learning_rate: float = 1e-4
    learning_rate_schedule: str = "constant"  # or "cosine": decays to 0 over the run
    filters: list[int] = field(default_factory=lambda: [32, 64, 128, 128])
    dense_units: int = 512
    #: "reference" (the CNN above), a keras.applications name or "module:function"
    #: (augablate.architectures), with its weights and keyword arguments
    architecture: str = "reference"
    weights: str | None = None
    model_args: dict = field(default_factory=dict)
    deterministic: bool = True
    augmentation_placement: str = "pipeline"  # or "model"
    clean_train_every: int = 2  # epochs between clean-train evaluations, back from the last
    clean_train_images: int = 1000  # size of the fixed clean-train sample (all if fewer)
    validate_every: int = 1  # epochs between validations before the last FULL_VALIDATION_EPOCHS

    def validation_due(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (1-based) scores the validation split: each of the last
        :data:`FULL_VALIDATION_EPOCHS` epochs and every ``validate_every``-th before them,
        counted back from the last. Skipping a validation changes nothing in the training."""
        from_last = self.epochs - epoch
        return from_last < FULL_VALIDATION_EPOCHS or from_last % self.validate_every == 0

    def clean_train_due(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (1-based) scores the clean training sample: the last epoch
        and every ``clean_train_every``-th before it."""
        return (self.epochs - epoch) % self.clean_train_every == 0


#: A run's output files by kind, in its run folder ``<job folder>/<variant>/seed-<seed>/``.
RUN_FILES = {
    "history": "history.csv",
    "predictions": "predictions.csv.gz",
    "metrics": "metrics.json",
}

#: Where a run keeps its checkpoint when nothing else is said: ``checkpoint/`` beside its
#: outputs (a training job of the workflow keeps them outside its output folder, which
#: Snakemake removes before it runs the job: :func:`augablate.jobs.checkpoint_folder`).
CHECKPOINT = "checkpoint"
#: The folder of a run's TensorBoard event file, beside its outputs (evaluation.tensorboard).
TENSORBOARD = "tensorboard"


@dataclass
class RunOutputs:
    """One run of a training job: its variant and seed, the paths of its three outputs and the
    folder of its checkpoint (by default ``checkpoint/`` beside the outputs)."""

    variant: str
    seed: int
    history: Path
    predictions: Path
    metrics: Path
    checkpoint: Path | None = None

    def __post_init__(self) -> None:
        self.history, self.predictions, self.metrics = map(
            Path, (self.history, self.predictions, self.metrics)
        )
        if self.checkpoint is None:
            self.checkpoint = self.history.parent / CHECKPOINT
        self.checkpoint = Path(self.checkpoint)

    @classmethod
    def in_folder(
        cls, folder: Path | str, variant: str, seed: int, checkpoint: Path | str | None = None
    ) -> RunOutputs:
        """The run whose outputs are the :data:`RUN_FILES` in ``folder``."""
        files = {kind: Path(folder) / name for kind, name in RUN_FILES.items()}
        return cls(variant=variant, seed=seed, checkpoint=checkpoint, **files)


#: history.csv, one row per epoch. ``augmented_batch_*`` are Keras' running means over the
#: epoch's training batches as fed to the model (augmented, for a variant that augments) while
#: the weights change; ``clean_train_*`` score the weights at the end of the epoch on
#: un-augmented training images (empty at epochs without that evaluation); ``val_*`` score the
#: whole validation split.
HISTORY_COLUMNS = [
    "epoch",
    "augmented_batch_loss",
    "augmented_batch_accuracy",
    "clean_train_loss",
    "clean_train_accuracy",
    "val_loss",
    "val_accuracy",
    "epoch_seconds",
    "evaluation_seconds",
]
#: predictions.csv.gz, one row per (epoch, validation image).
PREDICTION_COLUMNS = [
    "epoch",
    "image",
    "label",
    "predicted",
    "probability",
    "true_class_probability",
    "correct",
]
