"""The code stays formatted and lint-clean (ruff for Python, snakefmt for the workflow)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "src", "tests", "workflow/scripts", "benchmarks"],
        ["ruff", "format", "--check", "src", "tests", "workflow/scripts", "benchmarks"],
        ["snakefmt", "--check", "Snakefile", "workflow"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_clean(command):
    tool = BIN / command[0] if (BIN / command[0]).exists() else shutil.which(command[0])
    assert tool, f"{command[0]} is not installed (pip install -e '.[test]')"
    result = subprocess.run([str(tool), *command[1:]], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
