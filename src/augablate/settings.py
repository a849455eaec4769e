"""Turning a validated config into the package's settings, plus the checks a JSON schema cannot
express. Every error names the config key and the value that was wrong."""

from __future__ import annotations

import copy
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from augablate.design import apply_design
from augablate.model import check_image_size
from augablate.train import RunOutputs, TrainSettings
from augablate.variants import TRANSFORMS, AugmentationSettings


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key."""


def check_config(config: Mapping) -> None:
    data, train, model = config["data"], config["train"], config["model"]
    if data["source"] == "archive" and not data.get("url"):
        raise ConfigError(
            "config key 'data.url' is required when data.source is 'archive' "
            "(an http(s):// or file:// URL or a local path of the zip)"
        )
    if data["source"] == "folder" and not data.get("path"):
        raise ConfigError(
            "config key 'data.path' is required when data.source is 'folder' (the folder that "
            "holds train/<class>/ and validation/<class>/)"
        )
    try:
        check_image_size(data["image_size"], model["filters"])
    except ValueError as error:
        raise ConfigError(str(error)) from None
    settings = augmentation_settings(config)
    for variant in config["variants"]:
        try:
            settings.for_variant(variant, strict=True)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if train["epochs"] < config.get("analysis", {}).get("last_k", 1):
        raise ConfigError(
            f"config key 'analysis.last_k' ({config['analysis']['last_k']}) is larger than "
            f"train.epochs ({train['epochs']}); allowed: 1..{train['epochs']}"
        )


def run_params(config: Mapping, variant: str) -> dict:
    """Exactly what decides the result of one run besides its seed: the train rule's params.

    The protocol without the seed list, the model, the evaluation, and the ranges of the
    transforms the variant switches on (the others at their off value). Snakemake reruns a job
    whose params changed, so adding a seed or a variant, changing an ``analysis`` key or the
    range of a transform a variant does not use retrains nothing that is done. The data are
    the rule's input files: a rebuilt cache reruns every training.
    """
    active = augmentation_settings(config).for_variant(variant)
    train = {key: value for key, value in config["train"].items() if key != "seeds"}
    if train.get("learning_rate_schedule") == "constant":
        del train["learning_rate_schedule"]  # the default, as before the key: nothing reruns
    return {
        "train": train,
        "model": dict(config["model"]),
        "evaluation": dict(config["evaluation"]),
        "augmentation": active.active_ranges(),
    }


def seed_chunks(seeds: Sequence[int], per_job: int) -> list[tuple[int, ...]]:
    """The seeds each training job runs, ``per_job`` at a time in the config's order
    (``resources.seeds_per_job``). One process trains its seeds one after the other and pays
    TensorFlow's start-up and the model's compilation once. Seeds appended to the list go to
    new jobs, unless the last job had room: then its runs train again with the new seed (a
    job's outputs are made together)."""
    return [tuple(seeds[start : start + per_job]) for start in range(0, len(seeds), per_job)]


def variant_groups(variants: Sequence[str], per_job: int) -> list[tuple[str, ...]]:
    """The variants each training job runs, ``per_job`` at a time in the config's order
    (``resources.variants_per_job``): like :func:`seed_chunks`, a variant appended to the list
    goes to a new job unless the last one had room."""
    return [tuple(variants[start : start + per_job]) for start in range(0, len(variants), per_job)]


#: A run's output files by kind; among a training job's outputs each is named
#: ``<kind>_<seed>`` (one variant per job) or ``<kind>_<variant>_<seed>``.
RUN_FILES = {
    "history": "history.csv",
    "predictions": "predictions.csv.gz",
    "metrics": "metrics.json",
}


@dataclass(frozen=True)
class TrainingJob:
    """One training job: its seeds for one variant (``variants`` None: the rule has a
    ``{variant}`` wildcard, ``resources.variants_per_job`` is 1) or for a group of variants (a
    rule of its own, without wildcards). Its runs train one after the other in one process."""

    seeds: tuple[int, ...]
    variants: tuple[str, ...] | None = None

    @property
    def folder(self) -> str:
        """Its folder under ``logs/train/`` and ``benchmarks/train/``: the variant, or
        ``<first>-to-<last>`` of its group (groups hold consecutive variants of the list)."""
        if self.variants is None:
            return "{variant}"
        if len(self.variants) == 1:
            return self.variants[0]
        return f"{self.variants[0]}-to-{self.variants[-1]}"

    @property
    def stem(self) -> str:
        """Its log and benchmark file name without the suffix, under :attr:`folder`."""
        return f"{self.folder}/{chunk_label(self.seeds)}"

    @property
    def rule_name(self) -> str:
        """``train_seeds_1_2_3`` (a {variant} wildcard) or ``train_none_to_zoom_seeds_1_2_3``."""
        label = chunk_label(self.seeds)
        if self.variants is not None:
            label = f"{self.folder}_{label}"
        return "train_" + re.sub(r"\W", "_", label)

    def runs(self, variant: str | None = None) -> list[tuple[str, int]]:
        """Its (variant, seed) pairs, variant by variant (``variant`` fills the wildcard)."""
        return [(v, seed) for v in (self.variants or (variant,)) for seed in self.seeds]

    def outputs(self, run_folder: str) -> dict[str, str]:
        """Its named outputs: the files of each run, in ``run_folder`` (a path with ``{seed}``
        and ``{variant}`` placeholders; the variant left as a wildcard when the job has none)."""
        outputs = {}
        for variant, seed in self.runs("{variant}"):
            folder = run_folder.replace("{seed}", str(seed)).replace("{variant}", variant)
            key = f"{seed}" if self.variants is None else f"{variant}_{seed}"
            for kind, name in RUN_FILES.items():
                outputs[f"{kind}_{key}"] = f"{folder}/{name}"
        return outputs


def training_jobs(config: Mapping) -> list[TrainingJob]:
    """The study's training jobs (``resources.seeds_per_job`` and ``variants_per_job``): one
    per group of seeds, each for every variant through a wildcard when ``variants_per_job`` is
    1, else one per group of variants and group of seeds."""
    res = config["resources"]
    chunks = seed_chunks(config["train"]["seeds"], res["seeds_per_job"])
    if res["variants_per_job"] == 1:
        return [TrainingJob(seeds) for seeds in chunks]
    groups = variant_groups(config["variants"], res["variants_per_job"])
    jobs = [TrainingJob(seeds, group) for group in groups for seeds in chunks]
    names = [job.rule_name for job in jobs]
    if clash := sorted({name for name in names if names.count(name) > 1}):
        raise ConfigError(
            f"config key 'variants': groups of resources.variants_per_job "
            f"({res['variants_per_job']}) whose first and last variants differ only in "
            f"punctuation give two training rules the name {clash[0]}; reorder the variants or "
            "change resources.variants_per_job"
        )
    return jobs


def job_runs(outputs: Mapping[str, str], variant: str | None = None) -> list[RunOutputs]:
    """The runs of a training job (variant, seed and output paths) from its named outputs
    (:meth:`TrainingJob.outputs`); ``variant`` is the wildcard's value of a one-variant job.
    The seeds are not params, so that regrouping seeds into jobs changes no job's params (the
    variants of a group job are: its params hold each one's settings)."""
    runs = []
    for name in outputs.keys():
        if not name.startswith("history_"):
            continue
        key = name.split("_", 1)[1]
        run_variant, seed = key.rsplit("_", 1) if "_" in key else (variant, key)
        files = {kind: Path(outputs[f"{kind}_{key}"]) for kind in RUN_FILES}
        runs.append(RunOutputs(variant=run_variant, seed=int(seed), **files))
    return runs


def job_settings(params: Mapping[str, Mapping]) -> tuple[dict, TrainSettings]:
    """Each variant's augmentation and the training settings of a job from its params (variant
    -> :func:`run_params`), which differ only in the augmentation: one config made them."""
    augmentation = {
        variant: AugmentationSettings.from_ranges(run["augmentation"])
        for variant, run in params.items()
    }
    first, *others = [train_settings(run) for run in params.values()]
    if any(other != first for other in others):
        raise ValueError(f"the variants of one job must share their training settings: {params}")
    return augmentation, first


#: A job of more seeds than this is named by its first and last seed only (file names stay short).
LISTED_SEEDS = 6


def chunk_label(seeds: Sequence[int]) -> str:
    """A job's seeds in its log and benchmark file names: ``seed-1``, ``seeds-1-2-3``, or
    ``seeds-1-to-50`` for more than :data:`LISTED_SEEDS` (jobs hold consecutive seeds of the
    list, so the first one alone tells them apart)."""
    if len(seeds) == 1:
        return f"seed-{seeds[0]}"
    if len(seeds) > LISTED_SEEDS:
        return f"seeds-{seeds[0]}-to-{seeds[-1]}"
    return "seeds-" + "-".join(str(seed) for seed in seeds)


def train_settings(config: Mapping) -> TrainSettings:
    """The settings of a run from a config or from :func:`run_params` (the same keys)."""
    train, model, evaluation = config["train"], config["model"], config["evaluation"]
    return TrainSettings(
        batch_size=train["batch_size"],
        steps_per_epoch=train["steps_per_epoch"],
        epochs=train["epochs"],
        learning_rate=train["learning_rate"],
        learning_rate_schedule=train.get("learning_rate_schedule", "constant"),
        filters=list(model["filters"]),
        dense_units=model["dense_units"],
        deterministic=train["deterministic"],
        augmentation_placement=train["augmentation_placement"],
        clean_train_every=evaluation["clean_train_every"],
        clean_train_images=evaluation["clean_train_images"],
    )


def augmentation_settings(config: Mapping) -> AugmentationSettings:
    return AugmentationSettings.from_config(config["augmentation"])


REMOVED_KEYS = {
    ("train", "validation_steps"): (
        "every epoch scores the whole validation split, each image once (the reference's "
        "50 validation steps of 20 images are one pass over its 1,000 images); remove the key"
    ),
}


def check_removed_keys(config: Mapping) -> None:
    for (section, key), why in REMOVED_KEYS.items():
        if key in (config.get(section) or {}):
            raise ConfigError(f"config key '{section}.{key}' is no longer used: {why}")


SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def config_schema(schema_path: Path | str = SCHEMA) -> dict:
    """The config schema: the YAML file, with one ``augmentation`` property per transform of the
    registry (its JSON schema, default and meaning) and the resize methods the cache knows."""
    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    from augablate.data.cache import RESIZE_METHODS

    schema["properties"]["data"]["properties"]["resize"]["enum"] = list(RESIZE_METHODS)
    properties = schema["properties"]["augmentation"]["properties"]
    for transform in TRANSFORMS:
        properties[transform.name] = {
            **transform.schema,
            "default": transform.default,
            "description": transform.meaning,
        }
    return schema


def _with_defaults(validator_class):
    """A jsonschema validator that also fills in every ``default`` (the recipe of
    jsonschema's FAQ), as Snakemake's ``validate(set_default=True)`` does."""
    from jsonschema import validators

    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": properties})


def validate_config(config: dict, schema_path: Path | str = SCHEMA) -> dict:
    """Validate ``config`` against the schema, fill in the defaults, and run :func:`check_config`.

    Every violation is reported at once, each naming its config key, e.g.
    ``config key 'train.epochs': -1 is less than the minimum of 1``.
    """
    from jsonschema import Draft202012Validator

    check_removed_keys(config)
    schema = config_schema(schema_path)
    errors = sorted(
        Draft202012Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.path))
    )
    if errors:
        lines = [
            f"config key '{'.'.join(map(str, error.path)) or '(top level)'}': {error.message}"
            for error in errors
        ]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    for _ in _with_defaults(Draft202012Validator)(schema).iter_errors(config):
        pass  # filling the defaults; the config was valid
    try:
        apply_design(config)  # a factorial design chooses the variants
    except ValueError as error:
        raise ConfigError(str(error)) from None
    check_config(config)
    return config


