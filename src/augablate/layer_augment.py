"""Keras 3 augmentation layers in the tf.data pipeline, seeded per (seed, step).

A training batch is augmented in this order (:class:`BatchAugmentation`): the
ImageDataGenerator-faithful transforms of :mod:`augablate.augment` (the one warp, then its pixel
stages), then the layer transforms (:mod:`augablate.layers`) in registry order (the config's),
then the layers that mix labels (MixUp, CutMix) last, so that what they mix is the batch as
the other transforms made it.

**Seeding.** A Keras random layer draws every random number through its seed generator
(``layer.generator``; a composite layer such as RandAugment hands its own to its parts), a
variable that advances with every draw: its draws would depend on how many batches the layer
has seen, in this process, in whatever order tf.data's parallel calls ran. Here every layer
(and every layer inside it) is given a :class:`StepSeeds` instead, once, when it is built: a
seed generator without state, whose k-th draw in a batch is ``fold_in(key, k)``, ``key`` being
the batch's :func:`augablate.augment.augmentation_key` folded with the transform's own stream.
The draws of batch ``step`` are then a function of (seed, step, transform) alone, as the
built-in transforms' are: the same in a run alone in its process or after others, resumed or
not. :func:`check_layer` refuses a layer that draws otherwise (AugMix picks its chains with
Python's ``random``): it is called twice with the same key and must give the same batch.

**Labels.** When a variant has a label-mixing layer, the batch's labels become soft: one-hot
rows (several classes) or a float column (two classes, the sigmoid's target), mixed as the
images are; without one they stay hard class indices. The evaluations (validation, clean
training sample) never see this pipeline: they score hard labels.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from augablate.augment import augment_batch
from augablate.layers import LayerTransform
from augablate.variants import AugmentationSettings

#: The pixel range the pipeline hands the layers (the model rescales by 1/255 inside it).
VALUE_RANGE = (0, 255)


class StepSeeds(keras.random.SeedGenerator):
    """A seed generator without state for the draws of one batch: the k-th draw, in the
    order the layer's code draws, gets ``fold_in(key, k)``. :meth:`start` sets the batch's key
    (a tensor) when the pipeline traces its function, once; nothing is saved or advanced."""

    def __init__(self):  # no variable: nothing of it is a layer's state
        self.key = None
        self.draws = 0

    def start(self, key) -> None:
        self.key, self.draws = tf.cast(key, tf.int64), 0

    def next(self, ordered=True):
        if self.key is None:
            raise RuntimeError("StepSeeds.start(key) must be called before the layer draws")
        seed = tf.random.experimental.stateless_fold_in(self.key, self.draws)
        self.draws += 1
        return seed


def _layers_within(layer) -> list:
    """The layer and every layer among its attributes, recursively (RandAugment's parts)."""
    found = [layer]
    for value in vars(layer).values():
        if isinstance(value, keras.layers.Layer) and value not in found:
            found += [inner for inner in _layers_within(value) if inner not in found]
    return found


def layer_class(transform: LayerTransform):
    """The class ``keras.layers.<transform.layer>``: an image preprocessing layer, or a
    ValueError naming the config key."""
    cls = getattr(keras.layers, transform.layer, None)
    key = f"config key 'augmentation.{transform.name}'"
    if not (inspect.isclass(cls) and issubclass(cls, keras.layers.Layer)):
        raise ValueError(f"{key}: keras.layers has no layer {transform.layer!r}")
    if not all(
        hasattr(cls, method) for method in ("get_random_transformation", "transform_images")
    ):
        raise ValueError(
            f"{key}: keras.layers.{transform.layer} is not an image augmentation layer "
            "(one with get_random_transformation and transform_images, as RandAugment, MixUp, "
            "CutMix, RandomErasing)"
        )
    return cls


def build_layer(transform: LayerTransform) -> tuple[keras.layers.Layer, StepSeeds]:
    """The layer of ``transform``, every seed generator in it replaced by one
    :class:`StepSeeds` (returned with it). ValueError naming the config key when the layer
    or its arguments are wrong."""
    cls = layer_class(transform)
    key = f"config key 'augmentation.{transform.name}'"
    arguments = transform.arguments
    value_range = arguments.get("value_range")
    if value_range is None:
        default = inspect.signature(cls.__init__).parameters.get("value_range")
        value_range = None if default is None else default.default
    if value_range is not None and list(value_range) != list(VALUE_RANGE):
        raise ValueError(
            f"{key}: value_range is {list(value_range)}, but the pipeline hands the layers "
            f"pixels in {list(VALUE_RANGE)} (the model rescales them by 1/255 inside); "
            f"allowed: {list(VALUE_RANGE)}"
        )
    try:
        layer = cls(**arguments)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{key}: {transform.describe()} cannot be made: {type(error).__name__}: {error}"
        ) from None
    seeds = StepSeeds()
    for inner in _layers_within(layer):
        if hasattr(inner, "generator"):
            # object.__setattr__: not tracked as state of the layer (it has none to save)
            object.__setattr__(inner, "generator", seeds)
    return layer, seeds


