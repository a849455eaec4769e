"""The same training images under each variant (rule augmentation_grid)."""

from pathlib import Path

from augablate.figures import augmentation_grid, save
from augablate.logs import log_to_file
from augablate.preview import preview_variants

log_to_file(snakemake.log[0])
grid = snakemake.params.grid
originals, rows = preview_variants(
    Path(snakemake.input.meta).parent,
    grid["variants"],
    grid["augmentation"],
    images=grid["images"],
    draws=grid["draws"],
    seed=grid["seed"],
)
save(augmentation_grid(originals, rows, grid["draws"]), snakemake.output.grid, dpi=90)
