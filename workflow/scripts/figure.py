"""Draw one figure of the registry from the tables (rule figure)."""

import os

import pandas as pd

from augablate.figures import FIGURES, save
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
figure = FIGURES[snakemake.wildcards.figure]
tables = {
    os.path.basename(path).split(".")[0]: pd.read_csv(path) for path in snakemake.input.tables
}
save(figure.draw(tables), snakemake.output.figure)
