"""Train one (variant, seed) of the study (rule train)."""

from pathlib import Path

from augablate.logs import log_to_file
from augablate.settings import augmentation_settings, train_settings
from augablate.train import run_training

log_to_file(snakemake.log[0])
config = snakemake.params.config
run_training(
    cache=Path(snakemake.input.meta).parent,
    variant=snakemake.wildcards.variant,
    seed=int(snakemake.wildcards.seed),
    augmentation=augmentation_settings(config),
    settings=train_settings(config),
    history_path=snakemake.output.history,
    metrics_path=snakemake.output.metrics,
    threads=snakemake.threads,
    last_k=config["analysis"]["last_k"],
)
