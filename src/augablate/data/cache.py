"""Decode every image once into a memory-mappable cache, and read it back::

<cache>/<split>-images.npy   uint8 [n, size, size, 3]   (np.load(..., mmap_mode="r"))
<cache>/<split>-labels.npy   int32 [n]
<cache>/meta.json            classes, file names, counts, size, resize method
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augablate.data.common import SPLITS, DataError
from augablate.data.layout import check_layout, scan
from augablate.io import atomic_write_json, atomic_write_npy

RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


#: How EXIF orientation tags are treated (config key 'data.exif_orientation'): ``ignore``, as the
#: reference loader (``load_img``) does, so phone photos keep the sensor's orientation; or
#: ``apply``, turning each image upright as a photo viewer shows it.
EXIF_ORIENTATION = ("ignore", "apply")


def to_eight_bits(image):
    """An image with more than 8 bits per channel (16-bit greyscale PNG, 32-bit integer or float
    TIFF) scaled to 8 bits: 16-bit values are divided by 257, so that white stays white and
    mid-grey mid-grey (converting directly clips every value above 255 to white, which is what
    the reference loader does)."""
    from PIL import Image

    if image.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return image
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16") or (image.mode == "I" and values.max() > 255):
        values = values / 257.0
    elif image.mode == "F" and values.max() <= 1.0:
        values = values * 255.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def decode_image(
    path: Path, size: int, resize: str = "nearest", exif_orientation: str = "ignore"
) -> np.ndarray:
    """Decode one file to uint8 RGB [size, size, 3].

    Grey, palette, RGBA and CMYK images are converted to RGB, images of more than 8 bits scaled
    to 8 (:func:`to_eight_bits`), an animated GIF or multi-page TIFF gives its first frame.
    ``resize`` names a PIL filter; the reference loader (``load_img`` with ``target_size``)
    resizes with nearest neighbour. ``exif_orientation``: see :data:`EXIF_ORIENTATION`.
    """
    return decode_with_properties(path, size, resize, exif_orientation)[0]


def decode_with_properties(path: Path, size: int, resize: str, exif_orientation: str):
    """(pixels, (format, mode, width, height)) of one file, as :func:`decode_image`."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.load()
        properties = (image.format or "?", image.mode, *image.size)
        if exif_orientation == "apply":
            image = ImageOps.exif_transpose(image)
        rgb = to_eight_bits(image).convert("RGB")
    filters = {name: getattr(Image.Resampling, name.upper()) for name in RESIZE_METHODS}
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), filters[resize])
    return np.asarray(rgb, dtype=np.uint8), properties


@dataclass
class SplitCache:
    images: np.ndarray
    labels: np.ndarray
    files: list[str]
    properties: dict[str, list[tuple]]  # class -> (format, mode, width, height) per image


def decode_split(
    files_by_class: dict[str, list[Path]],
    classes: Sequence[str],
    size: int,
    resize: str,
    root: Path,
    exif_orientation: str = "ignore",
) -> tuple[SplitCache, list[str]]:
    """Decode a split; return it and the files that could not be decoded (with the reason)."""
    from PIL import UnidentifiedImageError

    images, labels, names, bad = [], [], [], []
    properties: dict[str, list[tuple]] = {name: [] for name in classes}
    for label, name in enumerate(classes):
        for path in files_by_class.get(name, []):
            try:
                pixels, found = decode_with_properties(path, size, resize, exif_orientation)
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
                bad.append(f"{path.relative_to(root)}: {type(error).__name__}: {error}")
                continue
            images.append(pixels)
            properties[name].append(found)
            labels.append(label)
            names.append(str(path.relative_to(root)))
    array = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return SplitCache(array, np.asarray(labels, np.int32), names, properties), bad


def class_differences(split: str, properties: dict[str, list[tuple]]) -> list[str]:
    """Warnings when the classes of a split differ systematically in file kind or size, so
    that a model could tell them apart by that alone (e.g. every cat a JPEG, every dog a PNG)."""
    warnings = []
    kinds = {
        name: Counter(f"{fmt}/{mode}" for fmt, mode, *_ in found)
        for name, found in properties.items()
    }
    shares = {
        name: {kind: count / max(sum(counter.values()), 1) for kind, count in counter.items()}
        for name, counter in kinds.items()
    }
    for kind in sorted(set().union(*shares.values()) if shares else []):
        share = {name: shares[name].get(kind, 0.0) for name in shares}
        most, least = max(share, key=share.get), min(share, key=share.get)
        if share[most] >= 0.9 and share[least] <= 0.1:
            warnings.append(
                f"{split}: {share[most]:.0%} of class '{most}' but {share[least]:.0%} of class "
                f"'{least}' are {kind} files: a model could tell these classes apart by file kind"
            )
    sizes = {
        name: float(np.median([w * h for *_, w, h in found]))
        for name, found in properties.items()
        if found
    }
    if sizes and max(sizes.values()) >= 1.5 * min(sizes.values()):
        big, small = max(sizes, key=sizes.get), min(sizes, key=sizes.get)
        warnings.append(
            f"{split}: the median image of class '{big}' has {sizes[big] / sizes[small]:.1f} times "
            f"the pixels of class '{small}' ({sizes[big]:.0f} against {sizes[small]:.0f}): a "
            "model could tell these classes apart by size or resampling"
        )
    return warnings


#: Fewer images than this in a class of a split earn a warning in the log and the report: its
#: accuracy moves by 10 points or more per image, and a training class this small is rarely
#: what a user meant (a stray folder, a failed copy).
MIN_CLASS_IMAGES = 10


def small_classes(split: str, per_class: dict[str, int]) -> list[str]:
    """Warnings for the classes of a split with fewer than :data:`MIN_CLASS_IMAGES` images."""
    return [
        f"{split}: class '{name}' has only {count} image(s) (fewer than {MIN_CLASS_IMAGES}); "
        "check the folder, or expect its results to say little about that class"
        for name, count in per_class.items()
        if count < MIN_CLASS_IMAGES
    ]


def build_cache(
    images: Path,
    cache: Path,
    size: int,
    resize: str = "nearest",
    skip_bad: bool = False,
    exif_orientation: str = "ignore",
) -> dict:
    """Decode every image once into ``cache`` and return the metadata written to meta.json:
    classes, counts and files per split, what was skipped as not data (hidden files, other
    suffixes) or not decodable, and warnings about systematic class differences."""
    images, cache = Path(images), Path(cache)
    if resize not in RESIZE_METHODS:
        raise DataError(
            f"unknown resize method {resize!r} (config key 'data.resize'); allowed: {RESIZE_METHODS}"
        )
    classes = check_layout(images)
    listing = scan(images)
    cache.mkdir(parents=True, exist_ok=True)
    meta: dict = {
        "classes": classes,
        "image_size": size,
        "resize": resize,
        "exif_orientation": exif_orientation,
        "splits": {},
        "ignored": listing.skipped(),
        "skipped": {},
        "warnings": [],
    }
    decoded_splits = {
        split: decode_split(listing.files[split], classes, size, resize, images, exif_orientation)
        for split in SPLITS
    }
    bad_files = [entry for _, bad in decoded_splits.values() for entry in bad]
    if bad_files and not skip_bad:
        raise DataError(
            f"{len(bad_files)} image file(s) in {images} could not be decoded (set "
            "data.skip_bad_images: true to skip them):\n  " + "\n  ".join(bad_files)
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
        meta["warnings"] += small_classes(split, meta["splits"][split]["per_class"])
        meta["warnings"] += class_differences(split, decoded.properties)
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
