"""Getting the images: download and verify an archive, extract it safely, export the embedded
data set, check the folder layout, and decode everything once into a memory-mappable cache.

Layout every source ends in::

    <images>/{train,validation}/<class>/<file>.(jpg|jpeg|png)

Cache (one folder per data set, image size and resize method)::

    <cache>/<split>-images.npy   uint8 [n, size, size, 3]   (np.load(..., mmap_mode="r"))
    <cache>/<split>-labels.npy   int32 [n]
    <cache>/meta.json            classes, file names, counts, size, resize method
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augablate.io import atomic_write_json, atomic_write_npy, staged_directory

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "validation")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


class DataError(RuntimeError):
    """Bad input data: the message names the culprit (URL, file, folder)."""


class TransientDownloadError(DataError):
    """A download fault worth retrying (a body cut short); :func:`download` names the URL."""


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


def _source_kind(url: str) -> str:
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        return "http"
    if scheme == "file":
        return "file"
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return "path"
    raise DataError(
        f"unsupported URL scheme {scheme!r} in {url!r} (config key 'data.url'); "
        "allowed: http, https, file, or a plain path"
    )


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: Path, url: str, expected_bytes: int | None, expected_sha256: str | None):
    """Raise naming the URL when the size or checksum differs from the configured one."""
    size = path.stat().st_size
    if expected_bytes is not None and size != expected_bytes:
        raise DataError(
            f"download of {url} has {size} bytes, expected {expected_bytes} (config key 'data.bytes')"
        )
    if expected_sha256:
        actual = sha256_of(path)
        if actual.lower() != expected_sha256.lower():
            raise DataError(
                f"download of {url} has sha256 {actual}, expected {expected_sha256} "
                "(config key 'data.sha256')"
            )


@dataclass
class _Partial:
    """What one download call knows about its temporary file between attempts."""

    path: Path
    validator: str | None = None  # the server's ETag or Last-Modified, for If-Range
    responses: int = 0  # responses whose bytes are in the file (more than one: resumed)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.validator, self.responses = None, 0


def _range_start(content_range: str | None) -> int | None:
    """The first byte of a ``Content-Range: bytes N-M/T`` header (None when unreadable)."""
    if not content_range or not content_range.startswith("bytes "):
        return None
    try:
        return int(content_range[len("bytes ") :].split("-", 1)[0])
    except ValueError:
        return None


def _http_attempt(url: str, partial: _Partial, timeout: float) -> None:
    """One request, appending to the partial file when the server honours a range request.

    Sends ``Range: bytes=N-`` (with ``If-Range``, so a file that changed on the server comes back
    whole) when N bytes are already there; a 206 answer is appended, a 200 answer replaces them.
    A body shorter than its Content-Length raises :class:`TransientDownloadError`, keeping what
    arrived for the next attempt.
    """
    headers = {"User-Agent": "augablate"}
    offset = partial.size
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if partial.validator:
            headers["If-Range"] = partial.validator
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if offset and response.status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != offset:
                partial.restart()
                raise TransientDownloadError(
                    f"asked for the bytes from {offset} on, the server sent "
                    f"{response.headers.get('Content-Range')!r}; starting again"
                )
            log.info("download of %s resumes at byte %d", url, offset)
            mode = "ab"
        else:
            if offset:
                log.info("download of %s starts again: the server sent the whole file", url)
            partial.restart()
            mode = "wb"
        etag = response.headers.get("ETag")
        partial.validator = (
            etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
        )
        partial.responses += 1
        expected = response.headers.get("Content-Length")
        received = 0
        with open(partial.path, mode) as handle:
            while block := response.read1(1 << 20):  # what has arrived, kept on a fault
                handle.write(block)
                received += len(block)
        if expected is not None and received != int(expected):
            raise TransientDownloadError(f"body cut short: {received} of {expected} bytes")


def _reason(error: BaseException, timeout: float) -> str:
    """A short human reason for a failed attempt (the caller names the URL)."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, TimeoutError):
        return f"timed out: no data for {timeout:g} s (config key 'data.timeout')"
    if isinstance(error, TransientDownloadError):
        return str(error)
    if isinstance(error, urllib.error.URLError):
        return f"URLError: {error.reason}"
    return f"{type(error).__name__}: {error}"


def _remove_leftovers(destination: Path) -> None:
    """Remove temporary files that a killed earlier call left beside ``destination``."""
    for leftover in destination.parent.glob(f".{destination.name}.*"):
        log.info("removing %s, left by an interrupted download", leftover)
        leftover.unlink(missing_ok=True)


