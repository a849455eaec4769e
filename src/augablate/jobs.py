"""The study's training jobs: a plain table from the config, one row per job.

A job trains some seeds (``resources.seeds_per_job``, consecutive in ``train.seeds``) of one
variant or of a group of variants (``resources.variants_per_job``, consecutive in
``variants``), one after the other in one process (:mod:`augablate.runner`). The workflow has
one rule ``train`` whose wildcard ``{job}`` is a job's :attr:`TrainingJob.name`; its output is
the folder ``results/train/<job>/`` holding one folder per run::

    results/train/<job>/<variant>/seed-<seed>/{history.csv, predictions.csv.gz, metrics.json}

A job's name says exactly which runs it makes (``rotation_seeds-1-2-3``,
``none-to-all_seeds-1-2-3``, ``rotation+zoom_seed-1``): its seeds are in its name, not in the
rule's params, so a seed added as a new job retrains nothing done; its variants' settings are in
the params (:func:`augablate.settings.run_params`), so a group whose variants change reruns.

Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from augablate.protocol import ConfigError, RunOutputs

#: A training job's output folder (the rule's output) and where its runs keep their
#: checkpoints while it runs: outside the output folder, which Snakemake removes before it
#: (re)runs a job, so that a killed job's rerun finds them.
JOB_FOLDER = "results/train/{job}"
CHECKPOINTS = "results/checkpoints/{job}"

#: Runs of consecutive seeds at least this long are named by their ends (``1-to-50``).
SEED_RANGE = 5


@dataclass(frozen=True)
class TrainingJob:
    """One training job: its variants (consecutive in the config's list) and its seeds, each
    variant trained with each seed, variant by variant."""

    variants: tuple[str, ...]
    seeds: tuple[int, ...]

    @property
    def name(self) -> str:
        """The job's name, one path component: ``<variants>_<seeds>``, the variants as the
        variant (``rotation``) or ``<first>-to-<last>`` of a group, the seeds as
        :func:`seed_label` (``seed-1``, ``seeds-1-2-3``, ``seeds-1-to-50``)."""
        variants = self.variants[0]
        if len(self.variants) > 1:
            variants = f"{self.variants[0]}-to-{self.variants[-1]}"
        return f"{variants}_{seed_label(self.seeds)}"

    def runs(self) -> list[tuple[str, int]]:
        """Its (variant, seed) pairs, variant by variant, in the config's order."""
        return [(variant, seed) for variant in self.variants for seed in self.seeds]

    def outputs(self) -> list[RunOutputs]:
        """Its runs' output files and checkpoint folders, in the order they train."""
        return [
            RunOutputs.in_folder(
                run_folder(self.name, variant, seed),
                variant,
                seed,
                checkpoint=checkpoint_folder(self.name, variant, seed),
            )
            for variant, seed in self.runs()
        ]


def job_folder(job: str) -> str:
    """A job's output folder, ``results/train/<job>``."""
    return JOB_FOLDER.format(job=job)


def run_folder(job: str, variant: str, seed: int) -> str:
    """The folder of one run of job ``job``: ``results/train/<job>/<variant>/seed-<seed>``."""
    return f"{job_folder(job)}/{variant}/seed-{seed}"


def checkpoint_folder(job: str, variant: str, seed: int) -> str:
    """Where a run keeps its checkpoint while its job runs:
    ``results/checkpoints/<job>/<variant>/seed-<seed>``."""
    return f"{CHECKPOINTS.format(job=job)}/{variant}/seed-{seed}"


def seed_label(seeds: Sequence[int]) -> str:
    """A job's seeds in its name, exactly: ``seed-3``, ``seeds-1-2-3``, and runs of
    :data:`SEED_RANGE` or more consecutive seeds by their ends, ``seeds-1-to-50`` or
    ``seeds-1-to-10-20-to-29`` (``to`` marks a range, so no two seed lists share a label)."""
    if len(seeds) == 1:
        return f"seed-{seeds[0]}"
    parts, start = [], 0
    while start < len(seeds):
        end = start
        while end + 1 < len(seeds) and seeds[end + 1] == seeds[end] + 1:
            end += 1
        if end - start + 1 >= SEED_RANGE:
            parts.append(f"{seeds[start]}-to-{seeds[end]}")
        else:
            parts.extend(str(seed) for seed in seeds[start : end + 1])
        start = end + 1
    return "seeds-" + "-".join(parts)


def chunks(items: Sequence, per_job: int) -> list[tuple]:
    """``items`` ``per_job`` at a time, in order. Items appended to the list go to new jobs,
    unless the last job had room: then it is a new job (another name) that trains its runs
    again."""
    return [tuple(items[start : start + per_job]) for start in range(0, len(items), per_job)]


def training_jobs(config: Mapping) -> dict[str, TrainingJob]:
    """The study's training jobs by name: each group of ``resources.variants_per_job``
    variants with each group of ``resources.seeds_per_job`` seeds. Raises ConfigError, naming
    ``variants`` and ``resources.variants_per_job``, should two jobs get one name."""
    resources = config["resources"]
    jobs: dict[str, TrainingJob] = {}
    for variants in chunks(config["variants"], resources["variants_per_job"]):
        for seeds in chunks(config["train"]["seeds"], resources["seeds_per_job"]):
            job = TrainingJob(variants, seeds)
            if job.name in jobs:
                raise ConfigError(
                    f"config keys 'variants' and 'resources.variants_per_job' "
                    f"({resources['variants_per_job']}): the groups {jobs[job.name].variants} "
                    f"and {variants} would both be the training job {job.name!r}; reorder the "
                    "variants or change resources.variants_per_job"
                )
            jobs[job.name] = job
    return jobs


def study_runs(jobs: Mapping[str, TrainingJob], variants: Sequence[str], seeds: Sequence[int]):
    """Every run of the study in the config's order (variant by variant, seed by seed), each
    in its job's folder: the input the analysis reads."""
    job_of = {run: job.name for job in jobs.values() for run in job.runs()}
    return [
        RunOutputs.in_folder(run_folder(job_of[variant, seed], variant, seed), variant, seed)
        for variant in variants
        for seed in seeds
    ]


def run_folders(runs: Sequence[RunOutputs]) -> list[str]:
    """The run folders of ``runs`` (what the analysis rules are given)."""
    return [str(Path(run.history).parent) for run in runs]
