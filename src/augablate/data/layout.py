"""Extract an archive safely and check the folder layout every source ends in."""

from __future__ import annotations

import zipfile
from pathlib import Path

from augablate.data.common import IMAGE_SUFFIXES, SPLITS, DataError
from augablate.io import staged_directory


def _check_member(info: zipfile.ZipInfo, archive: Path) -> None:
    name = info.filename
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise DataError(f"archive {archive} has an unsafe member path {name!r}")
    mode = info.external_attr >> 16
    if mode and (mode & 0o170000) == 0o120000:
        raise DataError(f"archive {archive} has a symbolic link member {name!r}; links are refused")


def find_split_root(folder: Path) -> Path:
    """The folder that holds ``train/`` and ``validation/``: ``folder`` or its single subfolder."""
    if all((folder / split).is_dir() for split in SPLITS):
        return folder
    candidates = [
        child
        for child in sorted(folder.iterdir())
        if child.is_dir() and all((child / split).is_dir() for split in SPLITS)
    ]
    if len(candidates) == 1:
        return candidates[0]
    raise DataError(
        f"no folder with {' and '.join(s + '/' for s in SPLITS)} found in {folder} "
        "(expected <root>/train/<class>/*.jpg and <root>/validation/<class>/*.jpg)"
    )


def extract_archive(archive: Path, images: Path, max_bytes: int = 8 << 30) -> Path:
    """Extract a zip safely and move its split root to ``images`` (complete or absent).

    Members with absolute paths, ``..`` or links are refused, as are archives whose uncompressed
    size exceeds ``max_bytes`` (config key 'data.max_uncompressed_bytes').
    """
    archive, images = Path(archive), Path(images)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"archive {archive} is not a readable zip file: {error}") from None
    with zf:
        members = zf.infolist()
        for info in members:
            _check_member(info, archive)
        total = sum(info.file_size for info in members)
        if total > max_bytes:
            raise DataError(
                f"archive {archive} would extract to {total} bytes, more than the limit {max_bytes} "
                "(config key 'data.max_uncompressed_bytes')"
            )
        with staged_directory(images) as (staging, publish):
            zf.extractall(staging)
            root = find_split_root(staging)
            check_layout(root)
            publish(root)
    return images


def list_images(images: Path) -> dict[str, dict[str, list[Path]]]:
    """``{split: {class: [files]}}`` for a checked layout, classes and files sorted."""
    return {
        split: {
            folder.name: sorted(
                f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            for folder in sorted((images / split).iterdir())
            if folder.is_dir()
        }
        for split in SPLITS
    }


def check_layout(images: Path) -> list[str]:
    """Check ``<images>/{train,validation}/<class>/<images>``; return the sorted class names.

    Every problem is named: a missing split, a split without classes, an empty class, and
    classes that differ between the splits.
    """
    images = Path(images)
    problems = []
    for split in SPLITS:
        if not (images / split).is_dir():
            problems.append(f"missing split folder {images / split}")
    if problems:
        raise DataError("; ".join(problems))
    listing = list_images(images)
    for split, classes in listing.items():
        if not classes:
            problems.append(f"split folder {images / split} has no class folders")
        for name, files in classes.items():
            if not files:
                problems.append(
                    f"class folder {images / split / name} has no images ({', '.join(IMAGE_SUFFIXES)})"
                )
    train, validation = (set(listing[split]) for split in SPLITS)
    if train != validation:
        problems.append(
            f"classes differ between splits in {images}: only in train {sorted(train - validation)}, "
            f"only in validation {sorted(validation - train)}"
        )
    if problems:
        raise DataError("; ".join(problems))
    return sorted(train)
