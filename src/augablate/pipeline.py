"""tf.data input pipelines over the decoded cache.

Training: shuffled indices (seeded: the same seed gives the same order in every variant), batched,
images gathered from the memory-mapped cache one batch at a time, augmented on the fly with
stateless random draws keyed by (seed, batch number) (:class:`augablate.layer_augment.
BatchAugmentation`: the ImageDataGenerator-faithful transforms, then the Keras layer transforms,
label-mixing ones last), prefetched. Evaluation (validation and clean training images) reads the
cache directly: :mod:`augablate.evaluate`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from augablate.augment import augmentation_key
from augablate.layer_augment import BatchAugmentation
from augablate.variants import AugmentationSettings


def _gather(images: np.ndarray, labels: np.ndarray, image_size: int, binary: bool):
    label_dtype = np.float32 if binary else np.int32

    def gather(indices: np.ndarray):
        order = np.sort(indices)  # memmap reads in file order; then undo the sort
        inverse = np.argsort(np.argsort(indices))
        batch = np.asarray(images[order])[inverse]
        return batch, labels[indices].astype(label_dtype)

    def gather_tf(indices):
        batch, batch_labels = tf.numpy_function(
            gather, [indices], [tf.uint8, tf.float32 if binary else tf.int32], stateful=False
        )
        batch.set_shape([None, image_size, image_size, 3])
        batch_labels.set_shape([None])
        return batch, batch_labels

    return gather_tf


def training_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    settings: AugmentationSettings,
    binary: bool,
    threads: int | None = None,
    augment: bool = True,
    start_step: int = 0,
    steps: int | None = None,
    classes: int | None = None,
) -> tf.data.Dataset:
    """A stream of (float32 images 0..255, labels) batches, endless unless ``steps`` is given.

    Labels are class indices (float32 for two classes, int32 for more), or soft labels when
    the settings have a label-mixing layer (MixUp, CutMix): float32 per image for two classes,
    one-hot rows of ``classes`` (required then) for more.

    ``augment=False`` leaves augmentation to the model (the GPU placement); the data order is the
    same either way. ``start_step`` starts the stream at that batch, with the same images and
    augmentation draws as a stream from 0 has there: a resumed training sees what an
    uninterrupted one would. Only the index batches before it are generated and skipped (no
    image is read): 0.2 s for the 10,000 steps of the reference study, measured on 2 cores.
    ``steps`` ends the stream after that many batches (the training's remaining steps), so that
    nothing is prepared past its end.
    """
    count, image_size = len(labels), int(images.shape[1])
    indices = tf.data.Dataset.range(count).shuffle(count, seed=seed, reshuffle_each_iteration=True)
    dataset = indices.repeat().batch(batch_size, drop_remainder=True).enumerate()
    if start_step:
        dataset = dataset.skip(start_step)
    if steps is not None:
        # its length left unknown: Keras opens a new iterator on a stream of known length once
        # it has run through it, after the training's last step (0.07 s per training here)
        dataset = dataset.take(steps).filter(lambda step, batch_indices: True)
    gather = _gather(images, labels, image_size, binary)
    augmentation = None
    if augment and not settings.is_identity:  # its layers built here, before the trace
        augmentation = BatchAugmentation(settings, 2 if binary else classes)
        if augmentation.mixes_labels and not binary and classes is None:
            raise ValueError("training_dataset: a label-mixing layer needs the number of classes")

    @tf.autograph.experimental.do_not_convert  # its only branches are on settings: 1 s less
    def load(step, batch_indices):
        batch, batch_labels = gather(batch_indices)
        batch = tf.cast(batch, tf.float32)
        if augmentation is not None:
            batch, batch_labels = augmentation(batch, batch_labels, augmentation_key(seed, step))
        return batch, batch_labels

    dataset = dataset.map(load, num_parallel_calls=threads or tf.data.AUTOTUNE, deterministic=True)
    ahead = prefetch_batches(batch_size, image_size) if threads else tf.data.AUTOTUNE
    return _with_options(dataset.prefetch(ahead), threads)


#: Memory for the batches prepared ahead of the training (float32), when its threads are given.
PREFETCH_BYTES = 32 * 2**20


def prefetch_batches(batch_size: int, image_size: int) -> int:
    """Batches prepared ahead: as many as fit :data:`PREFETCH_BYTES`, 2 to 64 (the default
    study: 64, about two epochs, prepared while the model is evaluated and checkpointed; the
    reference study's 150x150 batches: 6)."""
    batch_bytes = batch_size * image_size * image_size * 3 * 4
    return int(np.clip(PREFETCH_BYTES // batch_bytes, 2, 64))


def _with_options(dataset: tf.data.Dataset, threads: int | None) -> tf.data.Dataset:
    """Deterministic order; with ``threads``, a private pool of that many threads and fixed
    parallelism and prefetch, without tf.data's autotuning: its thread held a finished
    training's process up to 10 s while the stream was torn down (measured with four trainings
    on 2 cores), and with the parallelism fixed it has nothing to tune."""
    options = tf.data.Options()
    options.deterministic = True
    if threads:
        options.threading.private_threadpool_size = threads
        options.threading.max_intra_op_parallelism = 1
        options.autotune.enabled = False
    return dataset.with_options(options)
