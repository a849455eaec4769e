"""The same training images under each variant (rule augmentation_grid)."""

from pathlib import Path

from augablate.figures import augmentation_grid
from augablate.logs import log_to_file
from augablate.preview import preview_variants

log_to_file(snakemake.log[0])
params = snakemake.params
originals, rows = preview_variants(
    Path(snakemake.input.meta).parent,
    params.variants,
    params.augmentation,
    images=params.images,
    draws=params.draws,
    seed=params.seed,
)
augmentation_grid(originals, rows, snakemake.output.grid, params.draws)
