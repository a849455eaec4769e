"""Every shipped config validates; bad configs fail naming the key and the allowed values."""

import pytest
import yaml
from conftest import REPO

from augablate.settings import (
    ConfigError,
    augmentation_settings,
    chunk_label,
    job_seeds,
    load_config,
    reproduce_command,
    seed_chunks,
    train_settings,
)

SHIPPED = sorted((REPO / "config").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    config = load_config(path)
    assert train_settings(config).epochs >= 1
    assert augmentation_settings(config).fill_mode == "nearest"


def test_reference_config_is_the_reference_protocol():
    config = load_config(REPO / "config" / "cats_vs_dogs.yaml")
    assert config["data"]["image_size"] == 150 and config["data"]["resize"] == "nearest"
    assert config["model"] == {"filters": [32, 64, 128, 128], "dense_units": 512}
    train = config["train"]
    assert (train["batch_size"], train["steps_per_epoch"], train["epochs"]) == (20, 100, 100)
    # the reference's 50 validation steps of 20 are one pass over its 1,000 validation images:
    # every epoch scores the whole validation split once
    assert train["learning_rate"] == 1e-4 and len(train["seeds"]) == 3
    assert augmentation_settings(config).reference_arguments() == {
        "rotation_range": 40,
        "width_shift_range": 0.2,
        "height_shift_range": 0.2,
        "shear_range": 0.2,
        "zoom_range": 0.2,
        "horizontal_flip": True,
        "fill_mode": "nearest",
        # the other ImageDataGenerator transforms, off (opt-in)
        "vertical_flip": False,
        "brightness_range": None,
        "channel_shift_range": 0.0,
    }
    assert len(config["variants"]) == 14


def test_defaults_fill_an_empty_config(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("{}\n")
    config = load_config(path, {"data": {"image_size": 150}})
    assert config["train"]["epochs"] == 100 and config["data"]["source"] == "embedded"
    assert len(config["variants"]) == 14


BAD = [
    ({"variants": ["blur"]}, "variants", "unknown augmentation variant 'blur'"),
    ({"variants": ["vertical_flip"]}, "augmentation.vertical_flip", "switches off"),
    ({"train": {"epochs": -1}}, "train.epochs", "minimum of 1"),
    ({"train": {"seeds": []}}, "train.seeds", "should be non-empty"),
    ({"train": {"seeds": [1, 1]}}, "train.seeds", "non-unique"),
    ({"train": {"batch_size": "20"}}, "train.batch_size", "not of type 'integer'"),
    ({"train": {"learning_rate": 0}}, "train.learning_rate", "less than or equal to the minimum"),
    ({"augmentation": {"blur": 1}}, "augmentation", "'blur' was unexpected"),
    ({"augmentation": {"zoom": 1.5}}, "augmentation.zoom", "1.5"),
    ({"augmentation": {"fill_mode": "mirror"}}, "augmentation.fill_mode", "'nearest', 'reflect'"),
    ({"data": {"source": "web"}}, "data.source", "'embedded', 'generated', 'archive'"),
    ({"data": {"resize": "fancy"}}, "data.resize", "'nearest', 'bilinear'"),
    ({"data": {"sha256": "abc"}}, "data.sha256", "does not match"),
    ({"data": {"image_size": 20}}, "data.image_size", "at least 22"),
    (
        {"data": {"source": "archive", "url": None}},
        "data.url",
        "required when data.source is 'archive'",
    ),
    ({"analysis": {"last_k": 50}}, "analysis.last_k", "allowed: 1..20"),
    ({"resources": {"train_threads": 0}}, "resources.train_threads", "minimum of 1"),
    ({"resources": {"seeds_per_job": 0}}, "resources.seeds_per_job", "minimum of 1"),
    ({"model": {"filters": []}}, "model.filters", "should be non-empty"),
    ({"train": {"validation_steps": 50}}, "train.validation_steps", "whole validation split"),
    ({"evaluation": {"clean_train_every": 0}}, "evaluation.clean_train_every", "minimum of 1"),
    ({"analysis": {"alpha": 0.7}}, "analysis.alpha", "0.5"),
    ({"analysis": {"equivalence_margin": 0}}, "analysis.equivalence_margin", "minimum of 0"),
]


@pytest.mark.parametrize(
    "override, key, allowed", BAD, ids=[b[1] + ":" + str(i) for i, b in enumerate(BAD)]
)
def test_bad_configs_name_the_key(tmp_path, override, key, allowed):
    with pytest.raises(ConfigError) as error:
        load_config(REPO / "config" / "config.yaml", override)
    message = str(error.value)
    assert f"'{key}'" in message, message
    assert allowed in message, message


def test_config_readme_documents_every_key():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    readme = (REPO / "config" / "README.md").read_text()
    for section, spec in schema["properties"].items():
        keys = [f"{section}.{key}" for key in spec.get("properties", {})] or [section]
        for key in keys:
            assert f"`{key}`" in readme, f"config/README.md does not document {key}"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["snakemake", "--cores", "2"], "snakemake --cores 4"),
        (
            ["snakemake", "--configfile", "config/cats_vs_dogs.yaml", "mirror.yaml", "-n"],
            "snakemake --cores 4 --configfile config/cats_vs_dogs.yaml mirror.yaml",
        ),
        (["snakemake", "--configfile=x.yaml"], "snakemake --cores 4 --configfile x.yaml"),
        (["snakemake", "--configfile", "./cfg.yaml"], "snakemake --cores 4 --configfile cfg.yaml"),
        (
            ["snakemake", "-j2", "--config", "variants=[none, all]", "--until", "cache"],
            "snakemake --cores 4 --config 'variants=[none, all]'",
        ),
        (["snakemake", "--config=a=1", "--cores=3"], "snakemake --cores 4 --config a=1"),
    ],
)
def test_reproduce_command_keeps_what_decides_the_study(argv, expected):
    assert reproduce_command(argv) == expected
    assert reproduce_command(argv) == reproduce_command([a.replace("./", "") for a in argv])


@pytest.mark.parametrize(
    "seeds, per_job, expected",
    [
        ([1, 2, 3], 3, [(1, 2, 3)]),
        ([1, 2, 3], 1, [(1,), (2,), (3,)]),
        ([1, 2, 3, 4], 3, [(1, 2, 3), (4,)]),
        ([7, 42, 5], 2, [(7, 42), (5,)]),  # in the config's order, not sorted
        ([1, 2], 5, [(1, 2)]),
    ],
)
def test_seeds_are_grouped_into_jobs_in_order(seeds, per_job, expected):
    chunks = seed_chunks(seeds, per_job)
    assert chunks == expected and [s for chunk in chunks for s in chunk] == seeds


def test_a_job_is_named_by_its_seeds_and_finds_them_in_its_outputs():
    assert chunk_label((3,)) == "seed-3" and chunk_label((1, 2, 3)) == "seeds-1-2-3"
    assert chunk_label(tuple(range(100))) == "seeds-0-to-99"  # file names stay short
    outputs = ["history_7", "predictions_7", "metrics_7", "history_2", "predictions_2"]
    assert job_seeds(outputs) == [7, 2]