def load_config(path: Path | str, overrides: Mapping | None = None) -> dict:
    """Load and validate a config file as the workflow does (for tests and benchmarks)."""
    from snakemake.utils import update_config

    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    if overrides:
        update_config(config, dict(overrides))
    return validate_config(config)


#: Snakemake options that decide a study's result, or where its files are, and so belong in its
#: reproduce command: the config files and overrides, the workflow (-s) and the working directory
#: (relative paths in a config are relative to it).
_CONFIG_OPTIONS = {
    "--configfile",
    "--configfiles",
    "--config",
    "-C",
    "-s",
    "--snakefile",
    "-d",
    "--directory",
}
_PATH_OPTIONS = {"--configfile", "--configfiles", "-s", "--snakefile", "-d", "--directory"}


def reproduce_command(argv: Sequence[str]) -> str:
    """The command that reproduces a study from the arguments snakemake was called with: its
    workflow (``-s``), working directory (``--directory``), config files and ``--config``
    overrides, in order. ``--cores all``: the number of cores does not change the result (each
    training's threads are ``resources.train_threads``), and other options of one call (targets,
    ``-n``, ``--until``) are not part of the study.

    Both ``--configfile a.yaml`` and ``--configfile=a.yaml`` are understood, and file paths
    are normalised (``./a.yaml`` is ``a.yaml``), so that two spellings of one study give the
    same command, and the report rule, whose params hold it, is not rerun for a spelling.
    """
    kept: list[str] = []
    option = None
    for argument in argv[1:]:
        if argument.startswith("-"):
            name, equals, value = argument.partition("=")
            option = name if name in _CONFIG_OPTIONS else None
            if option:
                kept.append(option)
                if equals:
                    kept.append(_config_value(option, value))
            if option in ("-s", "--snakefile", "-d", "--directory") and equals:
                option = None  # takes one value
        elif option:
            kept.append(_config_value(option, argument))
            if option in ("-s", "--snakefile", "-d", "--directory"):
                option = None
    return " ".join(["snakemake", "--cores", "all", *kept])


def _config_value(option: str, value: str) -> str:
    if option in _PATH_OPTIONS:
        value = os.path.normpath(value)
    return shlex.quote(value)
