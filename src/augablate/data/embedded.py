"""The data set shipped inside scikit-learn: its handwritten digits, exported as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from augablate.data.layout import check_layout
from augablate.io import staged_directory


def embedded_split(index: int) -> str:
    """The fixed train/validation split of scikit-learn's digits (1,797 images): every third
    image (index divisible by 3) is a training image, the rest validate.

    A small training set (599 images) next to a large validation set (1,198) is what lets a
    short study show overfitting and the effect of augmentation on a CPU in minutes.
    """
    return "train" if index % 3 == 0 else "validation"


def export_embedded(images: Path) -> Path:
    """Write scikit-learn's handwritten digits (8x8, 16 grey levels) as PNG files in the layout.

    Grey levels 0..16 are scaled to 0..255; classes are the digits "0".."9". Complete or absent.
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    with staged_directory(images) as (staging, publish):
        for index, (pixels, target) in enumerate(zip(digits.images, digits.target, strict=True)):
            folder = staging / embedded_split(index) / str(int(target))
            folder.mkdir(parents=True, exist_ok=True)
            grey = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8)
            Image.fromarray(grey, mode="L").save(folder / f"digit-{index:04d}.png")
        check_layout(staging)
        publish(staging)
    return images
