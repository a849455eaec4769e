"""Any Keras model: a keras.applications architecture or a user's module:function instead of
the reference CNN, checked at config time with errors naming the key, compiled from the config
and the data, its initial weights a function of the seed alone."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, job_stats, read_tensorboard, run_snakemake

from augablate.architectures import APPLICATIONS, MIN_IMAGE_SIZE, min_image_size
from augablate.model import build_model
from augablate.protocol import TrainSettings
from augablate.settings import ConfigError, load_config, run_params, train_settings

FUNCTIONS = REPO / "tests" / "model_functions.py"
MOBILENET = TrainSettings(
    architecture="MobileNetV3Small", model_args={"minimalistic": True}, steps_per_epoch=2
)


def test_the_architectures_and_minimum_sizes_are_those_of_keras():
    """The config check's list (standard library: the Snakefile loads no TensorFlow) is what
    the installed Keras ships, and each minimum size is the one Keras enforces."""
    import keras
    from keras.src.applications import imagenet_utils

    shipped = sorted(
        name
        for name in dir(keras.applications)
        if name[0].isupper() and callable(getattr(keras.applications, name))
    )
    assert sorted(APPLICATIONS) == shipped

    class Asked(Exception):
        pass

    def asked(input_shape, default_size, min_size, *args, **kwargs):
        raise Asked(min_size)

    original = imagenet_utils.obtain_input_shape
    imagenet_utils.obtain_input_shape = asked  # every family but MobileNetV3 asks it
    try:
        for name in APPLICATIONS:
            try:
                getattr(keras.applications, name)(
                    include_top=False, weights=None, input_shape=(96, 96, 3)
                )
            except Asked as minimum:
                assert minimum.args[0] == min_image_size(name), name
            else:
                assert name.startswith("MobileNetV3"), name
    finally:
        imagenet_utils.obtain_input_shape = original
    with pytest.raises(ValueError, match="at least 32x32"):
        keras.applications.MobileNetV3Small(
            include_top=False, weights=None, input_shape=(31, 31, 3)
        )
    assert set(MIN_IMAGE_SIZE) <= set(APPLICATIONS)


def weights_of(seed: int, settings: TrainSettings, classes: int = 10):
    import keras

    keras.utils.set_random_seed(seed)  # as configure_tensorflow does before a run's model
    return build_model(32, classes, settings).get_weights()


def same(first, second) -> bool:
    return len(first) == len(second) and all(map(np.array_equal, first, second))


@pytest.mark.parametrize(
    "settings",
    [
        MOBILENET,
        TrainSettings(architecture="model_functions:small_cnn"),
        TrainSettings(filters=[4, 8], dense_units=8),
    ],
    ids=["MobileNetV3Small", "module:function", "reference"],
)
def test_initial_weights_depend_on_the_seed_alone(settings):
    first = weights_of(3, settings)
    assert same(first, weights_of(3, settings))  # built again after other models: the same
    assert not same(first, weights_of(4, settings))


def test_a_keras_application_takes_raw_pixels_and_gets_a_head_from_the_data():
    binary = build_model(32, 2, MOBILENET)
    assert binary.output_shape == (None, 1) and binary.loss == "binary_crossentropy"
    assert binary.layers[-1].activation.__name__ == "sigmoid"
    ten = build_model(32, 10, MOBILENET)
    assert ten.output_shape == (None, 10) and ten.loss == "sparse_categorical_crossentropy"
    assert ten.optimizer.learning_rate.numpy() == pytest.approx(MOBILENET.learning_rate)
    # MobileNetV3 rescales inside (include_preprocessing): its family's preprocess_input is the
    # identity; ResNet's (caffe: BGR, mean subtracted) is the model's first layer
    pixels = np.full((1, 32, 32, 3), 255.0, dtype=np.float32)
    assert np.array_equal(ten.layers[1](pixels), pixels)
    resnet = build_model(32, 2, TrainSettings(architecture="ResNet50"))
    assert resnet.layers[1].name == "resnet_preprocess_input"
    np.testing.assert_allclose(
        np.asarray(resnet.layers[1](pixels))[0, 0, 0], [255 - 103.939, 255 - 116.779, 255 - 123.68]
    )


def test_a_function_model_is_compiled_from_the_config_unless_it_comes_compiled(caplog):
    model = build_model(24, 10, TrainSettings(architecture="model_functions:small_cnn"))
    assert model.name == "small_cnn" and model.loss == "sparse_categorical_crossentropy"
    assert type(model.optimizer).__name__ == "RMSprop"
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-4)
    path = TrainSettings(architecture=f"{FUNCTIONS}:small_cnn", model_args={"width": 3})
    assert build_model(24, 2, path).layers[1].filters == 3  # a file path and model.args
    with caplog.at_level(logging.INFO):
        compiled = build_model(24, 10, TrainSettings(architecture="model_functions:compiled_cnn"))
    assert type(compiled.optimizer).__name__ == "Adam"
    assert compiled.optimizer.learning_rate.numpy() == pytest.approx(3e-3)
    assert "returned a compiled model: its optimizer Adam (learning rate 0.003)" in caplog.text
    assert "train.learning_rate and train.learning_rate_schedule do not apply" in caplog.text


@pytest.mark.parametrize(
    "function, message",
    [
        ("not_a_model", "returned dict, not a keras.Model"),
        ("logits_cnn", r"last layer is linear \(logits\)"),
        ("three_outputs", r"output shape \(None, 3\); the data have 10 classes"),
    ],
)
def test_a_function_that_gives_no_usable_model_is_refused_naming_the_key(function, message):
    with pytest.raises(ConfigError, match=r"'model.architecture' \('model_functions:.*" + message):
        build_model(24, 10, TrainSettings(architecture=f"model_functions:{function}"))


@pytest.fixture
def base_config(tmp_path):
    """A config file of the embedded digits at 32x32 with no model keys."""
    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump({"data": {"image_size": 32}, "train": {"epochs": 5}}))
    return path


BAD_MODELS = [
    ({"architecture": "MobileNetV9"}, "model.architecture", "not an architecture of keras"),
    ({"architecture": "no_such_module:build"}, "model.architecture", "no module 'no_such_module'"),
    ({"architecture": "model_functions:missing"}, "model.architecture", "defines no 'missing'"),
    ({"architecture": "models/mine.py:build"}, "model.architecture", "no such file"),
    ({"architecture": "model_functions:"}, "model.architecture", "'package.module:function'"),
    ({"architecture": "InceptionV3"}, "data.image_size", "at least 75"),
    (
        {"architecture": "MobileNetV3Small", "args": {"include_top": True}},
        "model.args.include_top",
        "set by the workflow",
    ),
    ({"architecture": "MobileNetV3Small", "weights": "none.h5"}, "model.weights", "no such file"),
    ({"architecture": "MobileNetV3Small", "filters": [8]}, "model.filters", "reference CNN only"),
    (
        {"architecture": "model_functions:small_cnn", "weights": "imagenet"},
        "model.weights",
        "loads its own",
    ),
    ({"weights": "imagenet"}, "model.weights", "not to the reference CNN"),
    ({"args": {"alpha": 0.5}}, "model.args", "not to the reference CNN"),
    ({"architecture": ""}, "model.architecture", "should be non-empty"),
]


@pytest.mark.parametrize("model, key, message", BAD_MODELS, ids=[str(b[0]) for b in BAD_MODELS])
def test_a_bad_model_config_names_the_key(base_config, model, key, message):
    with pytest.raises(ConfigError) as error:
        load_config(base_config, {"model": model})
    assert f"'{key}'" in str(error.value) and message in str(error.value), str(error.value)


def test_the_image_size_check_names_the_architecture(base_config):
    with pytest.raises(ConfigError, match=r"'data.image_size' is 24, too small for .*MobileNet"):
        load_config(base_config, {"data": {"image_size": 24}, "model": MOBILENET_CONFIG})


LAYER_TRANSFORMS = ("randaugment", "random_erasing", "mixup", "cutmix")  # config/your_model.yaml
MOBILENET_CONFIG = {"architecture": "MobileNetV3Small", "args": {"minimalistic": True}}


def test_a_run_s_params_hold_the_keys_of_its_model_only(base_config):
    """The reference CNN's params are those before the architecture keys (the default study
    reruns nothing); another model's hold its architecture, weights and arguments, and the
    training settings made from them build it."""
    reference = load_config(base_config, {"data": {"image_size": 64}})
    assert run_params(reference, "none")["model"] == {
        "filters": [32, 64, 128, 128],
        "dense_units": 512,
    }
    assert "tensorboard" not in run_params(reference, "none")["evaluation"]
    mobilenet = load_config(base_config, {"model": MOBILENET_CONFIG})
    params = run_params(mobilenet, "none")
    assert params["model"] == {**MOBILENET_CONFIG, "weights": None}
    settings = train_settings(params)
    assert (settings.architecture, settings.model_args) == (
        "MobileNetV3Small",
        {"minimalistic": True},
    )
    assert train_settings(reference).architecture == "reference"


@pytest.fixture(scope="module")
def mobilenet_study(tmp_path_factory):
    """The shipped example config/your_model.yaml at smoke scale: MobileNetV3Small at 32x32
    (random initial weights) with RandAugment (at a swept strength), RandomErasing, MixUp and
    CutMix layers, 1 seed of 2 epochs of 2 steps, all in one job (MobileNet compiled once for
    hard and once for soft labels), TensorBoard on, run as a user would."""
    config = yaml.safe_load((REPO / "config" / "your_model.yaml").read_text())
    config["train"].update(epochs=2, steps_per_epoch=2, seeds=[1])  # one seed: the suite's time
    config["variants"] = ["none", "randaugment@0.3", "random_erasing", "mixup", "cutmix"]
    config["analysis"]["last_k"] = 1
    config["resources"].update(variants_per_job=5, seeds_per_job=1)
    workdir = tmp_path_factory.mktemp("mobilenet")
    path = workdir / "mobilenet.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, "--cores", "2", "--configfile", str(path), timeout=1800)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return workdir, config, path


@pytest.mark.slow
def test_a_keras_application_study_runs_end_to_end(mobilenet_study):
    from augablate.protocol import RUN_FILES, TENSORBOARD
    from augablate.tensorboard_log import SCALARS

    workdir, config, path = mobilenet_study
    runs = sorted((workdir / "results" / "train").glob("*/*/seed-*"))
    assert len(runs) == 5
    histories = {}
    for run in runs:
        assert sorted(p.name for p in run.iterdir()) == sorted([*RUN_FILES.values(), TENSORBOARD])
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["train"]["architecture"] == "MobileNetV3Small"
        assert metrics["train"]["model_args"] == {"minimalistic": True}
        layers = metrics["augmentation"].get("layers", {})
        transform = run.parent.name.split("@")[0]
        assert list(layers) == ([transform] if transform in LAYER_TRANSFORMS else [])
        if run.parent.name == "randaugment@0.3":  # the swept strength reached the layer
            assert layers["randaugment"]["args"]["factor"] == 0.3
        history = pd.read_csv(run / "history.csv")
        assert history["epoch"].tolist() == [1, 2] and history["val_accuracy"].between(0, 1).all()
        # scored on hard labels, MixUp and CutMix too: each image right or wrong
        predictions = pd.read_csv(run / "predictions.csv.gz")
        assert set(predictions["correct"]) <= {0, 1}
        by_epoch = predictions.groupby("epoch")["correct"].mean().to_numpy()
        np.testing.assert_allclose(by_epoch, history["val_accuracy"].to_numpy())
        histories[f"{run.parent.name}/{run.name}"] = history
    report = (workdir / "results" / "report.md").read_text()
    assert "keras.applications MobileNetV3Small without its top" in report
    contrasts = pd.read_csv(workdir / "results" / "tables" / "contrasts.csv")
    assert {"randaugment@0.3", *LAYER_TRANSFORMS[1:]} <= set(contrasts["variant"])
    for figure in ("contrasts", "learning_curves_accuracy", "augmentation_grid"):
        assert (workdir / "results" / "figures" / f"{figure}.png").stat().st_size > 10_000
    # every run in TensorBoard: its hyper-parameters and each epoch's scalars of its history
    scalars, hparams = read_tensorboard(workdir / "results" / "tensorboard")
    assert sorted(scalars["dir_name"].unique()) == sorted(histories)
    for name, history in histories.items():
        run = scalars[scalars["dir_name"] == name]
        for tag in SCALARS:
            written = run[run["tag"] == tag].sort_values("step")
            measured = history[history[tag].notna()]  # clean training: every 2nd epoch
            assert written["step"].tolist() == measured["epoch"].tolist(), (name, tag)
            np.testing.assert_allclose(written["value"], measured[tag], rtol=1e-6)
        values = hparams[hparams["dir_name"] == name].set_index("tag")["value"]
        variant, seed = name.split("/seed-")
        assert (values["variant"], values["seed"], values["model"]) == (
            variant,
            float(seed),
            "MobileNetV3Small",
        )
        assert (values["rotation"], values["zoom"]) == (0.0, 0.0)  # no variant here uses them
    # done: nothing reruns; TensorBoard switched off changes the trainings' params: they rerun
    again = run_snakemake(workdir, "-n", "--configfile", str(path))
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout[-2000:]
    off = workdir / "off.yaml"
    off.write_text(yaml.safe_dump({"evaluation": {"tensorboard": False}}))
    dry = run_snakemake(workdir, "-n", "--configfile", str(path), str(off))
    assert job_stats(dry.stdout).get("train") == 1, dry.stdout[-2000:]
