"""What made a study: its config files, in the order they were layered, for the report."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: How the report names the default study's config when it made the study.
DEFAULT_CONFIG = "config/config.yaml (the workflow's default study)"


def config_files(paths: Iterable[os.PathLike | str], workflow_dir: os.PathLike | str) -> list[str]:
    """The config files that made a study, later ones overriding earlier ones: paths below the
    working directory relative to it, the workflow's own default config named as such, others
    absolute. The same files give the same list wherever snakemake runs from."""
    default = (Path(workflow_dir) / "config" / "config.yaml").resolve()
    here = Path.cwd().resolve()
    shown = []
    for path in paths:
        resolved = Path(path).resolve()
        if resolved == default:
            shown.append(DEFAULT_CONFIG)
        elif resolved.is_relative_to(here):
            shown.append(str(resolved.relative_to(here)))
        else:
            shown.append(str(resolved))
    return shown
