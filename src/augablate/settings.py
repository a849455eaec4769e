"""The config: its schema (the YAML file plus the registry's transforms), its validation (the
schema's errors, each naming its key, then the checks a JSON schema cannot express), and what a
run's settings are made of (:func:`run_params`, :func:`train_settings`). Every error names the
config key and the value that was wrong. The training jobs are planned in :mod:`augablate.jobs`,
the reproduce command is made in :mod:`augablate.reproduce`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from augablate.architectures import REFERENCE, check_architecture
from augablate.design import apply_design
from augablate.model import check_image_size
from augablate.protocol import (  # ConfigError: raised here too
    FULL_VALIDATION_EPOCHS,
    ConfigError,
    TrainSettings,
)
from augablate.variants import TRANSFORMS, AugmentationSettings


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
    check_model(model, data["image_size"])
    try:
        settings = augmentation_settings(config)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    for variant in config["variants"]:
        try:
            settings.for_variant(variant, strict=True)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if settings.layers:
        check_layer_transforms(config, settings)
    if train["epochs"] < config.get("analysis", {}).get("last_k", 1):
        raise ConfigError(
            f"config key 'analysis.last_k' ({config['analysis']['last_k']}) is larger than "
            f"train.epochs ({train['epochs']}); allowed: 1..{train['epochs']}"
        )
    factorial = (config.get("design") or {}).get("type") == "factorial"
    if factorial and (config.get("topup") or {}).get("rounds", 0) and len(train["seeds"]) < 2:
        raise ConfigError(
            "config key 'train.seeds' has one seed, and a factorial study's sequential top-up "
            "(topup.rounds) starts from two: its first look needs the run part measured by "
            "seeds; allowed: 2 or more seeds, or topup.rounds 0"
        )
    last_k = config.get("analysis", {}).get("last_k", 1)
    if config["evaluation"].get("validate_every", 1) > 1 and last_k > FULL_VALIDATION_EPOCHS:
        raise ConfigError(
            f"config key 'analysis.last_k' ({last_k}) averages epochs that "
            f"evaluation.validate_every ({config['evaluation']['validate_every']}) skips: every "
            f"epoch is validated only in the last {FULL_VALIDATION_EPOCHS}; allowed: last_k at "
            f"most {FULL_VALIDATION_EPOCHS}, or validate_every 1"
        )


def check_layer_transforms(config: Mapping, settings: AugmentationSettings) -> None:
    """Build and call every Keras layer the study's variants use (each strength level too), on
    a small batch of the study's image size, so that a bad entry stops the workflow before any
    job (this imports TensorFlow: only a study with layer transforms pays for it)."""
    placement = config["train"]["augmentation_placement"]
    layer_names = [layer.name for layer in settings.layers]
    if placement != "pipeline":
        raise ConfigError(
            f"config key 'train.augmentation_placement' is {placement!r}, but the augmentation "
            f"section has Keras layer transforms ({', '.join(layer_names)}), "
            "which run in the tf.data pipeline only; allowed: pipeline"
        )
    from augablate.layer_augment import check_layer

    used: dict = {}  # every layer transform (at every strength) and the first variant using it
    for variant in config["variants"]:
        for layer in settings.for_variant(variant).layers:
            used.setdefault(layer, variant)
    for layer, variant in used.items():
        try:
            check_layer(layer, config["data"]["image_size"])
        except ValueError as error:
            raise ConfigError(f"{error} (in variant {variant!r})") from None


def check_model(model: Mapping, image_size: int) -> None:
    """The model section against the image size: the reference CNN's conv stack, or the
    architecture :mod:`augablate.architectures` checks (the keys of the other kind refused)."""
    if model["architecture"] != REFERENCE:
        check_architecture(model, image_size, model_defaults())
        return
    for key in ("weights", "args"):
        if model[key]:
            raise ConfigError(
                f"config key 'model.{key}' ({model[key]!r}) applies to keras.applications and "
                "module:function architectures only, not to the reference CNN (model.architecture "
                f"{REFERENCE!r}): remove it"
            )
    try:
        check_image_size(image_size, model["filters"])
    except ValueError as error:
        raise ConfigError(str(error)) from None


def model_defaults() -> dict:
    """The schema's default of every ``model`` key."""
    properties = config_schema()["properties"]["model"]["properties"]
    return {key: spec["default"] for key, spec in properties.items()}