def check_layer(transform: LayerTransform, image_size: int) -> None:
    """Build ``transform``'s layer and call it twice with the same key on a small batch of
    ``image_size`` images (with labels when it mixes them); ValueError naming the config key
    when it cannot be made, fails, changes the batch's shape, or draws differently from the
    same key (randomness outside its seed generator: not reproducible per step)."""
    key = f"config key 'augmentation.{transform.name}'"
    images = tf.constant(
        np.random.default_rng(0).uniform(0, 255, (4, image_size, image_size, 3)), tf.float32
    )
    labels = tf.constant([0, 1, 0, 1], tf.int32)
    stage = LayerStage([transform])
    try:
        outputs = [stage(images, labels, tf.constant([1, 2], tf.int64), classes=2)[0]]
        outputs.append(stage(images, labels, tf.constant([1, 2], tf.int64), classes=2)[0])
    except Exception as error:  # whatever the layer raises, said with the config key
        raise ValueError(
            f"{key}: {transform.describe()} fails on a batch of {image_size}x{image_size} "
            f"images: {type(error).__name__}: {error}"
        ) from None
    if tuple(outputs[0].shape) != tuple(images.shape):
        raise ValueError(
            f"{key}: {transform.describe()} turns a batch of shape {tuple(images.shape)} into "
            f"{tuple(outputs[0].shape)}; a transform must keep the image size"
        )
    if not np.array_equal(outputs[0].numpy(), outputs[1].numpy()):
        raise ValueError(
            f"{key}: {transform.describe()} draws random numbers outside its seed generator "
            "(the same seed and batch number gave different batches): its augmentation could "
            "not be reproduced, so it cannot be a transform of the study"
        )


def ordered(transforms: Sequence[LayerTransform]) -> list[LayerTransform]:
    """Registry order, the label-mixing layers last."""
    return [t for t in transforms if not t.mixes_labels] + [t for t in transforms if t.mixes_labels]


class LayerStage:
    """The layer transforms of one variant, built once (before the pipeline traces them)."""

    def __init__(self, transforms: Sequence[LayerTransform]):
        self.transforms = ordered(transforms)
        self.layers = [build_layer(transform) for transform in self.transforms]
        self.mixes_labels = any(transform.mixes_labels for transform in self.transforms)

    def __call__(self, images, labels, key, classes: int):
        """Apply the layers to a float32 batch (0..255) with stateless draws from ``key`` (a
        shape-[2] int tensor). ``labels`` are class indices; when a layer mixes them, they are
        returned soft (one-hot rows, or floats for two classes), else as given. ``labels``
        None: the images alone (the preview), mixed without labels."""
        soft = None
        if self.mixes_labels and labels is not None:
            if classes == 2:
                soft = tf.reshape(tf.cast(labels, tf.float32), [-1, 1])
            else:
                soft = tf.one_hot(tf.cast(labels, tf.int32), classes, dtype=tf.float32)
        for transform, (layer, seeds) in zip(self.transforms, self.layers, strict=True):
            seeds.start(tf.random.experimental.stateless_fold_in(key, transform.stream))
            if transform.mixes_labels and soft is not None:
                mixed = layer({"images": images, "labels": soft}, training=True)
                images, soft = mixed["images"], mixed["labels"]
            else:
                images = layer(images, training=True)
        images = tf.cast(images, tf.float32)
        if soft is None:
            return images, labels
        return images, tf.reshape(soft, [-1]) if classes == 2 else soft


class BatchAugmentation:
    """The whole augmentation of a training batch under ``settings`` (see the module's
    docstring for the order); ``classes``: the number of classes (the soft labels' width)."""

    def __init__(self, settings: AugmentationSettings, classes: int):
        self.settings, self.classes = settings, classes
        self.layers = LayerStage(settings.layers) if settings.layers else None

    @property
    def mixes_labels(self) -> bool:
        return self.layers is not None and self.layers.mixes_labels

    def __call__(self, images, labels, key):
        images = augment_batch(images, self.settings, key)
        if self.layers is None:
            return images, labels
        return self.layers(images, labels, key, self.classes)
