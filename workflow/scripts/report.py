"""Write results/report.md from the tables (rule report)."""

import json
import os

import pandas as pd

from augablate.analysis import noise_floor, study_power
from augablate.data import load_meta
from augablate.design import design_from_config
from augablate.figures import AUGMENTATION_GRID, FIGURES
from augablate.io import atomic_write_text
from augablate.landing import landing_page, study_record
from augablate.logs import log_to_file
from augablate.protocol import RUN_FILES
from augablate.report import build_report
from augablate.topup import report_lines

log_to_file(snakemake.log[0])
inputs, output, config = snakemake.input, snakemake.output, snakemake.params.config
report_dir = os.path.dirname(output.report)
metrics = []
for folder in snakemake.params.runs:  # every run, in the training jobs' folders (the input)
    with open(os.path.join(folder, RUN_FILES["metrics"])) as handle:
        metrics.append(json.load(handle))
titles = {name: figure.title for name, figure in FIGURES.items()}
titles[AUGMENTATION_GRID.name] = AUGMENTATION_GRID.title
figures = {
    titles[os.path.splitext(os.path.basename(path))[0]]: os.path.relpath(path, report_dir)
    for path in [*inputs.figures, inputs.grid]
}
contrasts = pd.read_csv(inputs.contrasts)
design = design_from_config(config, snakemake.params.enabled)  # None: one-at-a-time
text = build_report(
    config=config,
    meta=load_meta(os.path.dirname(inputs.meta)),
    variants=pd.read_csv(inputs.variants),
    runs=pd.read_csv(inputs.runs),
    contrasts=contrasts,
    floor=noise_floor(pd.read_csv(inputs.mcnemar)),
    power=study_power(contrasts, config["analysis"]["alpha"]),
    run_metrics=metrics,
    figures=figures,
    command=snakemake.params.command,
    config_files=snakemake.params.config_files,
    dose_response=pd.read_csv(inputs.dose_response),
    effects=pd.read_csv(inputs.effects),
    overall=pd.read_csv(inputs.overall),
    design_text=design.how if design else "",
    alias_chains=design.alias_chains() if design else (),
    convergence=pd.read_csv(inputs.convergence),
    endpoint=pd.read_csv(inputs.endpoint),
)
rounds = []
for path in inputs.rounds:  # the top-up's rounds: what each added and why, before the methods
    with open(path) as handle:
        rounds.append(json.load(handle))
if rounds:
    methods = "## How the numbers were made"
    head, _, tail = text.partition(methods)
    text = head + "\n".join(report_lines(rounds)) + "\n" + methods + tail
atomic_write_text(output.report, text)
# the first screen of snakemake --report: the answer, its main figures, what made the study
atomic_write_text(
    output.landing,
    landing_page(
        title=config["data"]["name"],
        report=text,
        figures={
            os.path.splitext(os.path.basename(path))[0]: (
                titles[os.path.splitext(os.path.basename(path))[0]],
                path,
            )
            for path in inputs.figures
        },
        config_files=snakemake.params.config_files,
        command=snakemake.params.command,
    ),
)
atomic_write_text(
    output.study,
    json.dumps(
        study_record(config, snakemake.params.config_files, snakemake.params.command), indent=1
    ),
)
