"""Train the runs of one training job (its seeds of one variant or of a group of variants), one
after the other in this process (rules train_*)."""

from pathlib import Path

from augablate.logs import log_to_file
from augablate.settings import job_runs, job_settings
from augablate.train import run_trainings, skip_unused_imports

skip_unused_imports()  # this process only trains: 1.5 s less start-up
log_to_file(snakemake.log[0])
runs = job_runs(snakemake.output, snakemake.wildcards.get("variant"))  # from the outputs' names
# what decides the runs besides their seeds (augablate.settings.run_params): one variant's
# (a rule with a {variant} wildcard) or each variant's of the job's group
params = snakemake.params.get("runs") or {runs[0].variant: snakemake.params.run}
augmentation, settings = job_settings(params)
run_trainings(
    cache=Path(snakemake.input.meta).parent,
    runs=runs,
    augmentation=augmentation,
    settings=settings,
    threads=snakemake.threads,
)
