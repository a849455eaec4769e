"""Train a variant's seeds of one job, one after the other in this process (rule train_*)."""

from pathlib import Path

from augablate.logs import log_to_file
from augablate.settings import job_runs, train_settings
from augablate.train import run_trainings, skip_unused_imports
from augablate.variants import AugmentationSettings

skip_unused_imports()  # this process only trains: 1.5 s less start-up
log_to_file(snakemake.log[0])
run = snakemake.params.run  # augablate.settings.run_params: what decides the runs
run_trainings(
    cache=Path(snakemake.input.meta).parent,
    variant=snakemake.wildcards.variant,
    runs=job_runs(snakemake.output),  # its seeds, from its outputs' names
    augmentation=AugmentationSettings.from_ranges(run["augmentation"]),
    settings=train_settings(run),
    threads=snakemake.threads,
)
