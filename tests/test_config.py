"""Every shipped config validates; bad configs fail naming the key and the allowed values."""

from pathlib import Path

import pytest
import yaml
from conftest import REPO

from augablate.jobs import (
    TrainingJob,
    checkpoint_folder,
    chunks,
    run_folder,
    seed_label,
    study_runs,
    training_jobs,
)
from augablate.reproduce import reproduce_command
from augablate.settings import (
    ConfigError,
    augmentation_settings,
    job_settings,
    load_config,
    run_params,
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
    assert config["model"] == {  # the reference CNN, no other architecture's keys
        "architecture": "reference",
        "filters": [32, 64, 128, 128],
        "dense_units": 512,
        "weights": None,
        "args": {},
    }
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
    ({"augmentation": {"blur": 1}}, "augmentation.blur", "nor a Keras layer transform"),
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
    ({"analysis": {"last_k": 50}}, "analysis.last_k", "allowed: 1..40"),
    ({"resources": {"train_threads": 0}}, "resources.train_threads", "minimum of 1"),
    ({"resources": {"seeds_per_job": 0}}, "resources.seeds_per_job", "minimum of 1"),
    ({"resources": {"variants_per_job": 0}}, "resources.variants_per_job", "minimum of 1"),
    ({"model": {"filters": []}}, "model.filters", "should be non-empty"),
    ({"train": {"validation_steps": 50}}, "train.validation_steps", "whole validation split"),
    ({"evaluation": {"clean_train_every": 0}}, "evaluation.clean_train_every", "minimum of 1"),
    ({"analysis": {"alpha": 0.7}}, "analysis.alpha", "0.5"),
    ({"analysis": {"equivalence_margin": 0}}, "analysis.equivalence_margin", "minimum of 0"),
    (
        {"design": {"type": "factorial"}, "train": {"seeds": [1]}, "topup": {"rounds": 2}},
        "train.seeds",
        "allowed: 2 or more seeds, or topup.rounds 0",
    ),
]


@pytest.mark.parametrize(
    "override, key, allowed", BAD, ids=[b[1] + ":" + str(i) for i, b in enumerate(BAD)]
)
def test_bad_configs_name_the_key(tmp_path, override, key, allowed):
    with pytest.raises(ConfigError) as error:
        load_config(REPO / "config" / "one_at_a_time.yaml", override)  # the variants are its own
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
    grouped = chunks(seeds, per_job)
    assert grouped == expected and [s for chunk in grouped for s in chunk] == seeds


@pytest.mark.parametrize(
    "seeds, label",
    [
        ((3,), "seed-3"),
        ((1, 2, 3), "seeds-1-2-3"),
        ((7, 2), "seeds-7-2"),
        (tuple(range(100)), "seeds-0-to-99"),  # file names stay short
        ((*range(1, 11), 20, *range(30, 36)), "seeds-1-to-10-20-30-to-35"),
        ((1, 2, 3, 4, 6), "seeds-1-2-3-4-6"),
    ],
)
def test_a_job_names_its_seeds_exactly(seeds, label):
    assert seed_label(seeds) == label


def test_different_seed_lists_never_share_a_label():
    """The seeds are in a job's name and not in its params: two seed lists with one name would
    let a changed job pass as done."""
    lists = [(1, 2, 3, 4, 5), (1, 5), (1, 2, 4, 5), (5, 1), tuple(range(1, 51)), (1, 50)]
    lists += [(*range(1, 11), 20), (*range(1, 11), 2, 0), tuple(range(1, 21))]
    assert len({seed_label(seeds) for seeds in lists}) == len(lists)


def test_a_job_of_one_variant_is_named_by_it_and_its_seeds():
    job = TrainingJob(("zoom",), (7, 2))
    assert job.name == "zoom_seeds-7-2"
    assert job.runs() == [("zoom", 7), ("zoom", 2)]
    runs = job.outputs()
    assert [(r.variant, r.seed) for r in runs] == [("zoom", 7), ("zoom", 2)]
    assert runs[1].predictions == Path(
        "results/train/zoom_seeds-7-2/zoom/seed-2/predictions.csv.gz"
    )
    # the checkpoint outside the job's output folder, which Snakemake removes before a rerun
    assert runs[1].checkpoint == Path("results/checkpoints/zoom_seeds-7-2/zoom/seed-2")
    assert TrainingJob(("rotation+zoom",), (1,)).name == "rotation+zoom_seed-1"


