"""Keras 3 augmentation layers as transforms (augablate.layers, augablate.layer_augment): the
config entry and its errors, every kind of variant, the layers' sampled parameters, their
per-(seed, step) determinism whatever ran before them, and soft labels for MixUp and CutMix."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO
from scipy import stats

from augablate.design import apply_design
from augablate.layer_augment import LayerStage, build_layer
from augablate.layers import LayerTransform
from augablate.pipeline import training_dataset
from augablate.settings import ConfigError, load_config, run_params
from augablate.variants import AugmentationSettings, all_variant_names, variant_kind

SMOKE = REPO / "config" / "smoke.yaml"
RANDAUGMENT = {"layer": "RandAugment", "args": {"num_ops": 2, "factor": 0.5}, "sweep": "factor"}
MIXUP = {"layer": "MixUp", "args": {"alpha": 0.4}, "sweep": "alpha"}
LAYERS = {
    "randaugment": RANDAUGMENT,
    "mixup": MIXUP,
    "cutmix": {"layer": "CutMix"},
    "erase": {"layer": "RandomErasing", "args": {"factor": 1.0}},
}


def key(step: int, seed: int = 7):
    return tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64), step)


def stage(name: str, entry: dict) -> LayerStage:
    return LayerStage([LayerTransform.from_entry(name, entry)])


# --------------------------------------------------------------------------------------------
# The config: a layer transform is a transform of every kind of variant; bad entries stop it
# --------------------------------------------------------------------------------------------


def layer_study(**overrides) -> dict:
    augmentation = {"rotation": 40, "horizontal_flip": True, **LAYERS}
    return {"augmentation": augmentation, **overrides}


def test_a_layer_transform_is_in_every_kind_of_variant():
    variants = ["none", "mixup", "randaugment@0.3", "rotation+mixup", "all", "all-minus-mixup"]
    config = load_config(SMOKE, layer_study(variants=variants))
    settings = AugmentationSettings.from_config(config["augmentation"])
    assert settings.enabled()[-4:] == ["randaugment", "mixup", "cutmix", "erase"]
    assert "all-minus-randaugment" in all_variant_names(settings)

    def layers(variant):
        params = run_params(config, variant)["augmentation"]  # what the train rule hands a run
        trained = AugmentationSettings.from_ranges(params).for_variant(variant)
        return {layer.name: layer.arguments for layer in trained.layers}

    assert layers("none") == {}
    assert layers("mixup") == {"mixup": {"alpha": 0.4}}
    assert layers("randaugment@0.3") == {"randaugment": {"num_ops": 2, "factor": 0.3}}
    assert set(layers("all")) == set(LAYERS)
    assert set(layers("all-minus-mixup")) == set(LAYERS) - {"mixup"}
    assert run_params(config, "rotation+mixup")["augmentation"] == {
        "rotation": 40,
        "fill_mode": "nearest",
        "mixup": MIXUP,
    }
    assert variant_kind("randaugment@0.3") == "strength"
    assert variant_kind("rotation+mixup") == "combination"


def test_a_sweep_sets_its_argument_and_keeps_an_integer_argument_integer():
    entry = {"layer": "RandAugment", "args": {"num_ops": 2}, "sweep": "num_ops"}
    settings = AugmentationSettings.from_config({"randaugment": entry})
    swept = settings.for_variant("randaugment@3").layers[0]
    assert swept.arguments == {"num_ops": 3} and isinstance(swept.arguments["num_ops"], int)
    assert settings.for_variant("randaugment@3").for_variant("randaugment@3") == (
        settings.for_variant("randaugment@3")
    )


def test_a_factorial_design_takes_layer_transforms_as_factors():
    config = {
        "augmentation": {"rotation": 40, "mixup": MIXUP, "randaugment": RANDAUGMENT},
        "design": {"type": "factorial", "transforms": ["randaugment", "rotation", "mixup"]},
    }
    design = apply_design(config)
    assert design.factors == ("rotation", "mixup", "randaugment")  # the study's order
    assert sorted(config["variants"]) == sorted(
        [
            "none",
            "rotation",
            "mixup",
            "randaugment",
            "rotation+mixup",
            "rotation+randaugment",
            "mixup+randaugment",
            "rotation+mixup+randaugment",
        ]
    )
    settings = AugmentationSettings.from_config(config["augmentation"])
    assert {layer.name for layer in settings.for_variant("rotation+randaugment").layers} == {
        "randaugment"
    }


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"layer": "RandAugmnt"}, "keras.layers has no layer 'RandAugmnt'"),
        ({"layer": "Dense", "args": {"units": 2}}, "not an image augmentation layer"),
        ({"layer": "RandAugment", "args": {"factor": 3}}, r"RandAugment\(factor=3\) cannot be"),
        ({"layer": "MixUp", "args": {"alfa": 1}}, "alfa"),
        ({"layer": "RandAugment", "args": {"value_range": [0, 1]}}, r"allowed: \[0, 255\]"),
        ({"layer": "MixUp", "args": {"seed": 3}}, "sets 'seed'"),
        ({"layer": "AugMix"}, "draws random numbers outside its seed generator"),
        ({"layer": "RandomCrop", "args": {"height": 8, "width": 8}}, "keep the image size"),
    ],
)
def test_a_bad_layer_entry_stops_the_config_check_naming_its_key(entry, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_config(SMOKE, {"augmentation": {"mine": entry}, "variants": ["none", "mine"]})
    assert "config key 'augmentation.mine'" in str(error.value)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"variants": ["mixup@0.5"], "augmentation": {"mixup": {"layer": "MixUp"}}}, "sweep"),
        (
            {"variants": ["randaugment@3"], "augmentation": {"randaugment": RANDAUGMENT}},
            r"factor=3.*in variant 'randaugment@3'",
        ),
        ({"augmentation": {"zoom": {"layer": "RandomZoom"}}}, "augmentation.zoom"),
        ({"augmentation": {"mixup": {"layr": "MixUp"}}}, "augmentation.mixup"),
        (
            {"train": {"augmentation_placement": "model"}, "augmentation": {"mixup": MIXUP}},
            "train.augmentation_placement",
        ),
    ],
)
def test_other_bad_uses_of_a_layer_transform_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(SMOKE, overrides)


# --------------------------------------------------------------------------------------------
# What each layer draws
# --------------------------------------------------------------------------------------------


def test_mixup_weights_follow_the_beta_distribution_of_its_alpha():
    """One-hot labels of 8 classes, one image each: an image's soft label holds its MixUp
    weight at its own class (when its partner is another image), and its pixels are the same
    mixture of the two constant images."""
    values = np.arange(8, dtype=np.float32) * 30.0
    images = tf.constant(np.broadcast_to(values[:, None, None, None], (8, 6, 6, 3)))
    labels = tf.range(8)
    mixup = stage("mixup", MIXUP)
    weights = []
    for step in range(150):
        mixed, soft = mixup(images, labels, key(step), classes=8)
        mixed, soft = mixed.numpy(), soft.numpy()
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
        expected = soft @ values  # the label's mixture of the constant images
        np.testing.assert_allclose(mixed[:, 0, 0, 0], expected, atol=1e-3)
        weights += [soft[i, i] for i in range(8) if soft[i, i] < 1.0]
    assert len(weights) > 900
    assert stats.kstest(weights, stats.beta(0.4, 0.4).cdf).pvalue > 1e-3
    assert stats.kstest(weights, stats.beta(2.0, 2.0).cdf).pvalue < 1e-6  # the test can tell


def test_cutmix_pastes_a_box_whose_area_is_the_partners_label_share():
    """Constant images, one per class: an image's pixels from its partner form one box, whose
    area is the partner's share of the soft label; the shares average one half."""
    values = np.arange(8, dtype=np.float32) * 30.0
    images = tf.constant(np.broadcast_to(values[:, None, None, None], (8, 20, 20, 3)))
    cutmix = stage("cutmix", {"layer": "CutMix"})
    shares = []
    for step in range(60):
        mixed, soft = cutmix(images, tf.range(8), key(step), classes=8)
        mixed, soft = mixed.numpy()[..., 0], soft.numpy()
        for i in range(8):
            partner = int(np.argmax(np.where(np.arange(8) == i, -1.0, soft[i])))
            if soft[i, i] == 1.0:
                continue
            pasted = mixed[i] == values[partner]
            rows, cols = np.flatnonzero(pasted.any(axis=1)), np.flatnonzero(pasted.any(axis=0))
            assert pasted.sum() == len(rows) * len(cols)  # one box
            assert np.all(mixed[i][~pasted] == values[i])
            # Keras' label share is the drawn box's area, its pixels the grid points inside it:
            # the two agree to within a row and a column of pixels
            bound = (len(rows) + len(cols) + 1) / pasted.size
            assert abs(pasted.mean() - soft[i, partner]) <= bound
            shares.append(soft[i, partner])
    # factor 1: alpha uniform in (0, 1], the box area 1 - lambda, lambda ~ Beta(alpha, alpha)
    assert len(shares) > 300 and abs(np.mean(shares) - 0.5) < 0.05


