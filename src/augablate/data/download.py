"""Fetch and verify an archive: http(s) with retries and resumption, file:// or a local path."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from augablate.data.common import DataError

log = logging.getLogger(__name__)


class TransientDownloadError(DataError):
    """A download fault worth retrying (a body cut short); :func:`download` names the URL."""


def _source_kind(url: str) -> str:
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        return "http"
    if scheme == "file":
        return "file"
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return "path"
    raise DataError(
        f"unsupported URL scheme {scheme!r} in {url!r} (config key 'data.url'); "
        "allowed: http, https, file, or a plain path"
    )


def local_source(url: str, base: Path | None = None) -> Path | None:
    """The local file a ``data.url`` names, or None for http(s) URLs.

    ``file://`` URLs are percent-decoded (``my%20data.zip`` is ``my data.zip``), ``~`` is the
    user's home, and a relative path is relative to the working directory (``base``, by
    default the current one): the folder Snakemake runs in, given by ``--directory``, where
    ``results/`` is written.
    """
    kind = _source_kind(url)
    if kind == "http":
        return None
    path = urllib.parse.unquote(urllib.parse.urlparse(url).path) if kind == "file" else url
    path = Path(os.path.expanduser(path))
    return path if path.is_absolute() else (base or Path.cwd()) / path


def describe_source(url: str, base: Path | None = None) -> str:
    """``url`` as messages show it: with the file it resolves to when that reads differently."""
    source = local_source(url, base)
    return url if source is None or str(source) == url else f"{url} (the file {source})"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: Path, url: str, expected_bytes: int | None, expected_sha256: str | None):
    """Raise naming the URL when the size or checksum differs from the configured one."""
    size = path.stat().st_size
    if expected_bytes is not None and size != expected_bytes:
        raise DataError(
            f"download of {url} has {size} bytes, expected {expected_bytes} (config key 'data.bytes')"
        )
    if expected_sha256:
        actual = sha256_of(path)
        if actual.lower() != expected_sha256.lower():
            raise DataError(
                f"download of {url} has sha256 {actual}, expected {expected_sha256} "
                "(config key 'data.sha256')"
            )


@dataclass
class _Partial:
    """What one download call knows about its temporary file between attempts."""

    path: Path
    validator: str | None = None  # the server's ETag or Last-Modified, for If-Range
    responses: int = 0  # responses whose bytes are in the file (more than one: resumed)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.validator, self.responses = None, 0


def _range_start(content_range: str | None) -> int | None:
    """The first byte of a ``Content-Range: bytes N-M/T`` header (None when unreadable)."""
    if not content_range or not content_range.startswith("bytes "):
        return None
    try:
        return int(content_range[len("bytes ") :].split("-", 1)[0])
    except ValueError:
        return None


def _http_attempt(url: str, partial: _Partial, timeout: float) -> None:
    """One request, appending to the partial file when the server honours a range request.

    Sends ``Range: bytes=N-`` (with ``If-Range``, so a file that changed on the server comes back
    whole) when N bytes are already there; a 206 answer is appended, a 200 answer replaces them.
    A body shorter than its Content-Length raises :class:`TransientDownloadError`, keeping what
    arrived for the next attempt.
    """
    headers = {"User-Agent": "augablate"}
    offset = partial.size
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if partial.validator:
            headers["If-Range"] = partial.validator
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if offset and response.status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != offset:
                partial.restart()
                raise TransientDownloadError(
                    f"asked for the bytes from {offset} on, the server sent "
                    f"{response.headers.get('Content-Range')!r}; starting again"
                )
            log.info("download of %s resumes at byte %d", url, offset)
            mode = "ab"
        else:
            if offset:
                log.info("download of %s starts again: the server sent the whole file", url)
            partial.restart()
            mode = "wb"
        etag = response.headers.get("ETag")
        partial.validator = (
            etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
        )
        partial.responses += 1
        expected = response.headers.get("Content-Length")
        received = 0
        with open(partial.path, mode) as handle:
            while block := response.read1(1 << 20):  # what has arrived, kept on a fault
                handle.write(block)
                received += len(block)
        if expected is not None and received != int(expected):
            raise TransientDownloadError(f"body cut short: {received} of {expected} bytes")


def _reason(error: BaseException, timeout: float) -> str:
    """A short human reason for a failed attempt (the caller names the URL)."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, TimeoutError):
        return f"timed out: no data for {timeout:g} s (config key 'data.timeout')"
    if isinstance(error, TransientDownloadError):
        return str(error)
    if isinstance(error, urllib.error.URLError):
        return f"URLError: {error.reason}"
    return f"{type(error).__name__}: {error}"


