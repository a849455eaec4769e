"""Scoring a model image by image: the evidence every statistic of the study is built from.

Every epoch a training scores the whole validation split, each image exactly once, and a fixed
sample of un-augmented training images (the *clean* training accuracy). The numbers Keras
reports during ``fit`` are running means over the epoch's training batches, which are augmented
for most variants and are seen while the weights change: they are kept, under their own name,
but the generalization gap is clean training minus validation accuracy of the same weights.

The arithmetic on probabilities is plain NumPy (tested without TensorFlow); only
:func:`predict_probabilities` runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Probabilities are clipped to [EPSILON, 1 - EPSILON] before the logarithm, as Keras does.
EPSILON = 1e-7


@dataclass
class Scores:
    """Per-image results of one evaluation of one set of images."""

    predicted: np.ndarray  # int, the predicted class index
    probability: np.ndarray  # float32, the probability of the predicted class
    true_probability: np.ndarray  # float32, the probability given to the true class
    correct: np.ndarray  # bool

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    @property
    def loss(self) -> float:
        """Mean cross-entropy: the loss the model is trained with, on these images."""
        clipped = np.clip(self.true_probability.astype(np.float64), EPSILON, 1 - EPSILON)
        return float(-np.log(clipped).mean())


def score(outputs: np.ndarray, labels: np.ndarray) -> Scores:
    """Per-image scores from the model's outputs.

    ``outputs`` is [n] or [n, 1] (sigmoid: the probability of class 1) or [n, classes]
    (softmax); ``labels`` holds the true class indices.
    """
    outputs = np.asarray(outputs, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim == 1:  # binary: P(class 1)
        probabilities = np.stack([1.0 - outputs, outputs], axis=1)
    else:
        probabilities = outputs
    predicted = probabilities.argmax(axis=1)
    rows = np.arange(len(labels))
    return Scores(
        predicted=predicted,
        probability=probabilities[rows, predicted].astype(np.float32),
        true_probability=probabilities[rows, labels].astype(np.float32),
        correct=predicted == labels,
    )


def clean_train_sample(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Indices of the fixed sample of training images scored without augmentation: all of
    them when the split has at most ``size``, else ``size`` drawn once with a fixed seed (the
    same images in every variant and seed, so clean accuracies are paired too), sorted."""
    if count <= size:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size, replace=False))


def evaluation_batch(image_size: int, budget: int = 4_000_000) -> int:
    """Images per forward pass when scoring: as many as fit ``budget`` input values, 20 to 512.

    The batch size only changes speed (every image is scored alone in inference mode)."""
    return int(np.clip(budget // (image_size * image_size * 3), 20, 512))


def predict_probabilities(model, images: np.ndarray, indices: np.ndarray | None = None):
    """The model's outputs for ``images[indices]`` (all when None), in inference mode.

    Reads the (memory-mapped) images one chunk at a time through one forward pass traced for
    any number of images (the last chunk is not padded: no image is computed for nothing).
    """
    import tensorflow as tf

    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    chunk = evaluation_batch(int(images.shape[1]))
    forward = _forward(model, images.shape[1:])
    outputs = [
        forward(tf.constant(images[indices[start : start + chunk]], tf.float32)).numpy()
        for start in range(0, len(indices), chunk)
    ]
    return np.concatenate(outputs)


def _forward(model, shape):
    """One traced inference pass per model, for batches of any size (kept on the model)."""
    import tensorflow as tf

    forward = getattr(model, "_augablate_forward", None)
    if forward is None:
        spec = tf.TensorSpec([None, *shape], tf.float32)
        forward = tf.function(lambda batch: model(batch, training=False), input_signature=[spec])
        model._augablate_forward = forward
    return forward
