"""Every shipped config validates; bad configs fail naming the key and the allowed values."""

from pathlib import Path

import pytest
import yaml
from conftest import REPO

from augablate.settings import (
    ConfigError,
    TrainingJob,
    augmentation_settings,
    chunk_label,
    job_runs,
    job_settings,
    load_config,
    reproduce_command,
    run_params,
    seed_chunks,
    train_settings,
    training_jobs,
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
    ({"resources": {"variants_per_job": 0}}, "resources.variants_per_job", "minimum of 1"),
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
        (["snakemake", "--cores", "2"], "snakemake --cores all"),
        (
            ["snakemake", "--configfile", "config/cats_vs_dogs.yaml", "mirror.yaml", "-n"],
            "snakemake --cores all --configfile config/cats_vs_dogs.yaml mirror.yaml",
        ),
        (["snakemake", "--configfile=x.yaml"], "snakemake --cores all --configfile x.yaml"),
        (
            ["snakemake", "--configfile", "./cfg.yaml"],
            "snakemake --cores all --configfile cfg.yaml",
        ),
        (
            ["snakemake", "-j2", "--config", "variants=[none, all]", "--until", "cache"],
            "snakemake --cores all --config 'variants=[none, all]'",
        ),
        (["snakemake", "--config=a=1", "--cores=3"], "snakemake --cores all --config a=1"),
        (
            ["snakemake", "-s", "/opt/augablate/Snakefile", "-n", "--configfile", "a.yaml"],
            "snakemake --cores all -s /opt/augablate/Snakefile --configfile a.yaml",
        ),
        (
            ["snakemake", "--directory=./study", "--cores", "2", "--snakefile", "x/Snakefile"],
            "snakemake --cores all --directory study --snakefile x/Snakefile",
        ),
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
    job = TrainingJob((7, 2))  # one variant per job: the rule's {variant} wildcard
    assert job.rule_name == "train_seeds_7_2" and job.stem == "{variant}/seeds-7-2"
    outputs = job.outputs("results/runs/{variant}/seed-{seed}")
    assert outputs["history_7"] == "results/runs/{variant}/seed-7/history.csv"
    runs = job_runs({k: v.replace("{variant}", "zoom") for k, v in outputs.items()}, "zoom")
    assert [(r.variant, r.seed) for r in runs] == [("zoom", 7), ("zoom", 2)]
    assert runs[1].predictions == Path("results/runs/zoom/seed-2/predictions.csv.gz")


def test_a_job_of_several_variants_is_a_rule_of_its_own_and_finds_its_runs():
    job = TrainingJob((1, 2), ("all-minus-width_shift", "none"))
    assert job.rule_name == "train_all_minus_width_shift_to_none_seeds_1_2"
    assert job.stem == "all-minus-width_shift-to-none/seeds-1-2"
    assert TrainingJob((3,), ("zoom",)).stem == "zoom/seed-3"
    outputs = job.outputs("results/runs/{variant}/seed-{seed}")
    assert len(outputs) == 2 * 2 * 3 and "{" not in "".join(outputs.values())
    runs = job_runs(outputs)
    assert [(r.variant, r.seed) for r in runs] == [
        ("all-minus-width_shift", 1),
        ("all-minus-width_shift", 2),
        ("none", 1),
        ("none", 2),
    ]
    assert runs[0].metrics == Path("results/runs/all-minus-width_shift/seed-1/metrics.json")


@pytest.mark.parametrize(
    "variants_per_job, seeds_per_job, expected",
    [
        (1, 2, [((1, 2), None), ((3,), None)]),
        (2, 2, [((1, 2), ("a", "b")), ((3,), ("a", "b")), ((1, 2), ("c",)), ((3,), ("c",))]),
        (5, 3, [((1, 2, 3), ("a", "b", "c"))]),
    ],
)
def test_the_study_is_split_into_jobs_of_variants_and_seeds(
    variants_per_job, seeds_per_job, expected
):
    config = {
        "variants": ["a", "b", "c"],
        "train": {"seeds": [1, 2, 3]},
        "resources": {"variants_per_job": variants_per_job, "seeds_per_job": seeds_per_job},
    }
    jobs = training_jobs(config)
    assert [(job.seeds, job.variants) for job in jobs] == expected
    # every (variant, seed) exactly once (a wildcard job once per variant)
    runs = [
        run
        for job in jobs
        for variant in (["a", "b", "c"] if job.variants is None else [None])
        for run in job.runs(variant)
    ]
    assert sorted(runs) == sorted((v, s) for v in "abc" for s in (1, 2, 3))


def test_variant_names_with_punctuation_make_valid_rules_and_parse_back():
    variants = ["none", "rotation+zoom", "rotation@0.5", "all-minus-width_shift"]
    config = {
        "variants": variants,
        "train": {"seeds": [1, 12]},
        "resources": {"variants_per_job": 2, "seeds_per_job": 2},
    }
    jobs = training_jobs(config)
    assert [job.rule_name for job in jobs] == [
        "train_none_to_rotation_zoom_seeds_1_12",
        "train_rotation_0_5_to_all_minus_width_shift_seeds_1_12",
    ]
    assert all(job.rule_name.isidentifier() for job in jobs)
    runs = [run for job in jobs for run in job_runs(job.outputs("r/{variant}/seed-{seed}"))]
    assert [(r.variant, r.seed) for r in runs] == [(v, s) for v in variants for s in (1, 12)]
    assert runs[2].history == Path("r/rotation+zoom/seed-1/history.csv")


def test_groups_whose_rule_names_would_clash_are_refused():
    config = {
        "variants": ["rotation@1.0", "zoom@1.0", "rotation@1_0", "zoom@1_0"],  # 1_0 is 10
        "train": {"seeds": [1]},
        "resources": {"variants_per_job": 1, "seeds_per_job": 1},
    }
    assert len(training_jobs(config)) == 1  # one variant per job: a wildcard rule
    config["resources"]["variants_per_job"] = 2
    with pytest.raises(ConfigError, match="train_rotation_1_0_to_zoom_1_0_seed_1"):
        training_jobs(config)


def test_a_job_of_variants_with_different_training_settings_is_refused():
    config = load_config(REPO / "config" / "smoke.yaml")
    params = {variant: run_params(config, variant) for variant in ("none", "rotation")}
    augmentation, settings = job_settings(params)
    assert augmentation["rotation"].for_variant("rotation").enabled() == ["rotation"]
    assert settings.epochs == config["train"]["epochs"]
    params["rotation"]["train"] = {**params["rotation"]["train"], "epochs": 1}
    with pytest.raises(ValueError, match="share their training settings"):
        job_settings(params)