def download(
    url: str,
    destination: Path,
    *,
    expected_bytes: int | None = None,
    expected_sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Fetch ``url`` (http, https, file:// or a local path) to ``destination``, verified.

    The bytes go to a temporary file beside the destination, which is renamed only once it is
    complete and verified: a failure leaves neither an archive nor the temporary file behind.
    Connection errors, timeouts (``timeout`` seconds without data), bodies cut short and 5xx
    answers are retried ``retries`` times with exponential backoff (``backoff`` x 1, 2, 4, ...
    seconds); 4xx answers are final. A retry resumes where the last attempt stopped when the
    server honours range requests, and starts again otherwise. When bytes assembled from
    several responses fail the size or checksum test, the file is fetched once more from the
    start (a file that changed on a server without validators); a whole file that fails is final.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    kind = _source_kind(url)
    _remove_leftovers(destination)
    attempts = 1 + (retries if kind == "http" else 0)
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    os.close(fd)
    partial = _Partial(Path(tmp_name))
    reason = "no attempt made"
    try:
        for attempt in range(1, attempts + 1):
            try:
                if kind == "http":
                    _http_attempt(url, partial, timeout)
                else:
                    source = Path(urllib.parse.urlparse(url).path if kind == "file" else url)
                    if not source.is_file():
                        raise DataError(f"archive {url} does not exist (config key 'data.url')")
                    shutil.copyfile(source, partial.path)
                try:
                    verify_archive(partial.path, url, expected_bytes, expected_sha256)
                except DataError as error:
                    if partial.responses <= 1 or attempt == attempts:
                        raise
                    reason = f"{error}, after resuming; starting again"
                    partial.restart()
                else:
                    os.replace(partial.path, destination)
                    return destination
            except urllib.error.HTTPError as error:
                if error.code == 416 and partial.size:  # range not satisfiable: start again
                    partial.restart()
                elif error.code < 500:
                    raise DataError(
                        f"download of {url} failed: {_reason(error, timeout)} (not retried)"
                    ) from None
                reason = _reason(error, timeout)
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                TimeoutError,
                OSError,
                TransientDownloadError,
            ) as error:
                reason = _reason(error, timeout)
            if attempt < attempts:
                wait = backoff * 2 ** (attempt - 1)
                log.warning(
                    "download of %s: attempt %d of %d failed (%s); next in %.1f s%s",
                    url,
                    attempt,
                    attempts,
                    reason,
                    wait,
                    f", resuming at byte {partial.size}" if partial.size else "",
                )
                sleep(wait)
    finally:
        partial.path.unlink(missing_ok=True)
    raise DataError(f"download of {url} failed after {attempts} attempt(s): {reason}")


# --------------------------------------------------------------------------------------------
# Extraction and layout
# --------------------------------------------------------------------------------------------


def _check_member(info: zipfile.ZipInfo, archive: Path) -> None:
    name = info.filename
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise DataError(f"archive {archive} has an unsafe member path {name!r}")
    mode = info.external_attr >> 16
    if mode and (mode & 0o170000) == 0o120000:
        raise DataError(f"archive {archive} has a symbolic link member {name!r}; links are refused")


def find_split_root(folder: Path) -> Path:
    """The folder that holds ``train/`` and ``validation/``: ``folder`` or its single subfolder."""
    if all((folder / split).is_dir() for split in SPLITS):
        return folder
    candidates = [
        child
        for child in sorted(folder.iterdir())
        if child.is_dir() and all((child / split).is_dir() for split in SPLITS)
    ]
    if len(candidates) == 1:
        return candidates[0]
    raise DataError(
        f"no folder with {' and '.join(s + '/' for s in SPLITS)} found in {folder} "
        "(expected <root>/train/<class>/*.jpg and <root>/validation/<class>/*.jpg)"
    )


def extract_archive(archive: Path, images: Path, max_bytes: int = 8 << 30) -> Path:
    """Extract a zip safely and move its split root to ``images`` (complete or absent).

    Members with absolute paths, ``..`` or links are refused, as are archives whose uncompressed
    size exceeds ``max_bytes`` (config key 'data.max_uncompressed_bytes').
    """
    archive, images = Path(archive), Path(images)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"archive {archive} is not a readable zip file: {error}") from None
    with zf:
        members = zf.infolist()
        for info in members:
            _check_member(info, archive)
        total = sum(info.file_size for info in members)
        if total > max_bytes:
            raise DataError(
                f"archive {archive} would extract to {total} bytes, more than the limit {max_bytes} "
                "(config key 'data.max_uncompressed_bytes')"
            )
        with staged_directory(images) as (staging, publish):
            zf.extractall(staging)
            root = find_split_root(staging)
            check_layout(root)
            publish(root)
    return images


def list_images(images: Path) -> dict[str, dict[str, list[Path]]]:
    """``{split: {class: [files]}}`` for a checked layout, classes and files sorted."""
    return {
        split: {
            folder.name: sorted(
                f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            for folder in sorted((images / split).iterdir())
            if folder.is_dir()
        }
        for split in SPLITS
    }


def check_layout(images: Path) -> list[str]:
    """Check ``<images>/{train,validation}/<class>/<images>``; return the sorted class names.

    Every problem is named: a missing split, a split without classes, an empty class, and
    classes that differ between the splits.
    """
    images = Path(images)
    problems = []
    for split in SPLITS:
        if not (images / split).is_dir():
            problems.append(f"missing split folder {images / split}")
    if problems:
        raise DataError("; ".join(problems))
    listing = list_images(images)
    for split, classes in listing.items():
        if not classes:
            problems.append(f"split folder {images / split} has no class folders")
        for name, files in classes.items():
            if not files:
                problems.append(
                    f"class folder {images / split / name} has no images ({', '.join(IMAGE_SUFFIXES)})"
                )
    train, validation = (set(listing[split]) for split in SPLITS)
    if train != validation:
        problems.append(
            f"classes differ between splits in {images}: only in train {sorted(train - validation)}, "
            f"only in validation {sorted(validation - train)}"
        )
    if problems:
        raise DataError("; ".join(problems))
    return sorted(train)


# --------------------------------------------------------------------------------------------
# The embedded data set
# --------------------------------------------------------------------------------------------

#: The fixed split of the embedded digits: image i goes to validation when i % 3 == 0 ... see
#: :func:`embedded_split`. Documented in config/README.md.
EMBEDDED_NAME = "digits"


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


# --------------------------------------------------------------------------------------------
# Decoding into the cache
# --------------------------------------------------------------------------------------------


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
