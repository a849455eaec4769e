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


def structured_image(height=64, width=None):
    """Gradients, a checkerboard and a bright square: every transform moves something visible.
    Not square by default in the tests below, so that a swapped width and height shows."""
    width = width or height
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack(
        [x * 255.0 / width, y * 255.0 / height, ((x // 8 + y // 8) % 2) * 255.0], axis=-1
    ).astype(np.float32)
    image[8:20, 30:38] = [250, 30, 120]
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
    # the other ImageDataGenerator transforms, alone and in company
    {"flip_vertical": True},
    {"channel_shift_intensity": 37.5},
    {"channel_shift_intensity": -50.0, "theta": 10.0, "flip_vertical": True},
    {"brightness": 1.37},
    {"brightness": 0.61, "theta": 20.0, "flip_horizontal": True},
]
SHAPES = [(48, 64), (64, 40), (64, 64)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("params", CASES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_fixed_parameters_match_image_data_generator(params, shape):
    """Every transform, pixel by pixel: at most 0.01 grey levels from the reference."""
    image = structured_image(*shape)
    reference = ImageDataGenerator(fill_mode="nearest").apply_transform(image.copy(), params)
    ours_params = {k: tf.constant(v) for k, v in reference_parameters_to_ours(params).items()}
    ours = apply_parameters(tf.constant(image[None]), ours_params).numpy()[0]
    difference = np.abs(ours - reference)
    print(f"{params} {shape}: max |error| {difference.max():.6f}, mean {difference.mean():.6f}")
    assert difference.max() < 0.01
    if any(v not in (0, 1, False) for v in params.values()):
        assert np.abs(reference - image).mean() > 0.1, "the case must change the image"


@pytest.mark.parametrize("fill_mode", ["reflect"])
def test_other_fill_modes_match_the_reference_too(fill_mode):
    image = structured_image(48, 64)
    params = {"theta": 35.0, "tx": 9.0, "zx": 1.2, "zy": 1.2, "flip_horizontal": True}
    reference = ImageDataGenerator(fill_mode=fill_mode).apply_transform(image.copy(), params)
    ours_params = {k: tf.constant(v) for k, v in reference_parameters_to_ours(params).items()}
    ours = apply_parameters(tf.constant(image[None]), ours_params, fill_mode).numpy()[0]
    difference = ours - reference
    print(
        f"{fill_mode}: mean |error| {np.abs(difference).mean():.6f}, mean {difference.mean():+.6f}"
    )
    assert np.abs(difference).max() < 0.01


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


def test_the_other_transforms_sample_their_reference_laws():
    from scipy import stats

    settings = AugmentationSettings(
        vertical_flip=True, brightness_range=[0.6, 1.3], channel_shift_range=30.0
    )
    drawn = sample(settings)
    assert drawn["flip_vertical"].mean() == pytest.approx(0.5, abs=0.02)
    assert stats.kstest(drawn["brightness"], "uniform", args=(0.6, 0.7)).pvalue > 0.001
    assert stats.kstest(drawn["channel_shift"], "uniform", args=(-30, 60)).pvalue > 0.001
    # switching them on changes none of the six reference transforms' draws
    classic = sample(AugmentationSettings())
    for name in ("theta", "tx", "ty", "shear", "zx", "zy", "flip"):
        np.testing.assert_array_equal(drawn[name], classic[name])


def test_random_erasing_erases_one_rectangle_in_the_mean_colour_at_its_rate():
    images = tf.constant(np.stack([structured_image(40, 50)] * 400))
    settings = AugmentationSettings.from_ranges({"erasing": 0.5})  # erasing alone
    out = augment_batch(images, settings, tf.constant([5, 6], tf.int64)).numpy()
    changed = np.any(out != images.numpy(), axis=-1)  # [n, h, w] erased pixels
    erased = changed.any(axis=(1, 2))
    assert erased.mean() == pytest.approx(0.5, abs=0.07)
    fractions = changed[erased].mean(axis=(1, 2))
    assert fractions.min() >= 0.015 and fractions.max() <= 0.36
    for index in np.flatnonzero(erased)[:20]:
        rows, cols = np.nonzero(changed[index])
        box = changed[index, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all(), "one solid rectangle"
        mean = images.numpy()[index].mean(axis=(0, 1))
        np.testing.assert_allclose(out[index, rows[0], cols[0]], mean, rtol=1e-5)
