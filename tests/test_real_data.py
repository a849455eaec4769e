"""Data as users really have it: archives corrected in place, macOS and Jupyter leftovers, other
image formats, 16-bit and rotated photos, odd file:// URLs. Every case is built here from numpy
and Pillow (small generated archives and folders, nothing committed)."""

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_snakemake, write_image_tree
from PIL import Image
from test_analysis import runs_of

from augablate.analysis import variant_summary, wilson_interval
from augablate.data import DataError, build_cache, decode_image, download, local_source

# --------------------------------------------------------------------------------------------
# What is data
# --------------------------------------------------------------------------------------------


def test_hidden_files_and_folders_are_skipped_and_counted(image_tree, tmp_path):
    (image_tree / "train" / "cats" / "._img-0.png").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (image_tree / "train" / ".DS_Store").write_bytes(b"Bud1")
    checkpoints = image_tree / "train" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    Image.new("RGB", (8, 8)).save(checkpoints / "stray.png")
    (image_tree / "validation" / "__MACOSX").mkdir()
    (image_tree / "validation" / "dogs" / "notes.txt").write_text("not an image")
    meta = build_cache(image_tree, tmp_path / "cache", size=16)
    assert meta["classes"] == ["cats", "dogs"]
    assert meta["splits"]["train"]["count"] == 6 and meta["splits"]["validation"]["count"] == 4
    assert meta["ignored"]["hidden"] == 4
    assert "train/cats/._img-0.png" in meta["ignored"]["hidden_examples"]
    assert "train/.ipynb_checkpoints" in meta["ignored"]["hidden_examples"]
    assert meta["ignored"]["other_suffixes"] == {".txt": 1}


def test_other_formats_are_decoded_and_the_rest_counted(tmp_path):
    root = write_image_tree(tmp_path / "images", per_class=(4, 2), size=12)
    folder = root / "train" / "cats"
    pixels = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    for suffix in (".webp", ".bmp", ".tif"):
        Image.fromarray(pixels).save(folder / f"extra{suffix}", lossless=True)
    frames = [Image.fromarray(pixels), Image.fromarray(255 - pixels)]
    frames[0].save(folder / "moving.GIF", save_all=True, append_images=frames[1:])
    (folder / "labels.csv").write_text("a,b\n")
    meta = build_cache(root, tmp_path / "cache", size=16)
    assert meta["splits"]["train"]["per_class"]["cats"] == 4 + 4  # 4 PNG + webp, bmp, tif, gif
    assert meta["ignored"]["other_suffixes"] == {".csv": 1}
    first = (
        Image.open(folder / "moving.GIF").convert("RGB").resize((16, 16), Image.Resampling.NEAREST)
    )
    np.testing.assert_array_equal(decode_image(folder / "moving.GIF", 16), np.asarray(first))


def test_a_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    grey = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(grey).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    decoded = decode_image(tmp_path / "deep.png", 8)
    np.testing.assert_array_equal(decoded[..., 0], np.rint(grey / 257).astype(np.uint8))
    assert decoded.min() == 0 and decoded.max() == 255 and len(np.unique(decoded)) == 64


def test_exif_orientation_is_ignored_by_default_and_applied_on_request(tmp_path):
    pixels = np.zeros((6, 10, 3), np.uint8)
    pixels[:, :3] = 255  # a bright band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    Image.fromarray(pixels).save(tmp_path / "phone.png", exif=exif)
    ignored = decode_image(tmp_path / "phone.png", 10, exif_orientation="ignore")
    upright = decode_image(tmp_path / "phone.png", 10, exif_orientation="apply")
    assert ignored[:, 0].mean() == 255  # the band stays on the left
    assert upright[0].mean() == 255 and upright[-1].mean() == 0  # turned: the band on top


def test_classes_that_differ_in_file_kind_or_size_are_warned_about(tmp_path):
    root = write_image_tree(tmp_path / "images", per_class=(3, 2), size=12)
    for path in (root / "train" / "dogs").glob("*.png"):  # every training dog a JPEG
        Image.open(path).convert("RGB").resize((40, 40)).save(path.with_suffix(".jpg"))
        path.unlink()
    meta = build_cache(root, tmp_path / "cache", size=16)
    warnings = " ".join(meta["warnings"])
    assert "100% of class 'cats' but 0% of class 'dogs' are PNG/RGB files" in warnings
    assert "class 'dogs' has" in warnings and "times the pixels of class 'cats'" in warnings


# --------------------------------------------------------------------------------------------
# Where the data are
# --------------------------------------------------------------------------------------------


def test_file_urls_are_unquoted_home_expanded_and_relative_paths_named(tmp_path, monkeypatch):
    spaced = tmp_path / "my data"
    spaced.mkdir()
    archive = spaced / "my data.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    assert download(f"file://{str(archive).replace(' ', '%20')}", tmp_path / "a.zip").exists()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert local_source("~/my data/my data.zip") == archive
    monkeypatch.chdir(spaced)
    assert local_source("my data.zip") == archive
    with pytest.raises(DataError) as error:
        download("missing.zip", tmp_path / "b.zip")
    message = str(error.value)
    assert f"archive {spaced / 'missing.zip'} does not exist" in message
    assert "config key 'data.url': 'missing.zip'" in message and "working directory" in message


