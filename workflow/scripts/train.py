"""Train the runs of one training job (rule train): its seeds of its variants, one after the
other in this process, into results/train/<job>/<variant>/seed-<seed>/."""

from pathlib import Path

from augablate.startup import prepare_training_process

prepare_training_process()  # before TensorFlow loads: 1.5 s less start-up

# the rest after the start-up preparation, on purpose (E402)
from augablate.jobs import job_folder  # noqa: E402
from augablate.logs import log_to_file  # noqa: E402
from augablate.runner import run_job  # noqa: E402 (imports TensorFlow)
from augablate.settings import job_settings, tensorboard_on  # noqa: E402
from augablate.topup import read_rounds, study_jobs  # noqa: E402

log_to_file(snakemake.log[0])
# the job's runs from the job table of the (validated) config and of the top-up's rounds: its
# name says its seeds, the params hold each of its variants' settings
job = study_jobs(snakemake.config, read_rounds())[snakemake.wildcards.job]
params = snakemake.params.runs
if list(params) != list(job.variants) or snakemake.output.runs != job_folder(job.name):
    raise ValueError(f"job {job.name}: params for {list(params)}, output {snakemake.output.runs}")
augmentation, settings = job_settings(params)
run_job(
    cache=Path(snakemake.input.meta).parent,
    runs=job.outputs(),
    augmentation=augmentation,
    settings=settings,
    threads=snakemake.threads,
    checkpoint_every=snakemake.config["resources"]["checkpoint_every_seconds"],
    tensorboard=tensorboard_on(params),
)
