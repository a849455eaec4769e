# augablate: which image augmentations help this CNN, and by how much?
# Stages: data.smk (get, verify, extract, decode once), train.smk (rule train: one job per group of
# variants and group of seeds, into results/train/<job>/<variant>/seed-<seed>/), analysis.smk
# (tables, statistics, figures, report). Configuration: config/README.md.
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/topup.smk"


# snakemake --report opens on the study's answer once the report rule has written it
# (augablate.landing), before that on the workflow's description
report: os.path.abspath(LANDING) if os.path.exists(LANDING) else "workflow/report/workflow.rst"


# On a cluster (profiles/slurm) only the trainings are submitted as jobs: the other rules are
# light and run where snakemake runs (a download also needs the internet compute nodes may lack).
localrules:
    cache,
    aggregate,
    figure,
    augmentation_grid,
    report,
    topup_round,
    until_conclusive,
    tensorboard,


if config["data"]["source"] == "archive":

    localrules:
        download,
        extract,

elif config["data"]["source"] == "folder":

    localrules:
        import_folder,

else:

    localrules:
        export_embedded,


rule all:
    default_target: True
    input:
        "results/report.md",
        EXTRA_TARGETS,
