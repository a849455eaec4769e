"""Writing files so that they are complete or absent: write to a temporary name beside the
target, flush, then rename. A killed job never leaves a half-written file that looks finished."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(target: Path | str):
    """Yield a temporary path beside ``target``; rename it to ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(target: Path | str, write: Callable[[Path], object]) -> Path:
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)


def atomic_write_text(target: Path | str, text: str) -> Path:
    return atomic_write(target, lambda tmp: tmp.write_text(text))


def atomic_write_json(target: Path | str, data) -> Path:
    return atomic_write_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n")


def atomic_write_npy(target: Path | str, array: np.ndarray) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array)

    return atomic_write(target, write)


def atomic_write_csv(target: Path | str, frame) -> Path:
    return atomic_write(target, lambda tmp: frame.to_csv(tmp, index=False))
