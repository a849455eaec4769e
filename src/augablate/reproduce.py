"""The command that reproduces a study, for its report (rule ``report``'s params)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

#: Snakemake options that decide a study's result and so belong in its reproduce command.
_CONFIG_OPTIONS = {"--configfile", "--configfiles", "--config", "-C"}
_CONFIG_FILE_OPTIONS = {"--configfile", "--configfiles"}


def reproduce_command(argv: Sequence[str]) -> str:
    """The command that reproduces a study from the arguments snakemake was called with: its
    config files and ``--config`` overrides, in order (the cores, targets and other options of
    one call do not change the result).

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
        elif option:
            kept.append(_config_value(option, argument))
    return " ".join(["snakemake", "--cores", "4", *kept])


def _config_value(option: str, value: str) -> str:
    if option in _CONFIG_FILE_OPTIONS:
        value = os.path.normpath(value)
    return shlex.quote(value)
