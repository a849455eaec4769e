"""Decode every image once into a memory-mappable cache, and read it back::

<cache>/<split>-images.npy   uint8 [n, size, size, 3]   (np.load(..., mmap_mode="r"))
<cache>/<split>-labels.npy   int32 [n]
<cache>/meta.json            classes, file names, counts, size, resize method
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augablate.data.common import SPLITS, DataError
from augablate.data.layout import check_layout, list_images
from augablate.io import atomic_write_json, atomic_write_npy

RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def decode_image(path: Path, size: int, resize: str = "nearest") -> np.ndarray:
    """Decode one file to uint8 RGB [size, size, 3] (grey, palette, RGBA and CMYK converted).

    ``resize`` names a PIL filter; the reference loader (``load_img`` with ``target_size``)
    resizes with nearest neighbour.
    """
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        rgb = image.convert("RGB")
    filters = {name: getattr(Image.Resampling, name.upper()) for name in RESIZE_METHODS}
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), filters[resize])
    return np.asarray(rgb, dtype=np.uint8)


@dataclass
class SplitCache:
    images: np.ndarray
    labels: np.ndarray
    files: list[str]


def decode_split(
    files_by_class: dict[str, list[Path]],
    classes: Sequence[str],
    size: int,
    resize: str,
    root: Path,
) -> tuple[SplitCache, list[str]]:
    """Decode a split; return it and the files that could not be decoded (with the reason)."""
    from PIL import UnidentifiedImageError

    images, labels, names, bad = [], [], [], []
    for label, name in enumerate(classes):
        for path in files_by_class.get(name, []):
            try:
                images.append(decode_image(path, size, resize))
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
                bad.append(f"{path}: {type(error).__name__}: {error}")
                continue
            labels.append(label)
            names.append(str(path.relative_to(root)))
    array = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return SplitCache(array, np.asarray(labels, np.int32), names), bad


def build_cache(
    images: Path,
    cache: Path,
    size: int,
    resize: str = "nearest",
    skip_bad: bool = False,
) -> dict:
    """Decode every image once into ``cache`` and return the metadata written to meta.json."""
    images, cache = Path(images), Path(cache)
    if resize not in RESIZE_METHODS:
        raise DataError(
            f"unknown resize method {resize!r} (config key 'data.resize'); allowed: {RESIZE_METHODS}"
        )
    classes = check_layout(images)
    listing = list_images(images)
    cache.mkdir(parents=True, exist_ok=True)
    meta: dict = {
        "classes": classes,
        "image_size": size,
        "resize": resize,
        "splits": {},
        "skipped": {},
    }
    decoded_splits = {}
    for split in SPLITS:
        decoded_splits[split] = decode_split(listing[split], classes, size, resize, images)
    bad_files = [entry for _, bad in decoded_splits.values() for entry in bad]
    if bad_files and not skip_bad:
        raise DataError(
            f"{len(bad_files)} image file(s) could not be decoded (set data.skip_bad_images: true "
            "to skip them):\n  " + "\n  ".join(bad_files)
        )
    for split, (decoded, bad) in decoded_splits.items():
        if len(decoded.labels) == 0:
            raise DataError(f"no decodable images in {images / split}")
        atomic_write_npy(cache / f"{split}-images.npy", decoded.images)
        atomic_write_npy(cache / f"{split}-labels.npy", decoded.labels)
        meta["splits"][split] = {
            "count": int(len(decoded.labels)),
            "per_class": {c: int((decoded.labels == i).sum()) for i, c in enumerate(classes)},
            "files": decoded.files,
        }
        meta["skipped"][split] = bad
    atomic_write_json(cache / "meta.json", meta)
    return meta


def load_split(cache: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The cached images (memory-mapped, read only) and labels of one split."""
    cache = Path(cache)
    images = np.load(cache / f"{split}-images.npy", mmap_mode="r")
    labels = np.load(cache / f"{split}-labels.npy")
    return images, labels


def load_meta(cache: Path) -> dict:
    with open(Path(cache) / "meta.json") as handle:
        return json.load(handle)