def test_a_job_of_several_variants_is_named_by_its_first_and_last():
    job = TrainingJob(("all-minus-width_shift", "none"), (1, 2))
    assert job.name == "all-minus-width_shift-to-none_seeds-1-2"
    assert [(r.variant, r.seed) for r in job.outputs()] == [
        ("all-minus-width_shift", 1),
        ("all-minus-width_shift", 2),
        ("none", 1),
        ("none", 2),
    ]
    assert job.outputs()[0].metrics == Path(
        "results/train/all-minus-width_shift-to-none_seeds-1-2/all-minus-width_shift/seed-1/"
        "metrics.json"
    )
    assert run_folder(job.name, "none", 2).startswith(f"results/train/{job.name}/")
    assert checkpoint_folder(job.name, "none", 2) == f"results/checkpoints/{job.name}/none/seed-2"


@pytest.mark.parametrize(
    "variants_per_job, seeds_per_job, expected",
    [
        (
            1,
            2,
            [("a", (1, 2)), ("a", (3,)), ("b", (1, 2)), ("b", (3,)), ("c", (1, 2)), ("c", (3,))],
        ),
        (2, 2, [("ab", (1, 2)), ("ab", (3,)), ("c", (1, 2)), ("c", (3,))]),
        (5, 3, [("abc", (1, 2, 3))]),
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
    assert [("".join(job.variants), job.seeds) for job in jobs.values()] == expected
    assert all(name == job.name for name, job in jobs.items())
    # every (variant, seed) exactly once
    runs = [run for job in jobs.values() for run in job.runs()]
    assert sorted(runs) == sorted((v, s) for v in "abc" for s in (1, 2, 3))
    # the analysis reads every run in the config's order, each in its job's folder
    study = study_runs(jobs, config["variants"], config["train"]["seeds"])
    assert [(r.variant, r.seed) for r in study] == [(v, s) for v in "abc" for s in (1, 2, 3)]
    for run in study:
        job = next(name for name, job in jobs.items() if (run.variant, run.seed) in job.runs())
        assert run.history.parent == Path(run_folder(job, run.variant, run.seed))


def test_variant_names_with_punctuation_make_one_path_component_each():
    variants = ["none", "rotation+zoom", "rotation@0.5", "all-minus-width_shift", "rotation@1_0"]
    config = {
        "variants": variants,
        "train": {"seeds": [1, 12]},
        "resources": {"variants_per_job": 2, "seeds_per_job": 2},
    }
    jobs = training_jobs(config)
    assert list(jobs) == [
        "none-to-rotation+zoom_seeds-1-12",
        "rotation@0.5-to-all-minus-width_shift_seeds-1-12",
        "rotation@1_0_seeds-1-12",
    ]
    assert all("/" not in name and len(Path(name).parts) == 1 for name in jobs)
    runs = [run for job in jobs.values() for run in job.outputs()]
    assert [(r.variant, r.seed) for r in runs] == [(v, s) for v in variants for s in (1, 12)]
    assert runs[2].history == Path(
        "results/train/none-to-rotation+zoom_seeds-1-12/rotation+zoom/seed-1/history.csv"
    )


def test_two_jobs_of_one_name_are_refused(monkeypatch):
    """Names cannot clash for the variants the registry knows (no variant holds ``-to-``); the
    planner still refuses a clash, naming the config keys, rather than let two jobs share a
    folder."""
    config = {
        "variants": ["a", "b", "c"],
        "train": {"seeds": [1]},
        "resources": {"variants_per_job": 1, "seeds_per_job": 1},
    }
    assert len(training_jobs(config)) == 3
    monkeypatch.setattr(TrainingJob, "name", property(lambda job: "same"))
    with pytest.raises(ConfigError, match="'variants' and 'resources.variants_per_job'"):
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
