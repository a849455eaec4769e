import json
import os
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from augablate.data import (
    DataError,
    build_cache,
    check_layout,
    decode_image,
    download,
    embedded_split,
    export_embedded,
    extract_archive,
    load_meta,
    load_split,
)


def test_layout_of_a_good_tree(image_tree):
    assert check_layout(image_tree) == ["cats", "dogs"]


def test_layout_names_a_missing_split(image_tree):
    shutil.rmtree(image_tree / "validation")
    with pytest.raises(DataError, match="missing split folder .*validation"):
        check_layout(image_tree)


def test_layout_names_an_empty_class_and_differing_classes(image_tree):
    for path in (image_tree / "train" / "dogs").iterdir():
        path.unlink()
    (image_tree / "validation" / "birds").mkdir()
    Image.new("RGB", (4, 4)).save(image_tree / "validation" / "birds" / "b.png")
    with pytest.raises(DataError) as error:
        check_layout(image_tree)
    message = str(error.value)
    assert "train/dogs has no images" in message
    assert "only in validation ['birds']" in message


def test_cache_round_trip(image_tree, tmp_path):
    meta = build_cache(image_tree, tmp_path / "cache", size=16, resize="nearest")
    images, labels = load_split(tmp_path / "cache", "train")
    assert isinstance(images, np.memmap)
    assert images.shape == (6, 16, 16, 3) and images.dtype == np.uint8
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert meta == load_meta(tmp_path / "cache")
    assert meta["classes"] == ["cats", "dogs"]
    assert meta["splits"]["validation"]["count"] == 4
    first = meta["splits"]["train"]["files"][0]
    expected = np.asarray(
        Image.open(image_tree / first).convert("RGB").resize((16, 16), Image.Resampling.NEAREST)
    )
    np.testing.assert_array_equal(images[0], expected)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_decoding_converts_every_mode_to_rgb(tmp_path, mode):
    path = tmp_path / ("image.jpg" if mode == "CMYK" else "image.png")
    Image.new(mode, (30, 20)).save(path)
    decoded = decode_image(path, 12)
    assert decoded.shape == (12, 12, 3) and decoded.dtype == np.uint8


def test_undecodable_files_are_all_named(image_tree, tmp_path):
    (image_tree / "train" / "cats" / "broken.jpg").write_bytes(b"not an image")
    (image_tree / "validation" / "dogs" / "empty.png").write_bytes(b"")
    with pytest.raises(DataError) as error:
        build_cache(image_tree, tmp_path / "cache", size=8)
    assert "broken.jpg" in str(error.value) and "empty.png" in str(error.value)
    meta = build_cache(image_tree, tmp_path / "cache", size=8, skip_bad=True)
    assert meta["splits"]["train"]["count"] == 6
    assert any("broken.jpg" in entry for entry in meta["skipped"]["train"])


def zip_tree(tree, archive, prefix="data/"):
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + str(path.relative_to(tree)))
    return archive


def test_extract_finds_the_split_root(image_tree, tmp_path):
    archive = zip_tree(image_tree, tmp_path / "a.zip")
    images = extract_archive(archive, tmp_path / "out" / "images")
    assert check_layout(images) == ["cats", "dogs"]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("member", ["../evil.png", "/abs/evil.png"])
def test_extract_refuses_unsafe_members(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(member, b"x")
    with pytest.raises(DataError, match="unsafe member"):
        extract_archive(archive, tmp_path / "images")
    assert not (tmp_path / "images").exists()


def test_extract_refuses_links_and_bombs(image_tree, tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("data/train/cats/link.png")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="symbolic link"):
        extract_archive(archive, tmp_path / "extracted")
    big = zip_tree(image_tree, tmp_path / "big.zip")
    with pytest.raises(DataError, match="max_uncompressed_bytes"):
        extract_archive(big, tmp_path / "extracted", max_bytes=100)
    assert not (tmp_path / "extracted").exists()


def test_download_from_a_path_verifies_size_and_checksum(tmp_path):
    source = tmp_path / "source.zip"
    source.write_bytes(b"0123456789")
    target = tmp_path / "dl" / "archive.zip"
    sha = "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882"
    download(str(source), target, expected_bytes=10, expected_sha256=sha)
    assert target.read_bytes() == b"0123456789"
    target.unlink()
    with pytest.raises(DataError, match=r"sha256 .* expected 0{64}.*data.sha256"):
        download(f"file://{source}", target, expected_sha256="0" * 64)
    with pytest.raises(DataError, match=r"11.*data.bytes"):
        download(str(source), target, expected_bytes=11)
    with pytest.raises(DataError, match=r"ftp.*data.url"):
        download("ftp://example.invalid/a.zip", target)
    with pytest.raises(DataError, match="does not exist"):
        download(str(tmp_path / "missing.zip"), target)
    assert os.listdir(target.parent) == []


def test_embedded_export_is_the_documented_split(tmp_path):
    images = export_embedded(tmp_path / "images")
    assert check_layout(images) == [str(d) for d in range(10)]
    counts = {
        split: len(list((images / split).rglob("*.png"))) for split in ("train", "validation")
    }
    assert counts == {"train": 599, "validation": 1198}
    assert [embedded_split(i) for i in range(4)] == ["train", "validation", "validation", "train"]
    first = np.asarray(Image.open(images / "train" / "0" / "digit-0000.png"))
    assert first.shape == (8, 8) and first.max() == 239  # 15 of 16 grey levels, scaled


def test_meta_is_json(image_tree, tmp_path):
    build_cache(image_tree, tmp_path / "cache", size=8)
    with open(tmp_path / "cache" / "meta.json") as handle:
        assert json.load(handle)["image_size"] == 8
