"""The command that reproduces a study, for its report (rule ``report``'s params)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

#: Snakemake options that decide a study's result, or where its files are, and so belong in its
#: reproduce command: the config files and overrides, the workflow (-s) and the working directory
#: (relative paths in a config are relative to it).
_CONFIG_OPTIONS = {
    "--configfile",
    "--configfiles",
    "--config",
    "-C",
    "-s",
    "--snakefile",
    "-d",
    "--directory",
}
_PATH_OPTIONS = {"--configfile", "--configfiles", "-s", "--snakefile", "-d", "--directory"}
_ONE_VALUE = {"-s", "--snakefile", "-d", "--directory"}


def reproduce_command(argv: Sequence[str]) -> str:
    """The command that reproduces a study from the arguments snakemake was called with: its
    workflow (``-s``), working directory (``--directory``), config files and ``--config``
    overrides, in order. ``--cores all``: the number of cores does not change the result (each
    training's threads are ``resources.train_threads``), and other options of one call (targets,
    ``-n``, ``--until``) are not part of the study.

    Both ``--configfile a.yaml`` and ``--configfile=a.yaml`` are understood, and file paths
    are normalised (``./a.yaml`` is ``a.yaml``), so that two spellings of one study give the
    same command, and the report rule, whose params hold it, is not rerun for a spelling.
    """
    kept: list[str] = []
    option = None
    for argument in argv[1:]:
        if argument.startswith("-"):
            name, equals, value = argument.partition("=")
            option = name if name in _CONFIG_OPTIONS else None
            if option:
                kept.append(option)
                if equals:
                    kept.append(_config_value(option, value))
                    if option in _ONE_VALUE:
                        option = None
        elif option:
            kept.append(_config_value(option, argument))
            if option in _ONE_VALUE:
                option = None
    return " ".join(["snakemake", "--cores", "all", *kept])


def _config_value(option: str, value: str) -> str:
    if option in _PATH_OPTIONS:
        value = os.path.normpath(value)
    return shlex.quote(value)
