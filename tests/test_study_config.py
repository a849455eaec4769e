"""What you ran is what you asked for: the same config files make the same study wherever
snakemake runs, every shipped config does what its header says, and a folder run twice at once
or with odd files stops with one line that names the culprit."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SHARED_ARCHIVE, job_stats, run_snakemake, write_image_tree

from augablate.settings import load_config

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _dry_run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNAKEMAKE, "-n", "--cores", "4", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )


def test_the_same_config_plans_the_same_jobs_from_the_root_with_directory_and_with_s(tmp_path):
    """A minimal config of one's own: from the repository's root, with --directory and with -s
    it plans identical jobs (it stood on config/config.yaml only from the root before)."""
    images = write_image_tree(tmp_path / "images", per_class=(12, 10))
    minimal = tmp_path / "minimal.yaml"
    minimal.write_text(
        yaml.safe_dump(
            {
                "data": {"name": "x", "source": "folder", "path": str(images)},
                "variants": ["none", "rotation", "all"],
            }
        )
    )
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "with-s").mkdir()
    plans = {
        "root": _dry_run(REPO, "--configfile", str(minimal)),
        "directory": _dry_run(
            tmp_path,
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path / "elsewhere"),
            "--configfile",
            str(minimal),
        ),
        "-s": _dry_run(
            tmp_path / "with-s", "-s", str(REPO / "Snakefile"), "--configfile", str(minimal)
        ),
    }
    for way, result in plans.items():
        assert result.returncode == 0, (way, result.stderr[-3000:])
    stats = {way: job_stats(result.stdout) for way, result in plans.items()}
    assert stats["root"] == stats["directory"] == stats["-s"], stats
    # the schema's defaults under the user's file: one job per (variant, seed) of 3 seeds
    config = load_config(minimal)
    assert config["resources"]["variants_per_job"] == 1
    assert sum(n for rule, n in stats["root"].items() if rule.startswith("train")) == 3 * 3


def test_without_a_configfile_the_default_study_is_found_from_any_folder(tmp_path):
    """config/config.yaml is read beside the workflow, not in the working directory."""
    result = _dry_run(tmp_path, "-s", str(REPO / "Snakefile"))
    assert result.returncode == 0, result.stderr[-3000:]
    stats = job_stats(result.stdout)
    assert stats.get("export_embedded") == 1, stats
    default = load_config(REPO / "config" / "config.yaml")
    assert _plan(result.stdout, default)["trainings"] == 32  # 16 design points x 2 seeds


# --------------------------------------------------------------------------------------------
# Shipped configs say what they run
# --------------------------------------------------------------------------------------------

PLAN = re.compile(
    r"^# Plan: (?P<variants>\d+) variants x (?P<seeds>\d+) seeds = (?P<trainings>\d+) trainings "
    r"in (?P<jobs>\d+) jobs \((?P<per_job>\d+) trainings?, (?P<threads>\d+) threads?, "
    r"(?P<mem_mb>\d+) MB each\)$",
    re.MULTILINE,
)
STUDIES = [
    "config.yaml",
    "smoke.yaml",
    "known_answer.yaml",
    "cats_vs_dogs.yaml",
    "one_at_a_time.yaml",
    "cats_vs_dogs_factorial.yaml",
]


def _training_jobs(output: str, config: dict) -> list[dict]:
    """Each planned training job of a dry run: its threads, mem_mb and runs (by the job table of
    the config, from the job's name in the dry run)."""
    from augablate.jobs import training_jobs

    table = training_jobs(config)
    jobs = []
    for block in re.split(r"\n(?=rule |localrule )", output):
        if not re.match(r"(?:local)?rule train:", block):
            continue
        threads = re.search(r"^\s+threads: (\d+)", block, re.MULTILINE)
        mem = re.search(r"mem_mb=(\d+)", block)
        name = re.search(r"^\s+wildcards: job=(\S+)", block, re.MULTILINE).group(1)
        jobs.append(
            {
                "threads": int(threads.group(1)) if threads else 1,
                "mem_mb": int(mem.group(1)),
                "runs": table[name].runs(),
            }
        )
    return jobs


def _plan(output: str, config: dict) -> dict:
    jobs = _training_jobs(output, config)
    return {
        "variants": len(config["variants"]),
        "seeds": len(config["train"]["seeds"]),
        "trainings": sum(len(job["runs"]) for job in jobs),
        "jobs": len(jobs),
        "per_job": sorted({len(job["runs"]) for job in jobs}),
        "threads": sorted({job["threads"] for job in jobs}),
        "mem_mb": sorted({job["mem_mb"] for job in jobs}),
    }


@pytest.mark.parametrize("name", STUDIES)
def test_every_shipped_study_plans_what_its_header_says(shipped_dry_run, name):
    path = REPO / "config" / name
    header = PLAN.search(path.read_text())
    assert header, f"{path} has no '# Plan: ...' line saying what it runs"
    said = {key: int(value) for key, value in header.groupdict().items()}
    result = shipped_dry_run(path)
    assert result.returncode == 0, result.stderr[-3000:]
    planned = _plan(result.stdout, load_config(path))
    assert planned == {
        **{key: said[key] for key in ("variants", "seeds", "trainings", "jobs")},
        "per_job": [said["per_job"]],
        "threads": [said["threads"]],
        "mem_mb": [said["mem_mb"]],
    }
    assert said["variants"] * said["seeds"] == said["trainings"] == said["jobs"] * said["per_job"]


def _header_commands() -> list[tuple[str, str]]:
    files = sorted((REPO / "config").glob("*.yaml")) + sorted((REPO / "docs").rglob("*.yaml"))
    commands = []
    for path in files:
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            if match := re.match(r"^#\s+(snakemake .*)$", line):
                commands.append((str(path.relative_to(REPO)), match.group(1)))
    return commands


@pytest.mark.parametrize("where, command", _header_commands())
def test_every_command_in_a_config_header_runs(where, command):
    """The commands config headers give are dry-run from the repository's root, as written."""
    arguments = shlex.split(command)
    if any("../shared/" in argument for argument in arguments) or any(
        "../shared/" in (REPO / a).read_text() for a in arguments if a.endswith(".yaml")
    ):
        if not SHARED_ARCHIVE.exists():
            pytest.skip(f"{SHARED_ARCHIVE} is not here")
    result = _dry_run(REPO, *arguments[1:])
    assert result.returncode == 0, f"{where}: {command}\n{result.stderr[-3000:]}"
    assert "This was a dry-run" in result.stdout or "Nothing to be done" in result.stdout


# --------------------------------------------------------------------------------------------
# Bad folders, two runs at once, interrupted attempts
# --------------------------------------------------------------------------------------------


def test_a_broken_link_in_a_data_folder_is_one_line_naming_it(tmp_path):
    images = write_image_tree(tmp_path / "images", per_class=(12, 10))
    link = images / "train" / "cats" / "gone.png"
    link.symlink_to(tmp_path / "nowhere.png")
    study = tmp_path / "study.yaml"
    study.write_text(
        yaml.safe_dump(
            {"data": {"name": "x", "source": "folder", "path": str(images)}, "variants": ["none"]}
        )
    )
    result = run_snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(study))
    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{link} is a link to {tmp_path / 'nowhere.png'}, which does not exist" in said
    assert "shutil.Error" not in said and "Traceback" not in said


