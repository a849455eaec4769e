"""Shared helpers: the repository's paths, a Snakemake runner that works as a user would
(``python -m snakemake`` in a temporary working directory), and tiny image folders."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = REPO.parent / "shared" / "datasets" / "cats_and_dogs_filtered.zip"


def run_snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir``; return the finished process (not checked)."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        *args,
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir
    )


def job_stats(output: str) -> dict[str, int]:
    """Jobs per rule from the "Job stats" table Snakemake prints (empty when nothing to do)."""
    if "Job stats:" not in output:
        return {}
    lines = output.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    counts = dict(line.split() for line in lines if line.strip())
    counts.pop("total", None)
    return {rule: int(count) for rule, count in counts.items()}


def train_jobs(output: str) -> list[str]:
    """The training jobs a (dry) run's output lists: rule train's ``{job}`` wildcards."""
    blocks = re.findall(r"^rule train:\n(.*?)(?=^\S|\Z)", output, flags=re.S | re.M)
    return [re.search(r"wildcards: job=(\S+)", block).group(1) for block in blocks]


def trainings(output: str, config: dict) -> int:
    """How many trainings the training jobs of a (dry) run's ``output`` run, by the job table
    of the (validated) ``config``: a job ``rotation_seeds-1-2`` two, ``none-to-all_seeds-1-2``
    two per variant of its group."""
    from augablate.jobs import training_jobs

    jobs = training_jobs(config)
    return sum(len(jobs[name].runs()) for name in train_jobs(output))


def write_image_tree(root: Path, classes=("cats", "dogs"), per_class=(3, 2), size=20, fmt="png"):
    """Write ``root/{train,validation}/<class>/img-N.<fmt>`` with small random RGB images."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in zip(("train", "validation"), per_class, strict=True):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                pixels = rng.integers(0, 256, (size, size + 4, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"img-{index}.{fmt}")
    return root


@pytest.fixture
def image_tree(tmp_path):
    return write_image_tree(tmp_path / "images")


@pytest.fixture(scope="session")
def shipped_dry_run(tmp_path_factory):
    """``snakemake -n --cores 4 --configfile <config>`` in an empty folder, run once per config
    for the session (test_workflow and test_study_config read the same plan of each shipped
    config): a function of the config's path returning the finished process."""
    done: dict[Path, subprocess.CompletedProcess] = {}

    def dry_run(config: Path) -> subprocess.CompletedProcess:
        if config not in done:
            workdir = tmp_path_factory.mktemp("dry-run")
            done[config] = run_snakemake(workdir, "-n", "--cores", "4", "--configfile", str(config))
        return done[config]

    return dry_run


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory):
    """The smoke study run once for the whole session, as a user would (``--cores 2``):
    ``(workdir, config)``. Tests read it and dry-run against it; none may change its outputs."""
    import yaml

    config_file = REPO / "config" / "smoke.yaml"
    workdir = tmp_path_factory.mktemp("smoke")
    result = run_snakemake(workdir, "--cores", "2", "--configfile", str(config_file))
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return workdir, yaml.safe_load(config_file.read_text())


@pytest.fixture(scope="session")
def folder_sweep_study(tmp_path_factory):
    """A study of one's own images (the folder source, with an AppleDouble file to ignore) that
    sweeps rotation's strength, run once for the session as a user would: the smoke study's
    settings on a folder of 2 x 28 images, variants none, rotation@10, rotation@20 and
    rotation@40 of one seed, the 4 trainings in one job (one TensorFlow start-up).
    ``(workdir, folder)``; tests/test_real_data.py checks the folder source on it,
    tests/test_workflow.py the sweep's dose-response. One study for both: a study costs its
    start-ups (data, training, figures) more than its trainings. Tests must leave its outputs
    and its folder as made (a test that changes the folder puts it back)."""
    import yaml

    root = tmp_path_factory.mktemp("folder-sweep")
    folder = write_image_tree(root / "my photos", per_class=(20, 8), size=24)
    (folder / "train" / "cats" / "._img-0.png").write_bytes(b"AppleDouble")
    study = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    study["data"] = {"name": "my-photos", "source": "folder", "path": str(folder), "image_size": 24}
    # one seed: the sweep's intervals are then over images only, which is what it tests too
    study["variants"] = ["none", "rotation@10", "rotation@20", "rotation@40"]
    study["train"]["seeds"] = [1]
    study["resources"]["variants_per_job"] = 4
    work = root / "work"
    work.mkdir()
    (work / "study.yaml").write_text(yaml.safe_dump(study))
    result = run_snakemake(work, "--cores", "2", "--configfile", "study.yaml")
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return work, folder


def read_tensorboard(logdir: Path):
    """The event files under ``logdir`` read back with tbparse (TensorBoard's own reader):
    ``(scalars, hparams)``, two tables with the run's folder relative to ``logdir`` in
    ``dir_name``: scalars one row per (run, tag, step) with ``value`` (TF 2's
    ``tf.summary.scalar`` stores them as tensors, which TensorBoard shows as scalars); hparams
    one row per (run, tag)."""
    from tbparse import SummaryReader

    reader = SummaryReader(str(logdir), extra_columns={"dir_name"})
    return reader.tensors, reader.hparams


def bound(trials: int, rate: float, failure: float) -> int:
    """The largest count a rate of ``rate`` exceeds with probability below ``failure`` (a
    calibration's binomial bound on simulated rejections)."""
    from scipy import stats

    return int(stats.binom.isf(failure, trials, rate))
