"""Apply each variant's augmentation to the same few training images, for the grid figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def preview_variants(
    cache: Path,
    variants: Sequence[str],
    augmentation: Mapping,
    *,
    images: int = 4,
    draws: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """The originals [images, h, w, 3] and, per variant, [images * draws, h, w, 3] uint8, each
    image repeated ``draws`` times through the same augmentation code that training uses."""
    import tensorflow as tf

    from augablate.augment import augmentation_key
    from augablate.data import load_split
    from augablate.layer_augment import BatchAugmentation
    from augablate.variants import AugmentationSettings

    train_images, train_labels = load_split(cache, "train")
    # spread the picks over the classes: the first image of each class, in turn
    picks: list[int] = []
    for label in np.unique(train_labels):
        picks.append(int(np.flatnonzero(train_labels == label)[0]))
    picks = (picks * images)[:images]
    originals = np.asarray(train_images[picks])
    batch = tf.constant(np.repeat(originals, draws, axis=0), tf.float32)
    settings = AugmentationSettings.from_config(augmentation)
    rows = []
    for variant in variants:  # the same key in every row: the training's first batch's draws
        augmentation = BatchAugmentation(settings.for_variant(variant), classes=0)  # no labels
        out, _ = augmentation(batch, None, augmentation_key(seed, 0))
        rows.append((variant, np.clip(np.rint(out.numpy()), 0, 255).astype(np.uint8)))
    return originals, rows
