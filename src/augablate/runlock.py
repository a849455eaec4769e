"""One study run per working directory at a time.

Two ``snakemake`` runs started in one folder within a second both pass Snakemake's checks
before either holds its lock; the second then stops on the first's half-made outputs with
advice (``--rerun-incomplete``) that would make it redo the first's work. The main snakemake
process of a run that executes jobs therefore holds an exclusive ``flock`` from the moment the
workflow is read; the kernel drops it when the process ends, however it ends, so it is never
stale. Dry runs, reports and job processes (cluster jobs) do not take it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Sequence
from pathlib import Path

#: The lock file, in Snakemake's own folder of the working directory.
RUN_LOCK = Path(".snakemake") / "augablate-run.lock"
#: Options with which snakemake runs no job (their runs may go on beside a study).
NO_JOBS = {
    "--dry-run",
    "--dryrun",
    "--report",
    "--unlock",
    "--lint",
    "--list-rules",
    "--list",
    "--list-target-rules",
    "--summary",
    "--detailed-summary",
    "--dag",
    "--rulegraph",
    "--filegraph",
    "--d3dag",
    "--cleanup-metadata",
    "--list-changes",
    "--lc",
    "--list-input-changes",
    "--li",
    "--list-params-changes",
    "--lp",
    "--list-code-changes",
    "--containerize",
    "--archive",
    "--export-cwl",
    "--version",
    "--help",
}
_held: list = []  # the open lock files of this process: held until it ends


def runs_jobs(argv: Sequence[str]) -> bool:
    """Whether a snakemake command line executes jobs (not a dry run, report, listing...)."""
    for argument in argv[1:]:
        name = argument.split("=", 1)[0]
        if name in NO_JOBS:
            return False
        if name.startswith("-") and not name.startswith("--") and "n" in name[1:]:
            return False  # -n, -np, -pn ...
    return True


def hold_run_lock(path: Path | str = RUN_LOCK) -> None:
    """Take this folder's run lock for the rest of the process, or raise RuntimeError naming
    the run that holds it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RuntimeError(
            f"another snakemake run ({holder}) is working in {Path.cwd()}: wait for it to end "
            f"(or stop it), then run this again; {path} is its lock, dropped when it ends"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    _held.append(handle)
