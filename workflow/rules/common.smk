import json
import os
import re
import sys

from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# The package lives in src/: make it importable here and in every job (local, conda, cluster),
# whether or not it was pip-installed.
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join([_SRC, *filter(None, [os.environ.get("PYTHONPATH")])])
)

from augablate.data.download import local_source
from augablate.data.common import DataError
from augablate.data.layout import check_links, folder_manifest
from augablate.figures import AUGMENTATION_GRID, FIGURES
from augablate.landing import LANDING, STUDY_RECORD, check_report_call
from augablate.provenance import config_files
from augablate.runlock import hold_run_lock, runs_jobs
from augablate.variants import AugmentationSettings
from augablate.design import apply_design
from augablate.jobs import (
    JOB_FOLDER,
    job_folder,
    run_folders,
    study_runs,
    training_jobs,
)
from augablate.reproduce import reproduce_command
from augablate.topup import (
    active as topup_active,
    read_rounds,
    round_file,
    study_jobs,
    topup_run_folders,
)
from augablate.settings import check_config, check_schema, gpu_resources, run_params

# The default study is config/config.yaml, found beside the workflow (not in the working
# directory), and used only when no --configfile is given: a user's config files stand on the
# schema's defaults alone, so the same files make the same study from the repository's root,
# with --directory and with -s (tests/test_config.py).
if not workflow.overwrite_configfiles:

    configfile: Path(workflow.basedir) / "config" / "config.yaml"


#: The config files that made this study, in order (later ones override earlier ones).
CONFIG_FILES = config_files(workflow.configfiles, workflow.basedir)

# One run at a time in a folder (augablate.runlock): a second one started beside it stops here
# with a one-line message instead of on the first one's half-made outputs.
if workflow.is_main_process and runs_jobs(sys.argv):
    try:
        hold_run_lock()
    except RuntimeError as error:
        raise WorkflowError(str(error)) from None

# Every error of the schema at once, each naming its config key; then Snakemake's own
# validation, which fills in the defaults; a factorial design's points as the variants; then the
# checks a schema cannot express (the variants against the registry, the image size against the
# model). All fail before any job.
check_schema(config)
validate(config, "../schemas/config.schema.yaml", set_default=True)
apply_design(config)
check_config(config)

DATASET = config["data"]["name"]
IMAGES = f"resources/data/{DATASET}/images"
ARCHIVE = f"resources/data/{DATASET}/archive.zip"
CACHE = f"resources/cache/{DATASET}-{config['data']['image_size']}-{config['data']['resize']}"
CACHE_FILES = {
    "train_images": f"{CACHE}/train-images.npy",
    "train_labels": f"{CACHE}/train-labels.npy",
    "validation_images": f"{CACHE}/validation-images.npy",
    "validation_labels": f"{CACHE}/validation-labels.npy",
    "meta": f"{CACHE}/meta.json",
}
# a factorial design's points when design.type is factorial
VARIANTS = config["variants"]
#: The transforms the study switches on (what `all` means; a factorial design's default factors).
ENABLED = AugmentationSettings.from_config(config["augmentation"]).enabled()
SEEDS = config["train"]["seeds"]
TABLES = {
    name: f"results/tables/{name}.{'csv.gz' if name == 'images' else 'csv'}"
    for name in (
        "histories",
        "images",
        "runs",
        "variants",
        "curves",
        "contrasts",
        "mcnemar",
        "dose_response",
        "convergence",
        "endpoint",
        "effects",
        "overall",
    )
}
#: The study's figures: those of the registry that apply to its variants.
STUDY_FIGURES = [
    name
    for name, figure in FIGURES.items()
    if figure.applies(VARIANTS, factorial=config["design"]["type"] == "factorial")
]
GRID = f"results/figures/{AUGMENTATION_GRID.name}.png"
#: The runs' TensorBoard event files, gathered (rule tensorboard), when evaluation.tensorboard.
TENSORBOARD = "results/tensorboard"
#: What rule all asks for besides the report.
EXTRA_TARGETS = [TENSORBOARD] if config["evaluation"]["tensorboard"] else []


#: The training jobs by name (augablate.jobs): groups of resources.variants_per_job variants
#: with groups of resources.seeds_per_job seeds; one job of rule train each.
TRAINING_JOBS = training_jobs(config)
#: Every run of the study in the config's order, each in its job's folder (what the analysis
#: reads).
RUNS = study_runs(TRAINING_JOBS, VARIANTS, SEEDS)


#: Whether the study is grown by the sequential top-up (topup.rounds above 0; workflow/rules/
#: topup.smk): its rounds add training jobs of one variant each (a factorial study's: the
#: study's groups of design points), named like the others.
TOPUP = topup_active(config)


#: A variant's name in a job's name (a top-up's jobs: a variant or a group of them).
VARIANT_PATTERN = "|".join(re.escape(v) for v in VARIANTS)


