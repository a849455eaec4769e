"""A training job: several runs one after the other in one process (rule ``train``).

TensorFlow starts once and the model is compiled once (:class:`CompiledModels`); each run
starts from its own seed exactly as in a process of its own. Every finished run keeps its final
checkpoint until all are written, so that a job killed on a later run restores the others
instead of training them again (Snakemake removes the outputs of a job it reruns, so the
checkpoints live outside them: :func:`augablate.jobs.checkpoint_folder`); then the checkpoints
are removed.

Imports TensorFlow (through :mod:`augablate.train`): call
:func:`augablate.startup.prepare_training_process` before importing this module.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from augablate.protocol import TENSORBOARD, RunOutputs, TrainSettings
from augablate.train import RunData, run_training
from augablate.variants import AugmentationSettings


class CompiledModels:
    """The compiled models of one job, by what decides their graph: the runs of a job differ
    only in their variant (the augmentation, outside the model when it is placed in the
    pipeline) and seed (the initial weights), so one compiled model serves them all."""

    def __init__(self) -> None:
        self._kept: dict = {}

    def reuse(self, model, settings: TrainSettings, data: RunData, soft_labels: bool = False):
        """``model`` (freshly built for a run: its initial weights are the run's) or, when this
        job has already compiled a model of the same settings and data shape, that model
        with ``model``'s weights and its optimizer back in its just-built state: the same run,
        without tracing and compiling its training and evaluation functions again.
        ``soft_labels`` (a label-mixing variant) decides the loss: such models are kept apart."""
        key = (
            json.dumps(asdict(settings), sort_keys=True),
            data.image_size,
            len(data.classes),
            soft_labels,
        )
        kept = self._kept.get(key)
        if kept is None:
            model.optimizer.build(model.trainable_variables)
            self._kept[key] = (model, [variable.numpy() for variable in model.optimizer.variables])
            return model
        compiled, fresh_optimizer = kept
        compiled.set_weights(model.get_weights())
        for variable, value in zip(compiled.optimizer.variables, fresh_optimizer, strict=True):
            variable.assign(value)
        return compiled


def run_job(
    cache: Path,
    runs: Sequence[RunOutputs],
    augmentation: Mapping[str, AugmentationSettings],
    settings: TrainSettings,
    threads: int = 1,
    checkpoint_every: float = 0.0,
    tensorboard: bool = False,
) -> list[dict]:
    """Train ``runs`` (``augmentation`` holds each variant's ranges) one after the other in
    this process, each saving its checkpoint every ``checkpoint_every`` seconds and after its
    last epoch; remove their checkpoints once all are written. Each run's metrics. With
    ``tensorboard`` each run writes its event file in ``tensorboard/`` beside its outputs."""
    compiled = CompiledModels()
    results = [
        run_training(
            cache=cache,
            variant=outputs.variant,
            seed=outputs.seed,
            augmentation=augmentation[outputs.variant],
            settings=settings,
            history_path=outputs.history,
            predictions_path=outputs.predictions,
            metrics_path=outputs.metrics,
            threads=threads,
            keep_checkpoint=True,
            checkpoint=outputs.checkpoint,
            compiled=compiled,
            checkpoint_every=checkpoint_every,
            tensorboard=outputs.history.parent / TENSORBOARD if tensorboard else None,
        )
        for outputs in runs
    ]
    for outputs in runs:
        shutil.rmtree(outputs.checkpoint, ignore_errors=True)
        remove_empty_parents(outputs.checkpoint, levels=3)
    return results


def remove_empty_parents(path: Path, levels: int) -> None:
    """Remove up to ``levels`` parent folders of ``path`` while they are empty (a job's
    ``<variant>/`` and ``<job>/`` checkpoint folders, and ``results/checkpoints/`` after the
    last job)."""
    for parent in list(Path(path).parents)[:levels]:
        try:
            parent.rmdir()
        except OSError:  # not empty (another job's) or already gone
            return