def archive_of(tree: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(tree.rglob("*.png")):
            zf.write(file, "set/" + str(file.relative_to(tree)))
    return path


def test_a_corrected_or_replaced_archive_is_read_again_and_errors_reach_the_console(tmp_path):
    """A layout error names the archive's member paths on the console; correcting the zip in
    place, or replacing it after a finished data stage, reruns the data stage."""
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "study.yaml").write_text(
        "data: {name: pets, source: archive, url: data/pets.zip, image_size: 24}\n"
        "model: {filters: [8, 16], dense_units: 8}\n"
    )
    broken = write_image_tree(tmp_path / "broken", per_class=(2, 1), size=12)
    (broken / "validation" / "dogs").rename(broken / "validation" / "dog")
    archive_of(broken, work / "data" / "pets.zip")

    def data_stage(*extra):
        return run_snakemake(
            work, "--cores", "1", "--configfile", "study.yaml", *extra, "--until", "cache"
        )

    failed = data_stage()
    console = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "classes differ between splits in set in archive" in console, console[-3000:]
    assert ".images." not in console  # no temporary folder named
    good = write_image_tree(tmp_path / "good", per_class=(2, 1), size=12)
    archive_of(good, work / "data" / "pets.zip")
    fixed = data_stage()
    assert fixed.returncode == 0, (fixed.stdout + fixed.stderr)[-3000:]
    meta_path = work / "resources/cache/pets-24-nearest/meta.json"
    assert json.loads(meta_path.read_text())["classes"] == ["cats", "dogs"]
    unchanged = data_stage("-n")
    assert "rule download" not in unchanged.stdout + unchanged.stderr  # nothing to read again
    three = write_image_tree(tmp_path / "three", classes=("ants", "bees", "wasps"), size=12)
    archive_of(three, work / "data" / "pets.zip")
    os.utime(work / "data" / "pets.zip")
    rerun = data_stage()
    assert rerun.returncode == 0 and "rule download" in rerun.stdout + rerun.stderr
    assert json.loads(meta_path.read_text())["classes"] == ["ants", "bees", "wasps"]


def test_a_missing_local_archive_is_named_before_any_job(tmp_path):
    (tmp_path / "study.yaml").write_text(
        "data: {name: pets, source: archive, url: nowhere/pets.zip, image_size: 24}\n"
        "model: {filters: [8, 16], dense_units: 8}\n"
    )
    result = run_snakemake(tmp_path, "-n", "--cores", "1", "--configfile", "study.yaml")
    console = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"names {tmp_path / 'nowhere' / 'pets.zip'}, which does not exist" in console


# --------------------------------------------------------------------------------------------
# What the report says
# --------------------------------------------------------------------------------------------


def test_an_accuracy_of_100_percent_has_a_wilson_interval_not_a_zero_width_one():
    import pandas as pd

    images = pd.DataFrame(
        {
            "variant": "none",
            "seed": np.repeat([1, 2], 19),
            "image": np.tile([f"v/{i}.png" for i in range(19)], 2),
            "label": np.tile(["a"] * 10 + ["b"] * 9, 2),
            "score": 1.0,
            "last_epoch_correct": 1,
        }
    )
    row = variant_summary(runs_of(images), images).iloc[0]
    low, high = wilson_interval(1.0, 19)
    assert (row["final_val_accuracy_ci_low"], row["final_val_accuracy_ci_high"]) == (low, high)
    assert 0.8 < low < 1.0 and high == pytest.approx(1.0)
    assert row["final_val_accuracy_ci_population"] == "images (every run alike)"
    assert row["images"] == 19 and row["chance_level"] == pytest.approx(10 / 19)


def test_the_workflow_profile_shows_failed_logs():
    text = (REPO / "profiles" / "default" / "config.yaml").read_text()
    assert "show-failed-logs: true" in text


@pytest.mark.slow
def test_a_folder_source_runs_the_smoke_study_and_is_read_again_when_it_changes(
    folder_sweep_study,
):
    work, folder = folder_sweep_study  # the smoke study's settings on a folder (conftest)
    meta = json.loads((work / "resources/cache/my-photos-24-nearest/meta.json").read_text())
    assert meta["classes"] == ["cats", "dogs"] and meta["ignored"]["hidden"] == 1
    assert meta["splits"]["train"]["count"] == 40
    report = (work / "results" / "report.md").read_text()
    assert f"my-photos from the folder {folder};" in report and "1 hidden file(s)" in report
    unchanged = run_snakemake(work, "-n", "--cores", "2", "--configfile", "study.yaml")
    assert "Nothing to be done" in unchanged.stdout + unchanged.stderr
    image = folder / "validation" / "dogs" / "img-0.png"
    before, stat = image.read_bytes(), image.stat()
    try:
        Image.new("RGB", (24, 24), "white").save(image)
        changed = run_snakemake(work, "-n", "--cores", "2", "--configfile", "study.yaml")
    finally:  # the session's study stays as made for the other tests
        image.write_bytes(before)
        os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    output = changed.stdout + changed.stderr
    assert "rule import_folder" in output and "rule cache" in output and "rule train:" in output
    again = run_snakemake(work, "-n", "--cores", "2", "--configfile", "study.yaml")
    assert "Nothing to be done" in again.stdout + again.stderr  # put back as it was