def model_params(model: Mapping) -> dict:
    """The model keys that decide a run: the reference CNN's filters and dense units, or the
    architecture with its weights and arguments (the keys of the other kind do not apply). A
    default-study config gives what it gave before the architecture keys: nothing reruns."""
    if model["architecture"] == REFERENCE:
        return {"filters": model["filters"], "dense_units": model["dense_units"]}
    return {key: model[key] for key in ("architecture", "weights", "args")}


def evaluation_params(evaluation: Mapping) -> dict:
    """The evaluation keys, ``tensorboard`` only when on (a run then writes its event file:
    switching it on reruns the trainings; off, the params are those before the key)."""
    return {key: value for key, value in evaluation.items() if key != "tensorboard" or value}


def tensorboard_on(params: Mapping[str, Mapping]) -> bool:
    """Whether the runs of a job (variant -> :func:`run_params`) write TensorBoard event files."""
    return any(run["evaluation"].get("tensorboard", False) for run in params.values())


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
    evaluation = evaluation_params(config["evaluation"])
    if evaluation.get("validate_every") == 1:
        del evaluation["validate_every"]  # likewise
    return {
        "train": train,
        "model": model_params(config["model"]),
        "evaluation": evaluation,
        "augmentation": active.active_ranges(),
    }


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


def train_settings(config: Mapping) -> TrainSettings:
    """The settings of a run from a config or from :func:`run_params` (the same keys)."""
    train, model, evaluation = config["train"], config["model"], config["evaluation"]
    reference = TrainSettings()  # a non-reference model's params lack the CNN's keys
    return TrainSettings(
        batch_size=train["batch_size"],
        steps_per_epoch=train["steps_per_epoch"],
        epochs=train["epochs"],
        learning_rate=train["learning_rate"],
        learning_rate_schedule=train.get("learning_rate_schedule", "constant"),
        filters=list(model.get("filters", reference.filters)),
        dense_units=model.get("dense_units", reference.dense_units),
        architecture=model.get("architecture", REFERENCE),
        weights=model.get("weights"),
        model_args=dict(model.get("args") or {}),
        deterministic=train["deterministic"],
        augmentation_placement=train["augmentation_placement"],
        clean_train_every=evaluation["clean_train_every"],
        clean_train_images=evaluation["clean_train_images"],
        validate_every=evaluation.get("validate_every", 1),
    )


def gpu_resources(resources: Mapping) -> dict[str, int]:
    """What one training job asks of GPUs (Snakemake resources are integers, so a share of a
    GPU is a slot): with ``resources.gpu`` one ``gpu_slots``, and a whole ``gpu`` too when
    ``resources.trainings_per_gpu`` is 1; nothing without ``resources.gpu``."""
    if not resources["gpu"]:
        return {"gpu": 0, "gpu_slots": 0}
    return {"gpu": 1 if resources["trainings_per_gpu"] == 1 else 0, "gpu_slots": 1}


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
#: The lines of config.schema.yaml between which :func:`write_augmentation_schema` writes the
#: ``augmentation`` section, made from the registry (one property per transform).
BEGIN_AUGMENTATION, END_AUGMENTATION = "  # BEGIN augmentation", "  # END augmentation"


def augmentation_schema() -> dict:
    """The schema of the ``augmentation`` section from the registry: one property per transform
    (its JSON schema, default and meaning) and the fill mode."""
    properties = {
        transform.name: {
            **transform.schema,
            "default": transform.default,
            "description": transform.meaning,
        }
        for transform in TRANSFORMS
    }
    properties["fill_mode"] = {
        "type": "string",
        "enum": ["nearest", "reflect"],
        "default": "nearest",
        "description": "Fill of points outside the image (the two modes whose match with the "
        "reference is tested).",
    }
    return {
        "type": "object",
        "additionalProperties": LAYER_ENTRY_SCHEMA,
        "default": {},
        "description": "Ranges with Keras ImageDataGenerator semantics; a variant switches "
        "them on or off. One property per transform of the registry "
        "(augablate.variants.TRANSFORMS): its type, range, default and meaning. Any other "
        "key is a Keras layer transform (augablate.layers).",
        "properties": properties,
    }


