"""Logging for workflow scripts: everything a rule's script says, including what TensorFlow's
C++ core writes to the process's stderr, goes to the rule's log file."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path


def log_to_file(path: Path | str | None, level: int = logging.INFO) -> None:
    """Send Python logging and the process's stdout/stderr (file descriptors 1 and 2) to ``path``."""
    if path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
