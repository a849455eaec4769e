"""The study on a cluster: the smoke study submitted through SLURM (tests/cluster/profile) to a
real SLURM, and the profiles' and the local GPU route's dry runs.

The SLURM tests need a reachable cluster with a free node (`sudo bash
tests/cluster/setup_slurm.sh` makes a single-node one on Debian, as CI does); without one they
skip, saying why.
"""

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import REPO, run_snakemake

from augablate.jobs import run_folder, training_jobs
from augablate.settings import load_config

SMOKE = REPO / "config" / "smoke.yaml"
TEST_PROFILE = REPO / "tests" / "cluster" / "profile"
CLUSTER_PROFILE = REPO / "profiles" / "slurm"
SETUP = "sudo bash tests/cluster/setup_slurm.sh"
USABLE_NODE_STATES = {"idle", "mixed", "allocated", "completing"}


def slurm_unavailable() -> str | None:
    """Why no SLURM job can run here, or None when a node is up."""
    for command in ("sinfo", "sbatch", "squeue", "scontrol"):
        if shutil.which(command) is None:
            return f"no SLURM here: `{command}` not found (set up a test cluster: {SETUP})"
    try:
        result = subprocess.run(
            ["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return f"SLURM not reachable: `sinfo` did not answer in 30 s ({SETUP})"
    if result.returncode != 0:
        return f"SLURM not reachable: `sinfo` failed: {result.stderr.strip()} ({SETUP})"
    states = {state.rstrip("*~#!%$@^-+") for state in result.stdout.split()}
    if not states & USABLE_NODE_STATES:
        return f"no SLURM node up (`sinfo` states: {sorted(states) or 'none'}; {SETUP})"
    return None


def slurm_job(job_id: str) -> dict:
    """The fields of `scontrol show job` (finished jobs stay there MinJobAge seconds)."""
    result = subprocess.run(
        ["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True
    )
    assert result.returncode == 0, f"scontrol knows no job {job_id}: {result.stderr}"
    return dict(re.findall(r"(\w+)=(\S*)", result.stdout))


def cancel_jobs_in(workdir):
    """Cancel SLURM jobs of a run that did not end (a timeout or a failure), by work directory."""
    listing = subprocess.run(
        ["squeue", "--noheader", "--format=%i %Z"], capture_output=True, text=True
    ).stdout
    ids = [line.split()[0] for line in listing.splitlines() if line.split()[1:] == [str(workdir)]]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True)


def result_files(workdir):
    return sorted(
        str(p.relative_to(workdir)) for p in (workdir / "results").rglob("*") if p.is_file()
    )


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load(SMOKE.read_text())


@pytest.fixture(scope="module")
def cluster_study(tmp_path_factory):
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("slurm")
    try:
        result = run_snakemake(
            workdir, "--profile", str(TEST_PROFILE), "--configfile", str(SMOKE), timeout=270
        )
    finally:
        cancel_jobs_in(workdir)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return workdir, result.stdout + result.stderr


@pytest.fixture(scope="module")
def local_study(cluster_study, smoke_study):
    """The same study run locally (the session's smoke study), for comparison; only when the
    cluster run happened."""
    workdir, config = smoke_study
    assert config == yaml.safe_load(SMOKE.read_text())
    return workdir


@pytest.mark.slurm
def test_every_training_ran_as_a_slurm_job(cluster_study, config):
    workdir, output = cluster_study
    jobs = training_jobs(load_config(SMOKE))  # one variant per job, both seeds
    logs = workdir / ".snakemake" / "slurm_logs"
    # only trainings were submitted (rule train, once per job); data, cache, tables, figures
    # and report are localrules
    assert sorted(p.name for p in logs.iterdir()) == ["rule_train"]
    job_ids = set()
    for name, job in jobs.items():
        slurm_logs = list((logs / "rule_train" / name).glob("*.log"))
        assert len(slurm_logs) == 1, slurm_logs
        job_id = slurm_logs[0].stem
        assert job_id.isdigit()
        assert f"SLURM jobid {job_id}" in output
        slurm = slurm_job(job_id)
        assert slurm["JobState"] == "COMPLETED" and slurm["ExitCode"] == "0:0", slurm
        assert slurm["Comment"] == f"rule_train_wildcards_{name}"
        assert slurm["WorkDir"] == str(workdir)
        assert slurm["NumCPUs"] == "1"  # the test profile's set-threads / cpus_per_task
        slurm_log = slurm_logs[0].read_text()
        assert "rule train:" in slurm_log and f"job={name}" in slurm_log
        for variant, seed in job.runs():
            metrics = json.loads(
                (workdir / run_folder(name, variant, seed) / "metrics.json").read_text()
            )
            assert metrics["threads"] == 1  # the job's Snakemake threads reached TensorFlow
        job_ids.add(job_id)
    assert len(job_ids) == len(jobs) == len(config["variants"])


@pytest.mark.slurm
def test_cluster_outputs_match_a_local_run(cluster_study, local_study, config):
    workdir, _ = cluster_study
    assert result_files(workdir) == result_files(local_study)
    variants, seeds = config["variants"], config["train"]["seeds"]
    epochs = config["train"]["epochs"]
    jobs = training_jobs(load_config(SMOKE))
    job_of = {run: name for name, job in jobs.items() for run in job.runs()}
    for variant in variants:
        for seed in seeds:
            run = run_folder(job_of[variant, seed], variant, seed)
            cluster = pd.read_csv(workdir / run / "history.csv")
            local = pd.read_csv(local_study / run / "history.csv")
            assert (
                cluster["epoch"].tolist() == local["epoch"].tolist() == list(range(1, epochs + 1))
            )
            # same seed, same single thread, deterministic ops: the same numbers
            timings = ["epoch_seconds", "evaluation_seconds"]
            pd.testing.assert_frame_equal(
                cluster.drop(columns=timings), local.drop(columns=timings)
            )
            pd.testing.assert_frame_equal(
                pd.read_csv(workdir / run / "predictions.csv.gz"),
                pd.read_csv(local_study / run / "predictions.csv.gz"),
            )
            cluster_metrics = json.loads((workdir / run / "metrics.json").read_text())
            local_metrics = json.loads((local_study / run / "metrics.json").read_text())
            assert cluster_metrics["config_hash"] == local_metrics["config_hash"]
            assert cluster_metrics["threads"] == local_metrics["threads"] == 1
    for table in ("histories", "runs", "variants", "contrasts", "curves", "mcnemar"):
        cluster = pd.read_csv(workdir / "results" / "tables" / f"{table}.csv")
        local = pd.read_csv(local_study / "results" / "tables" / f"{table}.csv")
        assert cluster.shape == local.shape and list(cluster.columns) == list(local.columns)
    assert len(pd.read_csv(workdir / "results/tables/histories.csv")) == (
        len(variants) * len(seeds) * epochs
    )


def training_job_texts(dry_run_output: str) -> list[str]:
    """The description of every training job in a dry run's output."""
    return re.findall(r"^rule train:\n(.*?)(?=^\S|\Z)", dry_run_output, flags=re.S | re.M)


def train_resources(dry_run_output: str) -> list[str]:
    """The `resources:` line of every training job in a dry run's output."""
    return [
        re.search(r"resources: (.*)", job).group(1) for job in training_job_texts(dry_run_output)
    ]


@pytest.mark.parametrize(
    "configfile, jobs",
    [("cats_vs_dogs.yaml", 42), ("config.yaml", 2)],
    ids=["one-seed-per-job", "eight-points-of-two-seeds-per-job"],
)
def test_cluster_profile_dry_run(tmp_path, configfile, jobs):
    """The profile's settings for `train` reach every training job, whatever its seeds."""
    result = run_snakemake(
        tmp_path,
        "-n",
        "--profile",
        str(CLUSTER_PROFILE),
        "--configfile",
        str(REPO / "config" / configfile),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert len(training_job_texts(output)) == jobs
    for line in train_resources(output):
        assert "mem_mb=4096" in line and "runtime=120" in line and "cpus_per_task=4" in line


@pytest.mark.parametrize(
    "seeds_per_job, variants_per_job, jobs", [(1, 1, 42), (3, 1, 14), (2, 1, 28), (1, 4, 12)]
)
def test_settings_given_for_train_reach_every_training_job(
    tmp_path, seeds_per_job, variants_per_job, jobs
):
    grouping = tmp_path / "grouping.yaml"
    grouping.write_text(
        f"resources: {{seeds_per_job: {seeds_per_job}, variants_per_job: {variants_per_job}}}\n"
    )
    result = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "8",
        "--set-threads",
        "train=4",
        "--set-resources",
        "train:mem_mb=3000",
        "--configfile",
        str(REPO / "config" / "one_at_a_time.yaml"),  # 14 variants x 3 seeds to group
        str(grouping),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert len(training_job_texts(output)) == jobs
    assert all("threads: 4" in job for job in training_job_texts(output))
    assert all("mem_mb=3000" in line for line in train_resources(output))


def test_local_gpu_route_dry_run(tmp_path):
    # nested keys cannot be set with --config (they arrive as strings): a small YAML file instead
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text("resources:\n  gpu: true\n")
    result = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "8",
        "--resources",
        "gpu=1",
        "--configfile",
        str(SMOKE),
        str(gpu),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    resources = train_resources(result.stdout + result.stderr)
    # the smoke study: 3 variants, each one job of its 2 seeds
    assert len(resources) == 3 and all("gpu=1" in line for line in resources), resources


GPU_SHARING = "resources:\n  gpu: true\n  trainings_per_gpu: 4\n"


def test_local_route_of_several_trainings_per_gpu_dry_run(tmp_path):
    """resources.trainings_per_gpu 4: each training job asks for one GPU slot and no whole GPU,
    so that --resources gpu_slots=<4 x GPUs> runs 4 trainings per GPU (no GPU here: a dry run)."""
    sharing = tmp_path / "sharing.yaml"
    sharing.write_text(GPU_SHARING)
    result = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "8",
        "--resources",
        "gpu_slots=8",  # 2 GPUs
        "--configfile",
        str(SMOKE),
        str(sharing),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    resources = train_resources(result.stdout + result.stderr)
    assert len(resources) == 3, resources
    for line in resources:
        assert "gpu_slots=1" in line and "gpu=0" in line, line


def test_slurm_route_of_several_trainings_per_gpu_dry_run(tmp_path):
    """On SLURM a GPU slot is a GPU shard: the profile's commented `gres: "shard:1"` for train,
    switched on, reaches every training job with its slot, beside the profile's other settings."""
    profile = tmp_path / "profile"
    shutil.copytree(CLUSTER_PROFILE, profile)
    settings = (profile / "config.yaml").read_text()
    assert '    # gres: "shard:1"' in settings
    (profile / "config.yaml").write_text(
        settings.replace('    # gres: "shard:1"', '    gres: "shard:1"')
    )
    sharing = tmp_path / "sharing.yaml"
    sharing.write_text(GPU_SHARING)
    result = run_snakemake(
        tmp_path, "-n", "--profile", str(profile), "--configfile", str(SMOKE), str(sharing)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "executor: slurm" in output.lower() or "slurm" in output.lower()
    resources = train_resources(output)
    assert len(resources) == 3, resources
    for line in resources:
        assert "gres=shard:1" in line and "gpu_slots=1" in line and "gpu=0" in line, line
        assert "mem_mb=4096" in line and "cpus_per_task=4" in line, line