#: The schema of a Keras layer transform's entry (augablate.layers.LayerTransform).
LAYER_ENTRY_SCHEMA = {
    "type": "object",
    "required": ["layer"],
    "additionalProperties": False,
    "description": "A Keras 3 augmentation layer as a transform named by this key: "
    "{layer: <name in keras.layers>, args: {...}, sweep: <argument>}. Checked by building "
    "and calling it before any job.",
    "properties": {
        "layer": {"type": "string", "description": "The layer's name in keras.layers."},
        "args": {
            "type": "object",
            "description": "Its keyword arguments (not seed: the run's seed and the batch "
            "number seed it). value_range, where the layer has it, must be [0, 255].",
        },
        "sweep": {
            "type": ["string", "null"],
            "description": "The argument a strength variant <key>@<value> sets; null: none.",
        },
    },
}


def write_augmentation_schema(path: Path | str = SCHEMA) -> None:
    """Write :func:`augmentation_schema` into the schema file, between its
    :data:`BEGIN_AUGMENTATION` and :data:`END_AUGMENTATION` lines, after a change of the
    registry: ``python -c 'from augablate.settings import write_augmentation_schema as w; w()'``.
    The file stays whole, so that Snakemake's own ``validate`` reads every key and default."""
    lines = Path(path).read_text().splitlines(keepends=True)
    begin = next(i for i, line in enumerate(lines) if line.startswith(BEGIN_AUGMENTATION))
    end = next(i for i, line in enumerate(lines) if line.startswith(END_AUGMENTATION))
    while lines[begin].startswith("  #") and not lines[begin].startswith(END_AUGMENTATION):
        begin += 1  # after the BEGIN comment
    section = yaml.safe_dump({"augmentation": augmentation_schema()}, sort_keys=False, width=96)
    block = ["  " + line if line.strip() else line for line in section.splitlines(keepends=True)]
    Path(path).write_text("".join(lines[:begin] + block + lines[end:]))


def config_schema(schema_path: Path | str = SCHEMA) -> dict:
    """The config schema (the YAML file)."""
    with open(schema_path) as handle:
        return yaml.safe_load(handle)


def check_schema(config: Mapping, schema_path: Path | str = SCHEMA) -> None:
    """Raise ConfigError listing every violation of the schema, each naming its config key,
    e.g. ``config key 'train.epochs': -1 is less than the minimum of 1`` (and the keys no
    longer used, saying why). Snakemake's own ``validate`` then fills in the defaults; it
    reports only the first error, without the key's dotted name."""
    from jsonschema import Draft202012Validator

    check_removed_keys(config)
    errors = sorted(
        Draft202012Validator(config_schema(schema_path)).iter_errors(config),
        key=lambda e: list(map(str, e.path)),
    )
    if errors:
        lines = [
            f"config key '{'.'.join(map(str, error.path)) or '(top level)'}': {error.message}"
            + _hint(error)
            for error in errors
        ]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))


def _hint(error) -> str:
    """What a wrong key of the augmentation section may have meant: its other keys are layer
    transforms, whose schema's messages alone would not say that the key is unknown."""
    path = list(error.path)
    if len(path) == 2 and path[0] == "augmentation" and error.validator == "type":
        known = [transform.name for transform in TRANSFORMS] + ["fill_mode"]
        if path[1] not in known:
            return (
                f" (neither a transform of the registry, {', '.join(known)}, nor a Keras "
                "layer transform {layer: <name>, args: {...}})"
            )
    return ""


def validate_config(config: dict, schema_path: Path | str = SCHEMA) -> dict:
    """Validate ``config`` as the workflow does (workflow/rules/common.smk): the schema's
    errors with their keys (:func:`check_schema`), the defaults filled in by Snakemake's
    ``validate(set_default=True)``, then :func:`check_config`."""
    from snakemake.utils import validate

    check_schema(config, schema_path)
    validate(config, str(schema_path), set_default=True)
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
