"""Extract an archive safely and check the folder layout every source ends in::

    <images>/{train,validation}/<class>/<image files>

What is data: files whose suffix (any case) is one of :data:`IMAGE_SUFFIXES`, in a class folder.
What is not, skipped and counted (in the cache's ``meta.json``, the log and the report):

- hidden entries: any file or folder whose name starts with a dot (``.DS_Store``, macOS's
  AppleDouble ``._photo.jpg``, ``.ipynb_checkpoints/``) and ``__MACOSX/`` folders;
- files with another suffix (``notes.txt``, ``labels.csv``), counted by suffix.
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from augablate.data.common import IMAGE_SUFFIXES, SPLITS, DataError
from augablate.io import staged_directory


def is_hidden(name: str) -> bool:
    """Names that are never data: dot files and folders (AppleDouble ``._x`` included) and
    macOS's ``__MACOSX``."""
    return name.startswith(".") or name == "__MACOSX"


def _check_member(info: zipfile.ZipInfo, archive: Path) -> None:
    name = info.filename
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise DataError(f"archive {archive} has an unsafe member path {name!r}")
    mode = info.external_attr >> 16
    if mode and (mode & 0o170000) == 0o120000:
        raise DataError(f"archive {archive} has a symbolic link member {name!r}; links are refused")


def find_split_root(folder: Path, where: str | None = None) -> Path:
    """The folder that holds ``train/`` and ``validation/``: ``folder`` or its single
    (not hidden) subfolder. ``where`` names ``folder`` in messages (e.g. the archive)."""
    if all((folder / split).is_dir() for split in SPLITS):
        return folder
    candidates = [
        child
        for child in sorted(folder.iterdir())
        if child.is_dir()
        and not is_hidden(child.name)
        and all((child / split).is_dir() for split in SPLITS)
    ]
    if len(candidates) == 1:
        return candidates[0]
    raise DataError(
        f"no folder with {' and '.join(s + '/' for s in SPLITS)} found in {where or folder} "
        "(expected <root>/train/<class>/<images> and <root>/validation/<class>/<images>)"
    )


def extract_archive(archive: Path, images: Path, max_bytes: int = 8 << 30) -> Path:
    """Extract a zip safely and move its split root to ``images`` (complete or absent).

    Members with absolute paths, ``..`` or links are refused, as are archives whose uncompressed
    size exceeds ``max_bytes`` (config key 'data.max_uncompressed_bytes'). Layout problems are
    named by their paths inside the archive.
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
            root = find_split_root(staging, where=f"archive {archive}")
            check_layout(root, where=f"archive {archive}", relative_to=staging)
            publish(root)
    return images


@dataclass
class Listing:
    """The image files of a layout, and what was skipped as not data."""

    files: dict[str, dict[str, list[Path]]]  # split -> class -> sorted files
    hidden: list[str] = field(default_factory=list)  # relative paths of hidden entries
    other: Counter = field(default_factory=Counter)  # suffix -> files skipped

    def skipped(self) -> dict:
        """What ``meta.json`` records of the skipped entries."""
        return {
            "hidden": len(self.hidden),
            "hidden_examples": self.hidden[:10],
            "other_suffixes": dict(sorted(self.other.items())),
        }


def scan(images: Path) -> Listing:
    """Every split's class folders and image files, and the hidden entries and other files
    that were skipped (see the module's docstring)."""
    images = Path(images)
    listing = Listing({})
    for split in SPLITS:
        classes: dict[str, list[Path]] = {}
        for entry in sorted((images / split).iterdir()):
            if is_hidden(entry.name):
                listing.hidden.append(str(entry.relative_to(images)))
            elif entry.is_dir():
                classes[entry.name] = _class_files(entry, images, listing)
            else:
                listing.other[entry.suffix.lower() or "(no suffix)"] += 1
        listing.files[split] = classes
    return listing


def _class_files(folder: Path, root: Path, listing: Listing) -> list[Path]:
    files = []
    for entry in sorted(folder.iterdir()):
        if is_hidden(entry.name):
            listing.hidden.append(str(entry.relative_to(root)))
        elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            files.append(entry)
        elif entry.is_file():
            listing.other[entry.suffix.lower() or "(no suffix)"] += 1
        else:  # a folder inside a class folder: its files are not read
            listing.other["(folder)"] += 1
    return files


def list_images(images: Path) -> dict[str, dict[str, list[Path]]]:
    """``{split: {class: [files]}}`` of a layout, classes and files sorted, non-data skipped."""
    return scan(images).files


def check_layout(
    images: Path, where: str | None = None, relative_to: Path | None = None
) -> list[str]:
    """Check ``<images>/{train,validation}/<class>/<images>``; return the sorted class names.

    Every problem is named: a missing split, a split without classes, an empty class, and
    classes that differ between the splits. ``where`` and ``relative_to`` say how paths are
    shown: inside an archive they are the members' paths, never a temporary folder.
    """
    images = Path(images)
    base = Path(relative_to) if relative_to is not None else None

    def shown(path: Path) -> str:
        return str(path.relative_to(base)) if base is not None else str(path)

    suffix = f" in {where}" if where else ""
    problems = [
        f"missing split folder {shown(images / split)}{suffix}"
        for split in SPLITS
        if not (images / split).is_dir()
    ]
    if problems:
        raise DataError("; ".join(problems))
    listing = list_images(images)
    for split, classes in listing.items():
        if not classes:
            problems.append(f"split folder {shown(images / split)}{suffix} has no class folders")
        for name, files in classes.items():
            if not files:
                problems.append(
                    f"class folder {shown(images / split / name)}{suffix} has no images "
                    f"({', '.join(IMAGE_SUFFIXES)})"
                )
    train, validation = (set(listing[split]) for split in SPLITS)
    if train != validation:
        problems.append(
            f"classes differ between splits in {shown(images)}{suffix}: only in train "
            f"{sorted(train - validation)}, only in validation {sorted(validation - train)}"
        )
    if problems:
        raise DataError("; ".join(problems))
    return sorted(train)


def folder_manifest(folder: Path) -> str:
    """A short fingerprint of every file under ``folder`` (relative path, size, modification
    time): it changes when a file is added, removed, replaced or edited, so the workflow can
    read a folder source again exactly when it changed."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(
                f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()[:16]


def check_links(folder: Path) -> None:
    """Refuse a folder with a link that leads nowhere, naming it (copying would fail on it
    with a traceback, and what it stood for would be silently missing from the data)."""
    for path in sorted(Path(folder).rglob("*")):
        if path.is_symlink() and not path.exists():
            raise DataError(
                f"{path} is a link to {os.readlink(path)}, which does not exist (config key "
                "'data.path'): remove the link or make it point to the image"
            )


def import_folder(source: Path, images: Path) -> Path:
    """Copy a folder with the layout (``source`` or its single subfolder holds ``train/`` and
    ``validation/``) to ``images``, checked like an archive; complete or absent. Everything is
    copied, hidden files included, so that the cache counts what it skips."""
    import shutil

    source, images = Path(source), Path(images)
    if not source.is_dir():
        raise DataError(f"folder {source} does not exist (config key 'data.path')")
    root = find_split_root(source, where=f"folder {source}")
    check_links(root)
    check_layout(root, where=f"folder {source}", relative_to=source)
    with staged_directory(images) as (staging, publish):
        copy = staging / "images"
        shutil.copytree(root, copy)
        publish(copy)
    return images
