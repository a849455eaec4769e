"""Write results/report.md from the tables (rule report)."""

import json
import os

import pandas as pd

from augablate.data import load_meta
from augablate.io import atomic_write_text
from augablate.logs import log_to_file
from augablate.report import build_report

log_to_file(snakemake.log[0])
inputs, output = snakemake.input, snakemake.output
report_dir = os.path.dirname(output.report)
metrics = []
for path in inputs.metrics:
    with open(path) as handle:
        metrics.append(json.load(handle))
titles = {
    "learning_curves_accuracy": "Learning curves: accuracy",
    "learning_curves_loss": "Learning curves: loss",
    "final_accuracy": "Final validation accuracy per variant",
    "contrasts": "Contrasts with 95% CIs",
    "generalization_gap": "Generalization gap",
    "augmentation_grid": "The augmentation of each variant",
}
figure_paths = list(inputs.figures) + [inputs.grid]
figures = {
    titles.get(os.path.splitext(os.path.basename(p))[0], p): os.path.relpath(p, report_dir)
    for p in figure_paths
}
text = build_report(
    config=snakemake.params.config,
    meta=load_meta(os.path.dirname(inputs.meta)),
    variants=pd.read_csv(inputs.variants),
    runs=pd.read_csv(inputs.runs),
    contrast_table=pd.read_csv(inputs.contrasts),
    run_metrics=metrics,
    figures=figures,
    command=snakemake.params.command,
)
atomic_write_text(output.report, text)