def test_random_erasing_erases_a_box_of_2_to_33_percent_of_about_half_the_images():
    """Keras' RandomErasing at factor 1 erases with a probability uniform in [0, 1] (so half the
    images), a box whose sides are sqrt(u) of the image's, u uniform in [0.02, 0.33] each."""
    images = tf.fill([16, 20, 20, 3], 200.0)
    erasing = stage("erase", {"layer": "RandomErasing", "args": {"fill_value": 0}})
    erased = []
    for step in range(40):
        out = erasing(images, None, key(step), classes=2)[0].numpy()[..., 0]
        assert set(np.unique(out)) <= {0.0, 200.0}
        erased += list((out == 0).mean(axis=(1, 2)))
    erased = np.array(erased)
    assert abs((erased > 0).mean() - 0.5) < 0.08  # 640 images: 3 standard errors is 0.06
    assert erased[erased > 0].min() >= 0.02 and erased.max() <= 0.34


def test_randaugment_draws_its_operations_uniformly_and_changes_every_image():
    layer, seeds = build_layer(LayerTransform.from_entry("ra", RANDAUGMENT))
    images = tf.constant(np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)), tf.float32)
    chosen = []
    for step in range(100):
        seeds.start(key(step))
        chosen += list(layer.get_random_transformation(images, training=True)["layer_idxes"])
    counts = np.bincount(chosen, minlength=11)
    assert len(counts) == 11 and stats.chisquare(counts).pvalue > 1e-3

    def change(factor):
        randaugment = stage("ra", {"layer": "RandAugment", "args": {"factor": factor}})
        outputs = [randaugment(images, None, key(step), classes=2)[0] for step in range(3)]
        return np.stack(
            [np.abs(out.numpy() - images.numpy()).mean(axis=(1, 2, 3)) for out in outputs]
        )

    strong, weak = change(1.0), change(0.1)
    assert (strong > 0.5).all()  # every image changed
    assert strong.mean() > weak.mean()  # the same operations (same stream), stronger


