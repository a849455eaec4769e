import os
import re
import sys

from pathlib import Path

from snakemake.exceptions import WorkflowError

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
from augablate.settings import (
    reproduce_command,
    run_params,
    training_jobs,
    validate_config,
)

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

# Schema first (types, ranges, defaults), then the checks a schema cannot express; both fail
# before any job runs, naming the config key.
validate_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")

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
VARIANTS = config[
    "variants"
]  # a factorial design's points when design.type is factorial
#: The transforms the study switches on (what `all` means; a factorial design's default factors).
ENABLED = AugmentationSettings.from_config(config["augmentation"]).enabled()
SEEDS = config["train"]["seeds"]
RUN = "results/runs/{variant}/seed-{seed}"
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
    )
}
#: The study's figures: those of the registry that apply to its variants.
STUDY_FIGURES = [
    name
    for name, figure in FIGURES.items()
    if figure.applies(VARIANTS, factorial=config["design"]["type"] == "factorial")
]
GRID = f"results/figures/{AUGMENTATION_GRID.name}.png"


wildcard_constraints:
    variant="|".join(re.escape(v) for v in VARIANTS),
    seed=r"\d+",
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


def run_outputs(name):
    return expand(f"{RUN}/{name}", variant=VARIANTS, seed=SEEDS)


#: The training jobs: groups of seeds (resources.seeds_per_job), each for one variant through
#: a {variant} wildcard or for a group of variants (resources.variants_per_job).
TRAINING_JOBS = training_jobs(config)


def training_rule(job):
    """The training rule's name (train_seeds_1_2_3, train_none_to_zoom_seeds_1_2_3). Snakemake
    looks up --set-threads and --set-resources by the name of each rule; what is given for
    `train` is copied to this name first, so that it applies to every training."""
    settings = workflow.resource_settings
    for overrides in (
        settings._parsed_overwrite_threads,
        settings._parsed_overwrite_resources,
    ):
        if "train" in overrides:
            overrides.setdefault(job.rule_name, overrides["train"])
    return job.rule_name


def job_params(job):
    """What decides a job's runs besides their seeds: run_params of its variant (a wildcard)
    or of each variant of its group."""
    if job.variants is None:
        return {"run": lambda wildcards: run_params(config, wildcards.variant)}
    return {"runs": {variant: run_params(config, variant) for variant in job.variants}}


def train_resources(runs):
    res = config["resources"]
    return {
        "mem_mb": res["train_mem_mb"],
        "runtime": res["train_runtime"] * runs,
        "gpu": 1 if res["gpu"] else 0,
    }


REPRODUCE_COMMAND = reproduce_command(sys.argv)
if any(
    a == "--report" or a.startswith("--report=") for a in sys.argv
):  # the HTML report describes the study whose results it bundles
    try:
        check_report_call(STUDY_RECORD, config)
    except ValueError as error:
        raise WorkflowError(str(error)) from None
