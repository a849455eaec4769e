"""The tf.data pipeline: paired data order across variants, determinism per seed, and the
in-model placement of augmentation with the same semantics."""

import numpy as np
import tensorflow as tf

from augablate.augment import AugmentationLayer, augment_batch, augmentation_key
from augablate.pipeline import prefetch_batches, training_dataset
from augablate.variants import AugmentationSettings, variant_transforms


def toy_cache(count=30, size=16):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    labels = (np.arange(count) % 3).astype(np.int32)
    return images, labels


def batches(dataset, n):
    return [(x.numpy(), y.numpy()) for x, y in dataset.take(n)]


def settings_for(variant):
    return AugmentationSettings().restricted_to(variant_transforms(variant))


def test_same_seed_same_order_in_every_variant_and_other_seed_differs():
    images, labels = toy_cache()
    kwargs = dict(batch_size=8, binary=False, threads=1)
    none = batches(
        training_dataset(images, labels, seed=5, settings=settings_for("none"), **kwargs), 8
    )
    everything = batches(
        training_dataset(images, labels, seed=5, settings=settings_for("all"), **kwargs), 8
    )
    other = batches(
        training_dataset(images, labels, seed=6, settings=settings_for("none"), **kwargs), 8
    )
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(none, everything, strict=True))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(none, other, strict=True))
    # `none` hands over the cached pixels unchanged, `all` changes them
    assert all(
        np.isin(x.reshape(len(x), -1)[:, :5], images.reshape(30, -1)[:, :5]).all() for x, _ in none
    )
    assert not np.array_equal(none[0][0], everything[0][0])


def test_the_training_stream_is_deterministic_per_seed():
    images, labels = toy_cache()

    def make():
        return training_dataset(
            images,
            labels,
            batch_size=8,
            seed=3,
            settings=settings_for("all"),
            binary=False,
            threads=2,
        )

    first, second = batches(make(), 6), batches(make(), 6)
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_every_epoch_visits_every_training_image_once():
    images, labels = toy_cache(count=24)
    dataset = training_dataset(
        images, labels, batch_size=8, seed=1, settings=settings_for("none"), binary=False, threads=1
    )
    seen = np.concatenate([x for x, _ in batches(dataset, 3)])
    firsts = {tuple(img[0, 0]) for img in seen.astype(np.uint8)}
    assert len(firsts) == len({tuple(img[0, 0]) for img in images})


def test_in_model_placement_has_the_same_semantics():
    images = tf.constant(toy_cache(count=6)[0], tf.float32)
    settings = settings_for("all")
    layer = AugmentationLayer(settings, seed=9)
    np.testing.assert_array_equal(layer(images, training=False).numpy(), images.numpy())
    trained = layer(images, training=True).numpy()
    # the layer's batch 0 draws what the pipeline's batch 0 draws: one key for both placements
    np.testing.assert_allclose(
        trained, augment_batch(images, settings, augmentation_key(9, 0)).numpy(), atol=1e-4
    )
    second = layer(images, training=True).numpy()
    assert not np.allclose(second, trained), "a new draw per call"
    np.testing.assert_allclose(
        second, augment_batch(images, settings, augmentation_key(9, 1)).numpy(), atol=1e-4
    )


def test_the_pipeline_augments_batch_k_with_the_key_of_step_k():
    images, labels = toy_cache(count=16)
    settings = settings_for("all")
    plain = batches(
        training_dataset(
            images,
            labels,
            batch_size=8,
            seed=4,
            settings=settings,
            binary=False,
            threads=1,
            augment=False,
        ),
        3,
    )
    augmented = batches(
        training_dataset(
            images, labels, batch_size=8, seed=4, settings=settings, binary=False, threads=1
        ),
        3,
    )
    for step, ((x, _), (y, _)) in enumerate(zip(plain, augmented, strict=True)):
        expected = augment_batch(tf.constant(x), settings, augmentation_key(4, step)).numpy()
        np.testing.assert_allclose(y, expected, atol=1e-4)


def test_a_stream_of_given_steps_is_the_start_of_the_endless_one():
    images, labels = toy_cache(count=24)
    kwargs = dict(batch_size=8, seed=4, settings=settings_for("all"), binary=False, threads=1)
    endless = batches(training_dataset(images, labels, **kwargs), 7)
    ended = [(x.numpy(), y.numpy()) for x, y in training_dataset(images, labels, steps=5, **kwargs)]
    assert len(ended) == 5
    resumed = [
        (x.numpy(), y.numpy())
        for x, y in training_dataset(images, labels, start_step=5, steps=2, **kwargs)
    ]
    for (x1, y1), (x2, y2) in zip(endless, ended + resumed, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_a_training_stream_has_fixed_parallelism_and_no_autotuning():
    images, labels = toy_cache()
    kwargs = dict(batch_size=8, seed=1, settings=settings_for("all"), binary=False)
    options = training_dataset(images, labels, threads=2, **kwargs).options()
    assert options.autotune.enabled is False and options.threading.private_threadpool_size == 2
    assert (
        training_dataset(images, labels, threads=None, **kwargs).options().autotune.enabled
        is not False
    )
    assert prefetch_batches(20, 32) == 64 and prefetch_batches(20, 150) == 6
    assert prefetch_batches(512, 512) == 2