def test_random_grayscale_turns_its_factor_of_the_images_grey():
    images = tf.constant(np.random.default_rng(1).uniform(0, 255, (16, 8, 8, 3)), tf.float32)
    grayscale = stage("grey", {"layer": "RandomGrayscale", "args": {"factor": 0.3}})
    grey = []
    for step in range(40):
        out = grayscale(images, None, key(step), classes=2)[0].numpy()
        grey += list(np.abs(out - out[..., :1]).max(axis=(1, 2, 3)) < 1e-3)
    assert abs(np.mean(grey) - 0.3) < 0.07  # 640 images: 3.9 standard errors


# --------------------------------------------------------------------------------------------
# Determinism and labels in the pipeline
# --------------------------------------------------------------------------------------------

DIGITS = dict(count=48, size=12, classes=10)


def toy_cache(count, size, classes):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    return images, (np.arange(count) % classes).astype(np.int32)


def stream(variant: str, seed: int = 3, start_step: int = 0, steps: int = 4, binary=False):
    images, labels = toy_cache(**DIGITS)
    if binary:
        labels = labels % 2
    settings = AugmentationSettings.from_config(layer_study()["augmentation"])
    keras.utils.set_random_seed(seed)  # as every run starts (train.configure_tensorflow)
    dataset = training_dataset(
        images,
        labels,
        batch_size=8,
        seed=seed,
        settings=settings.for_variant(variant),
        binary=binary,
        threads=2,
        start_step=start_step,
        steps=steps,
        classes=2 if binary else DIGITS["classes"],
    )
    return [(x.numpy(), y.numpy()) for x, y in dataset]


