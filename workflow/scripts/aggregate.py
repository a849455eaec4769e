"""Tidy tables and statistics over all runs (rule aggregate)."""

import json
import logging
import os

import pandas as pd

from augablate import analysis
from augablate.convergence import convergence_table
from augablate.design import design_from_config
from augablate.endpoint import endpoint_table
from augablate.factorial import (
    EFFECT_COLUMNS,
    OVERALL_COLUMNS,
    design_scores,
    effects_table,
    overall_table,
)
from augablate.io import atomic_write_csv
from augablate.logs import log_to_file
from augablate.protocol import RUN_FILES

log_to_file(snakemake.log[0])
outputs, params = snakemake.output, snakemake.params.analysis
histories, predictions = [], []
for folder in snakemake.params.runs:  # every run, in the training jobs' folders (the input)
    files = {kind: os.path.join(folder, name) for kind, name in RUN_FILES.items()}
    with open(files["metrics"]) as handle:
        metrics = json.load(handle)
    run = (metrics["variant"], metrics["seed"])
    histories.append((*run, pd.read_csv(files["history"])))
    predictions.append((*run, pd.read_csv(files["predictions"])))
history = analysis.tidy_histories(histories)
images = analysis.image_table(predictions, params["last_k"])
runs = analysis.run_summary(history, params["last_k"])


study = snakemake.params.design  # {"design": config["design"], "enabled": [...]}
design = design_from_config(study, study["enabled"])


def study_contrasts(table):
    return analysis.contrasts(
        table,
        alpha=params["alpha"],
        margin=params["equivalence_margin"] / 100,
        primary=design is None,  # a factorial study's verdicts are its main effects'
    )


sequential = {}
if snakemake.params.topup:  # a topped-up study: the primary verdicts are the sequential ones
    with open(snakemake.input.rounds[-1]) as handle:
        sequential = json.load(handle)["verdicts"]


def with_sequential_verdicts(table, names):
    """The primary rows' verdicts from the top-up (``names``: their questions' names); their
    fixed-sample Holm p-values did not decide them (and could contradict them): left out."""
    if not sequential:
        return table
    primary = table["primary"].astype(bool)
    table.loc[primary, "verdict"] = names[primary].map(sequential)
    table.loc[primary, ["p_holm", "p_equivalence_holm"]] = float("nan")
    return table


contrasts = study_contrasts(images)
contrasts = with_sequential_verdicts(
    contrasts, contrasts["variant"] + " vs " + contrasts["baseline"]
)
pairs = analysis.contrast_pairs(images["variant"].unique())
logging.info(
    "%d runs, %d distinct validation images, %d contrasts (%d primary)",
    len(runs),
    images["image"].nunique(),
    len(contrasts),
    int(contrasts["primary"].sum()),
)
atomic_write_csv(outputs.histories, history)
atomic_write_csv(outputs.images, images)
atomic_write_csv(outputs.runs, runs)
variants = analysis.variant_summary(runs, images)
atomic_write_csv(outputs.variants, variants)
atomic_write_csv(outputs.curves, analysis.learning_curves(history))
atomic_write_csv(outputs.contrasts, contrasts)
atomic_write_csv(outputs.mcnemar, analysis.mcnemar_table(images, pairs, params["alpha"]))
atomic_write_csv(outputs.dose_response, analysis.dose_response(variants, contrasts))
atomic_write_csv(outputs.convergence, convergence_table(history, last_k=params["last_k"]))
atomic_write_csv(
    outputs.endpoint,
    endpoint_table(predictions, int(history["epoch"].max()), study_contrasts),
)
effects = pd.DataFrame(columns=EFFECT_COLUMNS)
overall = pd.DataFrame(columns=OVERALL_COLUMNS)
if design is not None:  # a factorial study: its main effects and interactions
    scores = design_scores(images, design.variants(study["enabled"]))
    overall = overall_table(scores, design, study["enabled"])
    effects = effects_table(
        scores,
        design,
        alpha=params["alpha"],
        margin=params["equivalence_margin"] / 100,
        interactions_primary=study["design"]["interactions_primary"],
    )
    effects = with_sequential_verdicts(effects, effects["effect"])
atomic_write_csv(outputs.effects, effects)
atomic_write_csv(outputs.overall, overall)
