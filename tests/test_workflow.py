"""The workflow as a user runs it: lint, dry runs, the smoke study end to end, and the archive
path from a loopback HTTP server and from the shared copy of the reference data."""

import csv
import functools
import http.server
import json
import threading
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import (
    REPO,
    SHARED_ARCHIVE,
    job_stats,
    run_snakemake,
    train_jobs,
    trainings,
    write_image_tree,
)

from augablate.jobs import run_folder, training_jobs
from augablate.protocol import RUN_FILES
from augablate.settings import load_config

CONFIGS = sorted((REPO / "config").glob("*.yaml"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_lint_is_clean(tmp_path):
    result = run_snakemake(REPO, "--lint")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_dry_run_of_every_shipped_config(shipped_dry_run, config):
    result = shipped_dry_run(config)
    assert result.returncode == 0, result.stderr
    loaded = load_config(config)
    counts = job_stats(result.stdout)
    assert trainings(result.stdout, loaded) == (
        len(loaded["variants"]) * len(loaded["train"]["seeds"])
    )
    # one rule, train, once per job of the job table; no other rule trains
    assert counts["train"] == len(training_jobs(loaded))
    assert sorted(train_jobs(result.stdout)) == sorted(training_jobs(loaded))
    assert not [rule for rule in counts if rule.startswith("train_")]


def test_until_train_stops_after_the_training_jobs(tmp_path):
    """The one training rule is named train: --until train (and --forcerun train, below)
    name every training job."""
    result = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "2",
        "--until",
        "train",
        "--configfile",
        str(REPO / "config" / "smoke.yaml"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_stats(result.stdout) == {"export_embedded": 1, "cache": 1, "train": 3}


def test_a_bad_config_fails_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: -3\n")
    result = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "1",
        "--configfile",
        str(REPO / "config" / "smoke.yaml"),
        str(bad),
    )
    assert result.returncode != 0
    assert (
        "config key 'train.epochs': -3 is less than the minimum of 1"
        in result.stdout + result.stderr
    )
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_smoke_study_end_to_end(smoke_study):
    workdir, config = smoke_study
    variants, seeds = config["variants"], config["train"]["seeds"]
    epochs = config["train"]["epochs"]
    tables = workdir / "results" / "tables"
    images = pd.read_csv(tables / "images.csv.gz")
    runs = pd.read_csv(tables / "runs.csv")
    jobs = training_jobs(load_config(REPO / "config" / "smoke.yaml"))
    job_of = {run: name for name, job in jobs.items() for run in job.runs()}
    for variant in variants:
        for seed in seeds:
            job = job_of[variant, seed]
            run = workdir / run_folder(job, variant, seed)
            history = pd.read_csv(run / "history.csv")
            assert history["epoch"].tolist() == list(range(1, epochs + 1))
            measured = [
                "augmented_batch_loss",
                "augmented_batch_accuracy",
                "val_loss",
                "val_accuracy",
            ]
            assert history[measured].notna().all().all()
            assert history["clean_train_accuracy"].notna().all()  # clean_train_every: 1
            assert history["val_accuracy"].between(0, 1).all()
            # every validation image scored exactly once per epoch, and the epoch's accuracy is
            # the mean of those per-image results
            predictions = pd.read_csv(run / "predictions.csv.gz")
            assert (
                predictions.groupby("epoch")["image"].agg(["count", "nunique"]).eq(1198).all().all()
            )
            by_epoch = predictions.groupby("epoch")["correct"].mean()
            np.testing.assert_allclose(by_epoch.to_numpy(), history["val_accuracy"].to_numpy())
            headline = runs[(runs["variant"] == variant) & (runs["seed"] == seed)]
            per_image = images[(images["variant"] == variant) & (images["seed"] == seed)]
            assert headline["final_val_accuracy"].iloc[0] == pytest.approx(
                per_image["score"].mean()
            )
            metrics = json.loads((run / "metrics.json").read_text())
            assert (metrics["variant"], metrics["seed"]) == (variant, seed)
            assert metrics["environment"]["tensorflow"] and metrics["wall_seconds"] > 0
            assert metrics["validation_images"] == 1198 and metrics["clean_train_images"] == 599
            assert len(metrics["config_hash"]) == 16
            # both seeds of a variant ran in one job (smoke.yaml: seeds_per_job 2), logged apart
            assert job == f"{variant}_seeds-{'-'.join(map(str, seeds))}"
            log = (workdir / "logs" / "train" / f"{job}.log").read_text()
            assert f"variant {variant} seed {seed}:" in log and f"epoch {epochs}/{epochs}" in log
            with open(workdir / "benchmarks" / "train" / f"{job}.tsv") as handle:
                assert "max_rss" in next(csv.reader(handle, delimiter="\t"))
            # a job's folder holds its runs and nothing else
            assert sorted(p.name for p in run.iterdir()) == sorted(RUN_FILES.values())
            timeline = metrics["timeline"]
            first = json.loads((run.parent / f"seed-{seeds[0]}" / "metrics.json").read_text())
            assert timeline["process_start"] == first["timeline"]["process_start"]  # one process
    assert sorted(p.name for p in (workdir / "results" / "train").iterdir()) == sorted(jobs)
    # the checkpoints, kept outside the jobs' folders while they ran, are gone
    assert not (workdir / "results" / "checkpoints").exists()
    # every variant trains with its own augmentation: none and all differ for the same seed
    none = pd.read_csv(workdir / "results/train/none_seeds-1-2/none/seed-1/history.csv")
    everything = pd.read_csv(workdir / "results/train/all_seeds-1-2/all/seed-1/history.csv")
    assert not none["augmented_batch_loss"].equals(everything["augmented_batch_loss"])
    none_metrics = json.loads(
        (workdir / "results/train/none_seeds-1-2/none/seed-1/metrics.json").read_text()
    )
    assert none_metrics["transforms"] == [] and none_metrics["augmentation"]["rotation"] == 0
    assert len(runs) == len(variants) * len(seeds)
    assert sorted(map(tuple, runs[["variant", "seed"]].values.tolist())) == sorted(
        (v, s) for v in variants for s in seeds
    )
    assert len(pd.read_csv(tables / "histories.csv")) == len(variants) * len(seeds) * epochs
    assert len(images) == len(variants) * len(seeds) * 1198
    summary = pd.read_csv(tables / "variants.csv")
    assert summary["variant"].tolist() == variants and (summary["seeds"] == len(seeds)).all()
    contrasts = pd.read_csv(tables / "contrasts.csv")
    assert set(contrasts["verdict"]) <= {
        "helps",
        "hurts",
        "negligible",
        "inconclusive",
        "descriptive",
    }
    report = (workdir / "results" / "report.md").read_text()
    for variant in variants:
        assert f"| {variant} " in report
    assert "### Verdicts (1 primary contrast, Holm-corrected together)" in report
    for figure in (workdir / "results" / "figures").iterdir():
        assert figure.read_bytes()[:8] == PNG_MAGIC, figure
        assert f"(figures/{figure.name})" in report
    assert len(list((workdir / "results" / "figures").iterdir())) == 6


def scheduled(workdir, *changes: str) -> tuple[dict[str, int], set[str]]:
    """The jobs a dry run of the smoke study with ``changes`` (YAML texts, added after the
    study's config) would run, per rule, and the training jobs among them by name."""
    files = []
    for index, text in enumerate(changes):
        path = workdir / f"change-{index}.yaml"
        path.write_text(text)
        files.append(str(path))
    result = run_snakemake(
        workdir, "-n", "--cores", "2", "--configfile", str(REPO / "config" / "smoke.yaml"), *files
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return job_stats(result.stdout), set(train_jobs(result.stdout))


ANALYSIS = {"aggregate": 1, "figure": 5, "report": 1, "all": 1}
SMOKE_VARIANTS = ("none", "rotation", "all")


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, expected, jobs",
    [
        ("", {}, set()),
        (
            "train: {seeds: [1, 2, 3]}\n",
            {"train": 3, **ANALYSIS},
            {f"{v}_seed-3" for v in SMOKE_VARIANTS},
        ),
        (
            "resources: {seeds_per_job: 1}\n",
            {"train": 6, **ANALYSIS},
            {f"{v}_seed-{s}" for v in SMOKE_VARIANTS for s in (1, 2)},
        ),
        (
            "resources: {seeds_per_job: 3}\ntrain: {seeds: [1, 2, 3]}\n",
            {"train": 3, **ANALYSIS},
            {f"{v}_seeds-1-2-3" for v in SMOKE_VARIANTS},
        ),
        (
            "variants: [none, rotation, zoom, all]\n",
            {"train": 1, "augmentation_grid": 1, **ANALYSIS},
            {"zoom_seeds-1-2"},
        ),
        ("analysis: {last_k: 1}\n", ANALYSIS, set()),
        ("analysis: {equivalence_margin: 2.0}\n", ANALYSIS, set()),
        ("analysis: {grid_draws: 1}\n", {"augmentation_grid": 1, "report": 1, "all": 1}, set()),
        (
            "augmentation: {rotation: 20}\n",
            {"train": 2, "augmentation_grid": 1, **ANALYSIS},
            {"rotation_seeds-1-2", "all_seeds-1-2"},
        ),
        (
            "augmentation: {zoom: 0.1}\n",
            {"train": 1, "augmentation_grid": 1, **ANALYSIS},
            {"all_seeds-1-2"},
        ),
        (
            "train: {learning_rate: 0.01}\n",
            {"train": 3, **ANALYSIS},
            {f"{v}_seeds-1-2" for v in SMOKE_VARIANTS},
        ),
    ],
    ids=[
        "nothing",
        "a-seed",
        "regrouped",
        "a-seed-in-a-partial-job",
        "a-variant",
        "last-k",
        "margin",
        "grid",
        "rotation",
        "zoom",
        "lr",
    ],
)
def test_a_study_grows_by_retraining_only_what_a_change_touches(
    smoke_study, change, expected, jobs
):
    """After a finished study, a dry run schedules only the jobs whose result the change can
    affect: a seed or a variant trains only the new runs (a job of their own), an analysis key
    trains nothing, a transform's range retrains the variants that use it (rotation: rotation
    and all; zoom: all), the learning rate retrains everything. A job is named by its variants
    and seeds and its output is its folder (results/train/<job>/), so regrouping seeds into
    jobs (resources.seeds_per_job) makes new jobs that train their runs again, and so does a
    seed joining a job whose other seeds are done (a job's outputs are made together)."""
    workdir, _ = smoke_study
    assert scheduled(workdir, *([change] if change else [])) == (expected, jobs)


@pytest.mark.slow
def test_forcerun_train_reruns_every_training_job(smoke_study):
    workdir, config = smoke_study
    result = run_snakemake(
        workdir,
        "-n",
        "--cores",
        "2",
        "--forcerun",
        "train",
        "--configfile",
        str(REPO / "config" / "smoke.yaml"),
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert job_stats(result.stdout) == {"train": 3, **ANALYSIS}
    assert set(train_jobs(result.stdout)) == {f"{v}_seeds-1-2" for v in config["variants"]}


@pytest.mark.slow
def test_html_report(smoke_study, tmp_path):
    workdir, _ = smoke_study
    html_file = tmp_path / "report.html"  # outside the shared study: its results stay as made
    result = run_snakemake(
        workdir,
        "--cores",
        "1",
        "--configfile",
        str(REPO / "config" / "smoke.yaml"),
        "--report",
        str(html_file),
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    html = html_file.read_text(errors="replace")
    assert "augmentation_grid.png" in html and "report.md" in html


def serve(directory):
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def data_stage(workdir, config_text):
    (workdir / "study.yaml").write_text(config_text + "model: {filters: [8, 16], dense_units: 8}\n")
    return run_snakemake(
        workdir, "--cores", "2", "--configfile", str(workdir / "study.yaml"), "--until", "cache"
    )


def test_archive_from_a_loopback_http_server(tmp_path):
    import hashlib

    tree = write_image_tree(
        tmp_path / "tree", classes=("ants", "bees", "wasps"), per_class=(4, 2), fmt="jpg"
    )
    served = tmp_path / "served"
    served.mkdir()
    archive = served / "insects.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tree.rglob("*.jpg")):
            zf.write(path, "insects/" + str(path.relative_to(tree)))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    server = serve(served)
    workdir = tmp_path / "work"
    workdir.mkdir()
    try:
        url = f"http://127.0.0.1:{server.server_port}/insects.zip"
        result = data_stage(
            workdir,
            f"data: {{name: insects, source: archive, url: '{url}', sha256: {digest}, bytes: {archive.stat().st_size}, image_size: 24}}\n",
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        meta = json.loads((workdir / "resources/cache/insects-24-nearest/meta.json").read_text())
        assert meta["classes"] == ["ants", "bees", "wasps"]
        assert (meta["splits"]["train"]["count"], meta["splits"]["validation"]["count"]) == (12, 6)
        assert not (workdir / "resources/data/insects/archive.zip").exists(), (
            "the archive is temp()"
        )
        # a wrong checksum fails naming the URL and leaves nothing behind
        bad = tmp_path / "bad"
        bad.mkdir()
        result = data_stage(
            bad,
            f"data: {{name: insects, source: archive, url: '{url}', sha256: '{'0' * 64}', image_size: 24}}\n",
        )
        assert result.returncode != 0
        assert (
            f"download of {url} has sha256 {digest}, expected {'0' * 64}"
            in (bad / "logs/download/insects.log").read_text()
        )
        assert not list((bad / "resources/data/insects").glob("*"))
    finally:
        server.shutdown()


@pytest.mark.skipif(
    not SHARED_ARCHIVE.exists(), reason=f"no shared copy of the reference data at {SHARED_ARCHIVE}"
)
def test_data_stage_on_the_shared_reference_archive(tmp_path):
    result = data_stage(
        tmp_path,
        f"data: {{name: cats_and_dogs_filtered, source: archive, url: '{SHARED_ARCHIVE}', "
        "bytes: 69065758, image_size: 64, "
        "sha256: 09a9b232e2d925e453d2cc49c4191942d88ba2aed88141a9cfef13cadc69875f}\n",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    meta = json.loads(
        (tmp_path / "resources/cache/cats_and_dogs_filtered-64-nearest/meta.json").read_text()
    )
    assert meta["classes"] == ["cats", "dogs"]
    assert meta["splits"]["train"]["per_class"] == {"cats": 1000, "dogs": 1000}
    assert meta["splits"]["validation"]["per_class"] == {"cats": 500, "dogs": 500}


@pytest.mark.slow
def test_a_strength_sweep_runs_end_to_end_with_its_dose_response(folder_sweep_study):
    """The session's sweep of rotation@10, @20 and @40 beside none, one seed (conftest)."""
    workdir, _ = folder_sweep_study
    figure = workdir / "results" / "figures" / "dose_response.png"
    assert figure.read_bytes()[:8] == PNG_MAGIC
    dose = pd.read_csv(workdir / "results" / "tables" / "dose_response.csv")
    assert dose["strength"].tolist() == [0.0, 10.0, 20.0, 40.0]
    run = workdir / "results/train/none-to-rotation@40_seed-1/rotation@20/seed-1"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["augmentation"]["rotation"] == 20.0 and metrics["transforms"] == ["rotation"]
    report = (workdir / "results" / "report.md").read_text()
    assert "## Dose-response" in report and "| 20 " in report
    assert "(figures/dose_response.png)" in report