wildcard_constraints:
    job="|".join(
        [re.escape(job) for job in TRAINING_JOBS]
        + (
            [
                f"(?:{VARIANT_PATTERN})(?:-to-(?:{VARIANT_PATTERN}))?"
                "_seeds?-[0-9][-0-9to]*"
            ]
            if TOPUP
            else []
        )
    ),
    round="[0-9]+",
    figure="|".join(STUDY_FIGURES),


def archive_source(wildcards):
    """The local file data.url names (an input of the download), none for http(s) URLs."""
    source = local_source(config["data"]["url"])
    if source is None:
        return []
    if not source.is_file():
        raise WorkflowError(
            f"config key 'data.url' ({config['data']['url']!r}) names {source}, which does not "
            "exist (a relative path is relative to the working directory, --directory)"
        )
    return str(source)


def folder_source():
    """A folder source's resolved path and the fingerprint of its files (the import's params)."""
    folder = local_source(config["data"]["path"])
    if not folder.is_dir():
        raise WorkflowError(
            f"config key 'data.path' ({config['data']['path']!r}) names {folder}, which is not a "
            "folder (a relative path is relative to the working directory, --directory)"
        )
    try:
        check_links(folder)
    except DataError as error:
        raise WorkflowError(str(error)) from None
    return {"path": str(folder), "manifest": folder_manifest(folder)}


def topup_states(before=None):
    """Every round of the top-up, round 0 to the one that ended it (checkpoint topup_round), or
    the rounds before round ``before``: Snakemake runs the rounds, and their added trainings,
    as this asks for them."""
    states = []
    while (not states or not states[-1]["finished"]) and len(states) != before:
        state = checkpoints.topup_round.get(round=len(states)).output.state
        with open(state) as handle:
            states.append(json.load(handle))
    return states


def all_jobs():
    """The study's training jobs and those the top-up's rounds on disk added."""
    return study_jobs(config, read_rounds() if TOPUP else [])


def training_outputs(wildcards):
    """The output folders of every training job: the analysis' input (with a top-up, once
    its last round is decided). (Snakemake tracks a job's folder as a whole; the files of
    each run in it are the RUNS' paths.)"""
    jobs = study_jobs(config, topup_states()) if TOPUP else TRAINING_JOBS
    return [job_folder(job) for job in jobs]


def topup_round_files(wildcards):
    """The top-up's round files, round 0 to the last (none without a top-up)."""
    return [round_file(n) for n in range(len(topup_states()))] if TOPUP else []


def until_conclusive_rounds(wildcards):
    """The target until_conclusive asks for the top-up's rounds: it needs one planned."""
    if not TOPUP:
        raise WorkflowError(
            "target until_conclusive: config key 'topup.rounds' is 0 (no top-up planned); "
            "set it and a budget in a config file, e.g. topup: {rounds: 3, max_trainings: 40}"
        )
    return topup_round_files(wildcards)


def topup_round_inputs(wildcards):
    """What round n looks at: the study's training jobs and those of rounds before it, and
    the round before it (whose state it continues)."""
    n = int(wildcards.round)
    states = topup_states(before=n)
    if len(states) < n or (states and states[-1]["finished"]):
        raise WorkflowError(
            f"round {n} of the top-up: the rounds before it ended the procedure"
        )
    return {
        "training": [job_folder(job) for job in study_jobs(config, states)],
        "previous": [round_file(n - 1)] if n else [],
    }


def topup_round_runs(wildcards):
    """The run folders round n looks at (the study's and the earlier rounds' added ones)."""
    n = int(wildcards.round)
    return run_folders(RUNS) + topup_run_folders(config, read_rounds()[:n])


def all_run_folders(wildcards):
    """Every run's folder: the study's in the config's order, then the top-up's added ones."""
    return run_folders(RUNS) + (
        topup_run_folders(config, read_rounds()) if TOPUP else []
    )


def job_params(wildcards):
    """What decides a job's runs besides their seeds: run_params of each of its variants. The
    seeds are in the job's name, so a seed added as a job of its own retrains nothing done.
    """
    job = all_jobs()[wildcards.job]
    return {variant: run_params(config, variant) for variant in job.variants}


def train_runtime(wildcards):
    """Minutes: resources.train_runtime per training, times the job's trainings."""
    job = all_jobs()[wildcards.job]
    return config["resources"]["train_runtime"] * len(job.runs())


#: What a training job asks of GPUs (resources.gpu, resources.trainings_per_gpu): a whole GPU
#: (gpu=1) when trainings do not share one, and always one GPU slot (gpu_slots=1) so that
#: --resources gpu_slots=<trainings per GPU x GPUs> lets that many run at once.
GPU = gpu_resources(config["resources"])
REPRODUCE_COMMAND = reproduce_command(sys.argv)
if any(
    a == "--report" or a.startswith("--report=") for a in sys.argv
):  # the HTML report describes the study whose results it bundles
    try:
        check_report_call(STUDY_RECORD, config)
    except ValueError as error:
        raise WorkflowError(str(error)) from None