def _remove_leftovers(destination: Path) -> None:
    """Remove temporary files that a killed earlier call left beside ``destination``."""
    for leftover in destination.parent.glob(f".{destination.name}.*"):
        log.info("removing %s, left by an interrupted download", leftover)
        leftover.unlink(missing_ok=True)


def _copy_local(url: str, destination: Path) -> None:
    source = local_source(url)
    if not source.is_file():
        raise DataError(
            f"archive {source} does not exist (config key 'data.url': {url!r}; "
            f"a relative path is relative to the working directory {Path.cwd()})"
        )
    shutil.copyfile(source, destination)


def download(
    url: str,
    destination: Path,
    *,
    expected_bytes: int | None = None,
    expected_sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Fetch ``url`` (http, https, file:// or a local path) to ``destination``, verified.

    The bytes go to a temporary file beside the destination, which is renamed only once it is
    complete and verified: a failure leaves neither an archive nor the temporary file behind.
    Connection errors, timeouts (``timeout`` seconds without data), bodies cut short and 5xx
    answers are retried ``retries`` times with exponential backoff (``backoff`` x 1, 2, 4, ...
    seconds); 4xx answers are final. A retry resumes where the last attempt stopped when the
    server honours range requests, and starts again otherwise. When bytes assembled from
    several responses fail the size or checksum test, the file is fetched once more from the
    start (a file that changed on a server without validators); a whole file that fails is final.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    kind = _source_kind(url)
    _remove_leftovers(destination)
    attempts = 1 + (retries if kind == "http" else 0)
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    os.close(fd)
    partial = _Partial(Path(tmp_name))
    reason = "no attempt made"
    try:
        for attempt in range(1, attempts + 1):
            try:
                if kind == "http":
                    _http_attempt(url, partial, timeout)
                else:
                    _copy_local(url, partial.path)
                try:
                    verify_archive(
                        partial.path, describe_source(url), expected_bytes, expected_sha256
                    )
                except DataError as error:
                    if partial.responses <= 1 or attempt == attempts:
                        raise
                    reason = f"{error}, after resuming; starting again"
                    partial.restart()
                else:
                    os.replace(partial.path, destination)
                    return destination
            except urllib.error.HTTPError as error:
                if error.code == 416 and partial.size:  # range not satisfiable: start again
                    partial.restart()
                elif error.code < 500:
                    raise DataError(
                        f"download of {url} failed: {_reason(error, timeout)} (not retried)"
                    ) from None
                reason = _reason(error, timeout)
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                TimeoutError,
                OSError,
                TransientDownloadError,
            ) as error:
                reason = _reason(error, timeout)
            if attempt < attempts:
                wait = backoff * 2 ** (attempt - 1)
                resuming = f", resuming at byte {partial.size}" if partial.size else ""
                log.warning(
                    "download of %s: attempt %d of %d failed (%s); next in %.1f s%s",
                    *(url, attempt, attempts, reason, wait, resuming),
                )
                sleep(wait)
    finally:
        partial.path.unlink(missing_ok=True)
    raise DataError(f"download of {url} failed after {attempts} attempt(s): {reason}")
