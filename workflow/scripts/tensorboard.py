"""Gather every run's TensorBoard event file into results/tensorboard/<variant>/seed-<seed>/
(rule tensorboard, with evaluation.tensorboard)."""

import logging

from augablate.logs import log_to_file
from augablate.tensorboard_log import gather

log_to_file(snakemake.log[0])
gather(snakemake.params.runs, snakemake.output.events)
logging.getLogger(__name__).info(
    "%d runs' event files in %s", len(snakemake.params.runs), snakemake.output.events
)
