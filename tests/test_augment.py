"""Our augmentation against the reference ImageDataGenerator (used here as the reference only)."""

import numpy as np
import pytest
import tensorflow as tf
from keras.src.legacy.preprocessing.image import ImageDataGenerator

from augablate.augment import (
    apply_parameters,
    augment_batch,
    reference_parameters_to_ours,
    sample_parameters,
)
from augablate.variants import AugmentationSettings, variant_transforms


def structured_image(size=64):
    """Gradients, a checkerboard and a bright square: every transform moves something visible."""
    y, x = np.mgrid[0:size, 0:size]
    image = np.stack(
        [x * 255.0 / size, y * 255.0 / size, ((x // 8 + y // 8) % 2) * 255.0], axis=-1
    ).astype(np.float32)
    image[8:20, 40:52] = [250, 30, 120]
    return image


CASES = [
    {"theta": 30.0},
    {"theta": -40.0},
    {"tx": 6.0},
    {"ty": -9.5},
    {"shear": 0.2},
    {"shear": 25.0},
    {"zx": 0.8, "zy": 0.8},
    {"zx": 1.2, "zy": 0.9},
    {"flip_horizontal": True},
    {"theta": 17.0, "tx": -4.0, "ty": 3.0, "shear": 12.0, "zx": 1.1, "zy": 0.85},
    {
        "theta": -33.0,
        "tx": 10.0,
        "ty": -7.0,
        "shear": 0.2,
        "zx": 0.9,
        "zy": 1.15,
        "flip_horizontal": True,
    },
]


@pytest.mark.parametrize("params", CASES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_fixed_parameters_match_image_data_generator(params):
    image = structured_image()
    reference = ImageDataGenerator(fill_mode="nearest").apply_transform(image.copy(), params)
    ours_params = {k: tf.constant(v) for k, v in reference_parameters_to_ours(params).items()}
    ours = apply_parameters(tf.constant(image[None]), ours_params).numpy()[0]
    difference = ours - reference
    mean_abs, mean = np.abs(difference).mean(), difference.mean()
    print(f"{params}: mean |error| {mean_abs:.6f} grey levels, mean error {mean:+.6f}")
    assert mean_abs < 1.0
    assert abs(mean) < 0.1
    if any(v not in (0, 1, False) for v in params.values()):
        assert np.abs(reference - image).mean() > 0.1, "the case must change the image"


@pytest.mark.parametrize("fill_mode", ["reflect"])
def test_other_fill_modes_match_the_reference_too(fill_mode):
    image = structured_image()
    params = {"theta": 35.0, "tx": 9.0, "zx": 1.2, "zy": 1.2, "flip_horizontal": True}
    reference = ImageDataGenerator(fill_mode=fill_mode).apply_transform(image.copy(), params)
    ours_params = {k: tf.constant(v) for k, v in reference_parameters_to_ours(params).items()}
    ours = apply_parameters(tf.constant(image[None]), ours_params, fill_mode).numpy()[0]
    difference = ours - reference
    print(
        f"{fill_mode}: mean |error| {np.abs(difference).mean():.6f}, mean {difference.mean():+.6f}"
    )
    assert np.abs(difference).mean() < 1.0 and abs(difference.mean()) < 0.1


def sample(settings, batch=20000, size=100, seed=(3, 4)):
    params = sample_parameters(settings, batch, size, size, tf.constant(seed, tf.int64))
    return {k: v.numpy() for k, v in params.items()}


def test_sampled_parameters_follow_the_configured_ranges():
    from scipy import stats

    settings = AugmentationSettings(
        rotation=40, width_shift=0.2, height_shift=0.1, shear=15, zoom=0.2
    )
    drawn = sample(settings)
    checks = {
        "theta": (-40, 80),
        "tx": (-20, 40),  # width_shift 0.2 of 100 pixels
        "ty": (-10, 20),  # height_shift 0.1 of 100 pixels
        "shear": (-15, 30),
        "zx": (0.8, 0.4),
        "zy": (0.8, 0.4),
    }
    for name, (low, width) in checks.items():
        values = drawn[name]
        assert values.min() >= low and values.max() <= low + width, name
        assert stats.kstest(values, "uniform", args=(low, width)).pvalue > 0.001, name
    assert np.corrcoef(drawn["zx"], drawn["zy"])[0, 1] == pytest.approx(0, abs=0.03)
    assert drawn["flip"].mean() == pytest.approx(0.5, abs=0.02)


def test_switched_off_transforms_draw_nothing_and_the_rest_draw_the_same():
    full = sample(AugmentationSettings())
    without_rotation = sample(
        AugmentationSettings().restricted_to(variant_transforms("all-minus-rotation"))
    )
    assert np.all(without_rotation["theta"] == 0)
    np.testing.assert_array_equal(full["zx"], without_rotation["zx"])
    np.testing.assert_array_equal(full["flip"], without_rotation["flip"])


def test_none_is_the_identity_and_all_changes_every_image():
    images = tf.constant(np.stack([structured_image(32)] * 8))
    seed = tf.constant([1, 2], tf.int64)
    none = AugmentationSettings().restricted_to(variant_transforms("none"))
    np.testing.assert_array_equal(augment_batch(images, none, seed).numpy(), images.numpy())
    everything = AugmentationSettings().restricted_to(variant_transforms("all"))
    out = augment_batch(images, everything, seed).numpy()
    assert all(np.abs(out[i] - images[i]).mean() > 1 for i in range(8))
    np.testing.assert_array_equal(out, augment_batch(images, everything, seed).numpy())
