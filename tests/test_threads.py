"""A training told to use 1 thread uses about 1 core, so that `threads: 1` on a cluster (1 CPU
per SLURM job) or beside other jobs does not oversubscribe the machine.

The training runs in a fresh Python process (TensorFlow's thread pools are fixed once it has run
an op) on a small cache built by the package, and reports its CPU and wall time. The model is
wide enough for TensorFlow to use more cores when allowed: on the 2-core development machine,
with TensorFlow's default threads it used 1.55-1.61 cores when the other core was free, with
`threads=1` 0.87-1.06 cores. A loaded machine only lowers the ratio (wall time grows, CPU time
does not), so the test never fails because of other work, and it catches extra compute threads
only when a core is free.
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from augablate.data import build_cache, export_embedded

MAX_CPU_PER_WALL = 1.3

CHILD = """
import json, sys, time
from pathlib import Path

import tensorflow  # noqa: F401 - imported before the clock starts

from augablate.protocol import TrainSettings
from augablate.train import run_training
from augablate.variants import AugmentationSettings

cache, out = Path(sys.argv[1]), Path(sys.argv[2])
settings = TrainSettings(
    batch_size=64, steps_per_epoch=15, epochs=3,
    filters=[64, 128], dense_units=32, learning_rate=1e-3,
)
augmentation = AugmentationSettings.from_config({
    "rotation": 40, "width_shift": 0.2, "height_shift": 0.2, "shear": 0.2, "zoom": 0.2,
    "horizontal_flip": True, "fill_mode": "nearest",
})
wall, cpu = time.perf_counter(), time.process_time()
run_training(cache, "all", 1, augmentation, settings, out / "history.csv",
             out / "predictions.csv.gz", out / "metrics.json", threads=1)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"wall_seconds": wall, "cpu_seconds": cpu}))
"""


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("threads")
    images = export_embedded(root / "images")
    build_cache(images, root / "cache", size=48)
    return root / "cache"


def test_a_one_thread_training_uses_about_one_core(tiny_cache, tmp_path):
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
    )
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tiny_cache), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    times = json.loads(result.stdout.strip().splitlines()[-1])
    ratio = times["cpu_seconds"] / times["wall_seconds"]
    assert ratio <= MAX_CPU_PER_WALL, (
        f"threads=1 training used {times['cpu_seconds']:.1f} s CPU in {times['wall_seconds']:.1f} s "
        f"wall ({ratio:.2f} cores; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["threads"] == 1 and metrics["epochs"] == 3
