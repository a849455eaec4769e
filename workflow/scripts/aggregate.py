"""Tidy tables over all runs (rule aggregate)."""

import json

import pandas as pd

from augablate.analysis import contrasts, run_summary, tidy_histories, variant_summary
from augablate.io import atomic_write_csv
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
runs = []
for history_path, metrics_path in zip(
    snakemake.input.histories,
    snakemake.input.metrics,
    strict=True,
):
    with open(metrics_path) as handle:
        metrics = json.load(handle)
    runs.append((metrics["variant"], metrics["seed"], pd.read_csv(history_path)))
histories = tidy_histories(runs)
summary = run_summary(histories, snakemake.params.last_k)
atomic_write_csv(snakemake.output.histories, histories)
atomic_write_csv(snakemake.output.runs, summary)
atomic_write_csv(snakemake.output.variants, variant_summary(summary))
atomic_write_csv(snakemake.output.contrasts, contrasts(summary))
