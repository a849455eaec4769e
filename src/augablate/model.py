"""The reference CNN of the study, readable top to bottom, and the compilation every model of
a run shares.

Conv2D(3x3, ReLU) + MaxPool(2) blocks (reference filters 32, 64, 128, 128), Flatten,
Dense(512, ReLU), and a sigmoid output for two classes (softmax for more). Pixels are scaled by
1/255 inside the model, so the input pipeline hands over raw 0..255 values. Other models
(``model.architecture``: a ``keras.applications`` name or a ``module:function``) are built by
:mod:`augablate.architectures` and compiled here the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from augablate.architectures import REFERENCE
from augablate.protocol import TrainSettings

REFERENCE_FILTERS = (32, 64, 128, 128)

log = logging.getLogger(__name__)


def min_image_size(blocks: int) -> int:
    """Smallest square input for ``blocks`` valid 3x3 conv + 2x2 pool blocks (4 blocks: 46)."""
    size = 1
    for _ in range(blocks):
        size = 2 * size + 2
    return size


def check_image_size(image_size: int, filters: Sequence[int]) -> None:
    """Raise naming both keys when the image is too small for the conv stack (the config check
    and the model builder both call this)."""
    needed = min_image_size(len(filters))
    if image_size < needed:
        raise ValueError(
            f"config key 'data.image_size' is {image_size}, too small for {len(filters)} conv "
            f"blocks (model.filters {list(filters)}); allowed: at least {needed}, or fewer blocks"
        )


def build_model(
    image_size: int,
    num_classes: int,
    settings: TrainSettings | None = None,
    augmentation_layer=None,
    soft_labels: bool = False,
):
    """Compile the reference CNN with ``settings`` (:class:`augablate.protocol.TrainSettings`:
    the filters, dense units and learning rate; by default the reference's), or the model
    ``settings.architecture`` names (:func:`other_model`), handed over whole so
    that the model and its training are set in one place. ``augmentation_layer`` (optional)
    runs before the rescaling, for placing augmentation on the accelerator. A whole epoch
    (``steps_per_epoch`` steps) runs per call of the compiled function: the same batches and
    updates as step by step, without Keras' per-step Python dispatch. ``soft_labels``: the
    training batches carry mixed labels (MixUp, CutMix): :func:`loss_and_accuracy`."""
    import keras  # here: the config checks import this module for check_image_size
    from keras import layers

    settings = settings or TrainSettings()
    if settings.architecture != REFERENCE:
        return other_model(image_size, num_classes, settings, augmentation_layer, soft_labels)
    filters, dense_units = settings.filters, settings.dense_units
    check_image_size(image_size, filters)
    binary = num_classes == 2
    model = keras.Sequential(name="reference_cnn")
    model.add(keras.Input(shape=(image_size, image_size, 3)))
    if augmentation_layer is not None:
        model.add(augmentation_layer)
    model.add(layers.Rescaling(1.0 / 255))
    for count in filters:
        model.add(layers.Conv2D(count, (3, 3), activation="relu"))
        model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(dense_units, activation="relu"))
    if binary:
        model.add(layers.Dense(1, activation="sigmoid"))
    else:
        model.add(layers.Dense(num_classes, activation="softmax"))
    loss, accuracy = loss_and_accuracy(num_classes, soft_labels)
    return compile_model(model, loss, settings, accuracy=accuracy)


def compile_model(model, loss, settings: TrainSettings, optimizer=None, accuracy="accuracy"):
    """Compile with RMSprop at :func:`learning_rate` (or ``optimizer``), ``accuracy`` (the
    augmented-batch accuracy of the history) and a whole epoch per call of the compiled
    function."""
    import keras

    model.compile(
        optimizer=optimizer or keras.optimizers.RMSprop(learning_rate=learning_rate(settings)),
        loss=loss,
        metrics=[accuracy],
        steps_per_execution=settings.steps_per_epoch,
    )
    return model


def loss_and_accuracy(num_classes: int, soft_labels: bool = False):
    """The loss and the training-batch accuracy a model is compiled with.

    Hard labels (class indices): binary cross-entropy on the sigmoid, sparse categorical
    cross-entropy on the softmax, Keras' ``accuracy``. Soft labels (a label-mixing layer): the
    same binary cross-entropy (it takes float targets), categorical cross-entropy on one-hot
    rows, and an accuracy against the class with the larger share of the mixed label (Keras'
    binary accuracy would count a 0.7 target as never met). The evaluations score hard labels
    either way (:mod:`augablate.evaluate`)."""
    import keras

    if not soft_labels:
        loss = "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"
        return loss, "accuracy"
    if num_classes != 2:
        return "categorical_crossentropy", "accuracy"  # Keras: the argmax of the mixed label

    def accuracy(labels, outputs):
        return keras.metrics.binary_accuracy(keras.ops.round(labels), outputs)

    return "binary_crossentropy", keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")


def other_model(
    image_size: int,
    num_classes: int,
    settings: TrainSettings,
    augmentation_layer,
    soft_labels: bool = False,
):
    """A ``keras.applications`` architecture or a user's function's model, compiled as the
    reference CNN (binary or sparse categorical cross-entropy by its output) unless the
    function compiled it: then its optimizer and loss stay, and the log says so."""
    from augablate.architectures import build_architecture

    model = build_architecture(
        settings.architecture,
        image_size,
        num_classes,
        weights=settings.weights,
        args=settings.model_args,
        augmentation_layer=augmentation_layer,
    )
    if model.compiled:
        optimizer = model.optimizer
        log.info(
            "model.architecture %s returned a compiled model: its optimizer %s (learning rate "
            "%s) and loss %s are used; train.learning_rate and train.learning_rate_schedule do "
            "not apply",
            settings.architecture,
            type(optimizer).__name__,
            _rate(optimizer),
            model.loss,
        )
        return compile_model(model, model.loss, settings, optimizer=optimizer)
    binary = model.output_shape[-1] == 1
    loss, accuracy = loss_and_accuracy(2 if binary else num_classes, soft_labels)
    return compile_model(model, loss, settings, accuracy=accuracy)


def _rate(optimizer) -> str:
    rate = optimizer.learning_rate
    try:
        return f"{float(rate.numpy()):g}"
    except (AttributeError, TypeError, ValueError):
        return type(rate).__name__


def learning_rate(settings: TrainSettings):
    """RMSprop's learning rate: the constant of the reference, or (``cosine``) a cosine decay
    from it to 0 at the last step, so that the last epochs, which the endpoint averages, take
    small steps: a constant rate well above the reference's can throw a converged run off in
    one epoch. The optimizer's step count carries the schedule through a resumed run."""
    if settings.learning_rate_schedule == "constant":
        return settings.learning_rate
    import keras

    return keras.optimizers.schedules.CosineDecay(
        settings.learning_rate, decay_steps=settings.epochs * settings.steps_per_epoch
    )
