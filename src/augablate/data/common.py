"""What every data stage shares: the splits, the file kinds that are images, the error type."""

from __future__ import annotations

SPLITS: tuple[str, ...] = ("train", "validation")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class DataError(RuntimeError):
    """Bad input data: the message names the culprit (URL, file, folder)."""
