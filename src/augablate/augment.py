"""Random image augmentation with Keras ImageDataGenerator semantics, for tf.data.

Every transform separates *sampling* its parameters from *applying* them, as the reference
``ImageDataGenerator`` does with ``get_random_transform`` / ``apply_transform``: a test can fix the
parameters and compare pixels with the reference, and a variant only switches transforms on or off.

Rotation, shift, shear and zoom are composed into ONE affine matrix, exactly as
``keras.src.legacy.preprocessing.image.apply_affine_transform`` builds it, and each image is
resampled ONCE (bilinear, ``fill_mode`` nearest by default). The horizontal flip of the result,
applied after the affine part as in the reference, is folded into the same sampling as an exact
mirror of the output coordinates (see :func:`flipped_matrices`): no second pass, no interpolation.

The transforms are named in one registry, :data:`augablate.variants.TRANSFORMS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from augablate.variants import AugmentationSettings

# --------------------------------------------------------------------------------------------
# Sampling: one parameter set per image, named as the reference's ``get_random_transform`` names
# them (theta, tx, ty, shear, zx, zy, flip_horizontal) so that they can be handed to either side.
# --------------------------------------------------------------------------------------------


def sample_parameters(settings: AugmentationSettings, batch: int, height: int, width: int, seed):
    """Sample a batch of transform parameters with stateless RNG (deterministic per ``seed``).

    ``seed`` is a shape-[2] int tensor; every transform draws from its own derived stream so that
    switching one transform off does not change what the others draw (paired variants).
    ``tx`` moves the content along x (columns) and ``ty`` along y (rows). Note the reference's
    quirk: its ``get_random_transform`` fills ``tx`` from ``height_shift_range`` (scaled by the
    row count), and its matrix convention then moves the image along x, so the reference's
    "height" shift is horizontal. We keep the names honest (``width_shift`` moves along the width);
    for square images and equal ranges, as in the reference study, the two are the same.
    """

    def uniform(stream: int, low, high, shape=(batch,)):
        stream_seed = tf.random.experimental.stateless_fold_in(seed, stream)
        return tf.random.stateless_uniform(shape, stream_seed, low, high, dtype=tf.float32)

    zeros = tf.zeros((batch,), tf.float32)
    s = settings
    theta = uniform(1, -s.rotation, s.rotation) if s.rotation else zeros
    tx = uniform(2, -s.width_shift, s.width_shift) * width if s.width_shift else zeros
    ty = uniform(3, -s.height_shift, s.height_shift) * height if s.height_shift else zeros
    shear = uniform(4, -s.shear, s.shear) if s.shear else zeros
    if s.zoom:
        zx = uniform(5, 1.0 - s.zoom, 1.0 + s.zoom)
        zy = uniform(6, 1.0 - s.zoom, 1.0 + s.zoom)
    else:
        zx = zy = tf.ones((batch,), tf.float32)
    if s.horizontal_flip:
        flip = uniform(7, 0.0, 1.0) < 0.5
    else:
        flip = tf.zeros((batch,), tf.bool)
    return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy, "flip": flip}


# --------------------------------------------------------------------------------------------
# Applying.
# --------------------------------------------------------------------------------------------


def affine_matrices(params: Mapping, height: int, width: int):
    """Compose rotation, shift, shear and zoom into one matrix per image (shape [batch, 8]).

    The product is the reference's ``rotation @ shift @ shear @ zoom``, centred with the
    reference's ``transform_matrix_offset_center(matrix, height, width)``. The reference hands
    that matrix to scipy after swapping its two coordinates, so it maps output (x=column,
    y=row) points to input points: the layout of ``ImageProjectiveTransformV3``'s 8-vector.
    """
    theta = params["theta"] * (math.pi / 180.0)
    shear = params["shear"] * (math.pi / 180.0)
    tx, ty, zx, zy = params["tx"], params["ty"], params["zx"], params["zy"]
    cos_t, sin_t = tf.cos(theta), tf.sin(theta)
    sin_s, cos_s = tf.sin(shear), tf.cos(shear)
    # rotation @ shift @ shear @ zoom, written out (rows a, b of a 3x3 affine matrix).
    # R = [[c, -s, 0], [s, c, 0]]; T = [[1, 0, tx], [0, 1, ty]];
    # S = [[1, -sin_s, 0], [0, cos_s, 0]]; Z = [[zx, 0, 0], [0, zy, 0]].
    # R@T = [[c, -s, c*tx - s*ty], [s, c, s*tx + c*ty]]
    # (R@T)@S = [[c, -c*sin_s - s*cos_s, .], [s, -s*sin_s + c*cos_s, .]]
    a0 = cos_t * zx
    a1 = (-cos_t * sin_s - sin_t * cos_s) * zy
    a2 = cos_t * tx - sin_t * ty
    b0 = sin_t * zx
    b1 = (-sin_t * sin_s + cos_t * cos_s) * zy
    b2 = sin_t * tx + cos_t * ty
    # offset to the centre: M' = O @ M @ O^-1 with o_x = height / 2 - 0.5, o_y = width / 2 - 0.5
    # (the reference passes (height, width) in this order whatever the axes mean).
    o_x = height / 2.0 - 0.5
    o_y = width / 2.0 - 0.5
    a2 = a2 + o_x - a0 * o_x - a1 * o_y
    b2 = b2 + o_y - b0 * o_x - b1 * o_y
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def flipped_matrices(matrices, flip, width: int):
    """Fold a horizontal flip of the OUTPUT into the sampling matrices.

    Flipping the transformed image means output pixel x takes what the unflipped transform puts
    at ``width - 1 - x``: the same sample points, in mirrored order. Substituting
    ``x -> width - 1 - x`` in the matrix does exactly that, so the flip stays exact (a pure
    flip samples integer positions: no interpolation) and costs no pass of its own.
    """
    a0, a1, a2, b0, b1, b2, c0, c1 = tf.unstack(matrices, axis=1)
    sign = tf.where(flip, -1.0, 1.0)
    shift = tf.where(flip, float(width - 1), 0.0)
    return tf.stack(
        [sign * a0, a1, a2 + shift * a0, sign * b0, b1, b2 + shift * b0, c0, c1], axis=1
    )


@tf.function(jit_compile=True)
def _warp_bilinear_nearest(images, matrices):
    """Bilinear resampling with ``nearest`` fill, compiled by XLA into one fused loop.

    The same arithmetic as ``ImageProjectiveTransformV3(interpolation="BILINEAR",
    fill_mode="NEAREST")`` (sample points clamped to the image, then interpolated), measured
    3.4 times faster on the CPU for a batch of 20 150x150 RGB images (6.5 ms against 22 ms on
    one core); agreement with that op is within 0.01 grey levels.
    """
    batch = tf.shape(images)[0]
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    rows, cols = tf.meshgrid(
        tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij"
    )
    a0, a1, a2, b0, b1, b2 = (matrices[:, k][:, None, None] for k in range(6))
    x = tf.clip_by_value(a0 * cols + a1 * rows + a2, 0.0, width - 1.0)
    y = tf.clip_by_value(b0 * cols + b1 * rows + b2, 0.0, height - 1.0)
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    pixels = tf.reshape(images, [-1, channels])
    base = (tf.range(batch) * (height * width))[:, None, None]

    def at(row, col):
        return tf.gather(pixels, base + row * width + col)

    top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx
    return top * (1.0 - wy) + bottom * wy


def apply_parameters(images, params: Mapping, fill_mode: str = "nearest"):
    """Apply sampled parameters to a float32 batch [batch, height, width, channels].

    Rotation, shift, shear, zoom and the flip become one sampling matrix per image, and the
    batch is resampled once (bilinear). Fill modes other than ``nearest`` use TensorFlow's
    projective-transform op, which implements them all.
    """
    height, width = int(images.shape[1]), int(images.shape[2])
    matrices = flipped_matrices(affine_matrices(params, height, width), params["flip"], width)
    if fill_mode == "nearest":
        return _warp_bilinear_nearest(images, matrices)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=matrices,
        output_shape=tf.constant([height, width], tf.int32),
        fill_value=tf.constant(0.0, tf.float32),
        interpolation="BILINEAR",
        fill_mode=fill_mode.upper(),
    )


def augment_batch(images, settings: AugmentationSettings, seed):
    """Sample and apply one random transform per image of a float32 batch (NHWC)."""
    if settings.is_identity:
        return images
    height, width = int(images.shape[1]), int(images.shape[2])
    batch = tf.shape(images)[0]
    params = sample_parameters(settings, batch, height, width, seed)
    return apply_parameters(images, params, settings.fill_mode)


def reference_parameters_to_ours(reference: Mapping) -> dict:
    """Turn one ``get_random_transform`` dict into a batch-of-one parameter dict (numpy)."""
    return {
        "theta": np.array([reference.get("theta", 0.0)], np.float32),
        "tx": np.array([reference.get("tx", 0.0)], np.float32),
        "ty": np.array([reference.get("ty", 0.0)], np.float32),
        "shear": np.array([reference.get("shear", 0.0)], np.float32),
        "zx": np.array([reference.get("zx", 1.0)], np.float32),
        "zy": np.array([reference.get("zy", 1.0)], np.float32),
        "flip": np.array([bool(reference.get("flip_horizontal", False))]),
    }


class AugmentationLayer(keras.layers.Layer):
    """The same augmentation as a model layer (for GPU runs): active only in training.

    Draws are stateless, keyed by (seed, call number), so a run is reproducible per seed.
    Needs the TensorFlow backend, as the whole package does.
    """

    def __init__(self, settings: AugmentationSettings, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.seed = int(seed)
        self.calls = tf.Variable(0, dtype=tf.int64, trainable=False, name="augment_calls")

    def call(self, inputs, training=None):
        if not training:
            return inputs
        step_seed = tf.random.experimental.stateless_fold_in(
            tf.constant([self.seed, 1], tf.int64), self.calls.assign_add(1)
        )
        return augment_batch(tf.cast(inputs, tf.float32), self.settings, step_seed)

    def compute_output_shape(self, input_shape):
        return input_shape
