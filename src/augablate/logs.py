"""Logging for workflow scripts: everything a rule's script says, including what TensorFlow's
C++ core writes to the process's stderr, goes to the rule's log file."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path


def attempt_path(path: Path, started: float) -> Path:
    """Where an attempt's log stays: ``attempts/<name>.<UTC start time>-<pid>.log`` beside the
    rule's log (Snakemake deletes a job's log before it runs the job again)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return path.parent / "attempts" / f"{path.stem}.{stamp}-{os.getpid()}{path.suffix}"


def log_to_file(path: Path | str | None, level: int = logging.INFO) -> None:
    """Send Python logging and the process's stdout/stderr (file descriptors 1 and 2) to ``path``.

    The log is also linked (a hard link: the same file, no copy) under ``attempts/`` beside
    it, so an interrupted attempt's log survives the rerun that replaces the rule's log."""
    if path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
        attempt = attempt_path(path, time.time())
        try:
            attempt.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, attempt)
        except OSError:  # a file system without hard links: the rule's log only
            pass
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