def test_a_second_run_started_beside_a_running_one_stops_with_one_line(tmp_path):
    config = REPO / "config" / "smoke.yaml"
    first = subprocess.Popen(
        [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--cores", "1", "--configfile", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
        start_new_session=True,
    )
    try:
        lock = tmp_path / ".snakemake" / "augablate-run.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before the test could start another"
        second = subprocess.run(
            [
                *SNAKEMAKE,
                "-s",
                str(REPO / "Snakefile"),
                "--cores",
                "1",
                "--configfile",
                str(config),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=ENV,
        )
        said = second.stdout + second.stderr
        assert second.returncode != 0
        assert f"another snakemake run (pid {first.pid}, started" in said
        assert "IncompleteFilesException" not in said
        # a dry run beside it is fine: it runs no job
        beside = _dry_run(tmp_path, "-s", str(REPO / "Snakefile"), "--configfile", str(config))
        assert beside.returncode == 0, beside.stderr[-2000:]
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(timeout=60)


def test_the_log_of_an_interrupted_attempt_is_kept(tmp_path):
    """Snakemake deletes a job's log before it runs the job again; its attempts stay."""
    log = tmp_path / "logs" / "train" / "job.log"
    program = (
        "import logging, sys; from augablate.logs import log_to_file; "
        "log_to_file(sys.argv[1]); logging.info(sys.argv[2])"
    )
    for words in ("first attempt, interrupted", "second attempt"):
        log.unlink(missing_ok=True)  # what Snakemake does before each attempt
        subprocess.run([sys.executable, "-c", program, str(log), words], check=True, env=ENV)
        time.sleep(1.1)  # attempts are named by their start second
    attempts = sorted((log.parent / "attempts").glob("job.*.log"))
    assert [path.read_text().count("attempt") for path in attempts] == [1, 1]
    assert "first attempt, interrupted" in attempts[0].read_text()
    assert "second attempt" in attempts[1].read_text() and "second attempt" in log.read_text()
    assert "first attempt" not in log.read_text()


def test_classes_below_the_minimum_are_warned_in_the_cache_meta(tmp_path):
    """A training class of one image ran silently; it is now a warning in meta.json, which
    the cache's log and the report print."""
    from augablate.data import build_cache
    from augablate.data.cache import MIN_CLASS_IMAGES

    images = write_image_tree(
        tmp_path / "images", classes=("circle", "triangle"), per_class=(12, 3)
    )
    for extra in range(1, 12):  # one training triangle left
        (images / "train" / "triangle" / f"img-{extra}.png").unlink()
    meta = build_cache(images, tmp_path / "cache", size=16)
    advice = "check the folder, or expect its results to say little about that class"
    assert [w for w in meta["warnings"] if "fewer than" in w] == [
        f"train: class 'triangle' has only 1 image(s) (fewer than {MIN_CLASS_IMAGES}); {advice}",
        f"validation: class 'circle' has only 3 image(s) (fewer than {MIN_CLASS_IMAGES}); {advice}",
        f"validation: class 'triangle' has only 3 image(s) (fewer than {MIN_CLASS_IMAGES}); {advice}",
    ]


# --------------------------------------------------------------------------------------------
# The HTML report opens on the answer, and describes its own study
# --------------------------------------------------------------------------------------------


def test_the_html_report_opens_on_the_verdicts_of_its_own_study(smoke_study, tmp_path):
    workdir, _ = smoke_study
    config = str(REPO / "config" / "smoke.yaml")
    html_path = tmp_path / "report.html"
    made = run_snakemake(workdir, "--report", str(html_path), "--configfile", config)
    assert made.returncode == 0, made.stderr[-3000:]
    page = html_path.read_text()
    landing = (workdir / "results" / "report-landing.rst").read_text()
    report = (workdir / "results" / "report.md").read_text()
    # the description Snakemake shows first is the landing page: the answer's verdict table,
    # the power sentence and the main figures, from report.md's own answer section
    assert "augablate-answer" in page and "Verdicts (1 primary contrast" in page
    power = re.search(r"^Power: .*$", report, re.MULTILINE).group(0)
    assert power[:60] in page
    assert landing.count("data:image/png;base64,") == 3  # contrasts, learning curves, accuracy
    assert f"<code>{config}</code>" in page  # the config file that made the study
    # made with another config (here: none, the default study), the report is refused
    other = run_snakemake(workdir, "--report", str(tmp_path / "other.html"))
    said = other.stdout + other.stderr
    assert other.returncode != 0 and not (tmp_path / "other.html").exists()
    assert "results/report-study.json records a study made by `snakemake --cores all" in said
    assert f"--configfile {config}`" in said


def test_the_landing_page_is_clean_restructured_text(tmp_path):
    """docutils reads it without a warning (a line over its 10,000-character limit dropped the
    figures silently)."""
    from docutils.core import publish_parts
    from PIL import Image

    from augablate.landing import landing_page

    figure = tmp_path / "contrasts.png"
    Image.new("RGB", (400, 300), "white").save(figure)
    rst = landing_page(
        title="digits",
        report="# R\n\n## Answer\n\n### Verdicts\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## Overfitting\n",
        figures={"contrasts": ("Contrasts", figure), "other": ("Other", figure)},
        config_files=["config/smoke.yaml"],
        command="snakemake --cores all --configfile config/smoke.yaml",
    )
    rst = rst.replace("{% raw %}", "").replace("{% endraw %}", "")
    body = publish_parts(rst, writer="html", settings_overrides={"halt_level": 2})["body"]
    assert "<table>" in body and "<h3>Verdicts</h3>" in body and "Overfitting" not in body
    assert body.count("data:image/png;base64,") == 1  # only the main figures
    assert "config/smoke.yaml" in body
