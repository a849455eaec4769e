"""seaborn figures of the study (rule figures)."""

import pandas as pd

from augablate import figures
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
inputs, outputs = snakemake.input, snakemake.output
histories = pd.read_csv(inputs.histories)
runs = pd.read_csv(inputs.runs)
figures.learning_curves(histories, "accuracy", outputs.learning_curves_accuracy)
figures.learning_curves(histories, "loss", outputs.learning_curves_loss)
figures.final_accuracy(runs, outputs.final_accuracy)
figures.generalization_gap(runs, outputs.generalization_gap)
figures.contrast_forest(pd.read_csv(inputs.contrasts), outputs.contrasts)
