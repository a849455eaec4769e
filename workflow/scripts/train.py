"""Train one (variant, seed) of the study (rule train)."""

from pathlib import Path

from augablate.logs import log_to_file
from augablate.settings import train_settings
from augablate.train import run_training, skip_unused_imports
from augablate.variants import AugmentationSettings

skip_unused_imports()  # this process only trains: 1.5 s less start-up
log_to_file(snakemake.log[0])
run = snakemake.params.run  # augablate.settings.run_params: what decides this run
run_training(
    cache=Path(snakemake.input.meta).parent,
    variant=snakemake.wildcards.variant,
    seed=int(snakemake.wildcards.seed),
    augmentation=AugmentationSettings.from_ranges(run["augmentation"]),
    settings=train_settings(run),
    history_path=snakemake.output.history,
    predictions_path=snakemake.output.predictions,
    metrics_path=snakemake.output.metrics,
    threads=snakemake.threads,
)
