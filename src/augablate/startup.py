"""What a training process does before TensorFlow loads, and when it started.

TensorFlow-free and light: ``workflow/scripts/train.py`` imports this module first, calls
:func:`skip_unused_imports`, and only then imports the training (which imports TensorFlow).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Packages Keras imports at start-up when they are installed, for features a training never
#: uses (scikit-learn for its estimator wrappers, matplotlib for its image gallery); Keras
#: guards both imports. They are 1.5 s of a 4 s ``import tensorflow`` on the development
#: machine, paid by every training process.
UNUSED_BY_TRAINING = ("sklearn", "matplotlib")


def skip_unused_imports() -> list[str]:
    """In a process that only trains, mark :data:`UNUSED_BY_TRAINING` as absent before
    TensorFlow loads (a ``None`` in ``sys.modules`` makes their import raise ImportError, which
    Keras expects). Packages already imported are left alone. The names marked."""
    skipped = []
    for name in UNUSED_BY_TRAINING:
        if name not in sys.modules:
            sys.modules[name] = None
            skipped.append(name)
    return skipped


def process_start_time() -> float | None:
    """When this process started (seconds since the epoch), from /proc on Linux; None
    elsewhere. The time from there to the first epoch is a training's start-up cost."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + int(fields[19]) / ticks
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def prepare_training_process() -> list[str]:
    """What a training process does first, before it imports TensorFlow: quiet TensorFlow's
    C++ start-up messages (unless the environment sets ``TF_CPP_MIN_LOG_LEVEL``) and
    :func:`skip_unused_imports`. The names skipped."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return skip_unused_imports()
