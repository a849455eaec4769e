"""What every data stage shares: the splits, the file kinds that are images, the error type."""

from __future__ import annotations

SPLITS: tuple[str, ...] = ("train", "validation")
#: Suffixes (any case) of the files read as images: every format Pillow decodes that image sets
#: come in (a GIF gives its first frame, a TIFF its first page).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class DataError(RuntimeError):
    """Bad input data: the message names the culprit (URL, file, folder)."""