#: A composite layer (RandAugment hands its seeds to its parts), a mixing one, the warp.
GROUPED = "rotation+randaugment+mixup"
# The stream of that variant, seed 3, in a process of its own (nothing ran before it).
ALONE = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_layer_transforms import GROUPED, stream
np.savez(sys.argv[1], *[part for batch in stream(GROUPED) for part in batch])
"""


def test_a_layer_stream_is_the_same_alone_in_a_process_after_other_runs_and_resumed(tmp_path):
    alone = tmp_path / "alone.npz"
    code = ALONE.format(tests=str(REPO / "tests"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen([sys.executable, "-c", code, str(alone)], env=env)
    # here, first another run: another seed, so that every layer has drawn before
    other = stream(GROUPED, seed=4)
    again = stream(GROUPED)
    assert process.wait(timeout=300) == 0
    with np.load(alone) as saved:
        first = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    assert all(
        np.array_equal(a, b) for a, b in zip(first, [p for b in again for p in b], strict=True)
    )
    assert not np.array_equal(other[0][0], again[0][0])  # another seed draws otherwise
    resumed = stream(GROUPED, start_step=2, steps=2)  # a run resumed at step 2
    for (x, y), (x2, y2) in zip(resumed, again[2:], strict=True):
        assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_mixing_draws_the_same_in_every_variant_that_mixes():
    """MixUp's weights and partners depend on its own stream: with or without the rotation,
    the soft labels are the same (paired variants)."""
    alone, combined = stream("mixup"), stream("rotation+mixup")
    for (_, labels), (_, labels2) in zip(alone, combined, strict=True):
        np.testing.assert_array_equal(labels, labels2)


def test_training_labels_are_soft_with_a_mixing_layer_and_hard_without():
    images, labels = toy_cache(**DIGITS)
    mixed = stream("mixup")
    assert all(y.shape == (8, 10) and y.dtype == np.float32 for _, y in mixed)
    assert any(((y > 0) & (y < 1)).any() for _, y in mixed)
    np.testing.assert_allclose(np.concatenate([y for _, y in mixed]).sum(axis=1), 1.0, atol=1e-6)
    hard = stream("randaugment")
    assert all(y.shape == (8,) and y.dtype == np.int32 for _, y in hard)
    binary = stream("cutmix", binary=True)
    assert all(y.shape == (8,) and y.dtype == np.float32 for _, y in binary)
    assert any(((y > 0) & (y < 1)).any() for _, y in binary)


def test_a_mixing_variant_is_compiled_for_soft_labels():
    from augablate.model import build_model, loss_and_accuracy
    from augablate.protocol import TrainSettings

    settings = TrainSettings(filters=[4], dense_units=4, steps_per_epoch=1)
    assert build_model(12, 10, settings).loss == "sparse_categorical_crossentropy"
    soft = build_model(12, 10, settings, soft_labels=True)
    assert soft.loss == "categorical_crossentropy"
    one_hot = (
        np.eye(10, dtype=np.float32)[[1, 2]] * 0.6 + np.eye(10, dtype=np.float32)[[3, 4]] * 0.4
    )
    soft.fit(np.zeros((2, 12, 12, 3), np.float32), one_hot, epochs=1, verbose=0)  # trains on them
    assert build_model(12, 2, settings, soft_labels=True).loss == "binary_crossentropy"
    # two classes: a 0.7 target counts as class 1 (Keras' binary accuracy never matches it)
    _, accuracy = loss_and_accuracy(2, soft_labels=True)
    accuracy.update_state(np.array([0.7, 0.3, 0.7]), np.array([0.9, 0.2, 0.4]))
    assert float(accuracy.result()) == pytest.approx(2 / 3)
    plain = keras.metrics.BinaryAccuracy()
    plain.update_state(np.array([0.7, 0.3, 0.7]), np.array([0.9, 0.2, 0.4]))
    assert float(plain.result()) == 0.0


# End to end (MobileNetV3Small with RandAugment, RandomErasing, MixUp and CutMix, as
# config/your_model.yaml ships them): tests/test_architectures.py
