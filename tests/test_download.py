"""Download faults against a loopback HTTP server (127.0.0.1 only) that injects them: every
fault either ends in the right bytes or in an error naming the URL and the reason, and never
leaves an archive or a temporary file behind."""

from __future__ import annotations

import hashlib
import http.server
import socket
import struct
import threading

import pytest

from augablate.data import DataError, download

BODY = bytes(range(256)) * 64  # 16 KiB, every byte value
SHA256 = hashlib.sha256(BODY).hexdigest()
HALF = len(BODY) // 2


class FaultHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``BODY``; each request takes the next fault from the server's plan, then "ok".

    Faults: ok, 404, 500, reset (half the body, then a TCP reset), truncate (half the body of
    the announced length, then a normal close), stall (half the body, then silence until the
    test ends), changed (other bytes of the same length, as if the file had changed).
    """

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        fault = server.plan.pop(0) if server.plan else "ok"
        server.requests.append(self.headers.get("Range"))
        if fault in ("404", "500"):
            self.send_error(int(fault))
            return
        body = bytes(reversed(BODY)) if fault == "changed" else BODY
        start, status = 0, 200
        asked = self.headers.get("Range")
        if asked and server.ranges and self.headers.get("If-Range") in (None, server.etag):
            start, status = int(asked.removeprefix("bytes=").rstrip("-")), 206
        part = body[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(part)))
        if server.etag:
            self.send_header("ETag", server.etag)
        if server.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if fault in ("ok", "changed"):
            self.wfile.write(part)
            return
        self.wfile.write(part[: len(part) // 2])
        self.wfile.flush()
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        elif fault == "stall":
            server.release.wait(10)


class FaultServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, plan, ranges=True, etag='"v1"'):
        super().__init__(("127.0.0.1", 0), FaultHandler)
        self.plan, self.ranges, self.etag = list(plan), ranges, etag
        self.requests: list[str | None] = []
        self.release = threading.Event()

    def handle_error(self, request, client_address):
        pass  # the faults are on purpose


@pytest.fixture
def serve():
    servers = []

    def start(plan, ranges=True, etag='"v1"'):
        server = FaultServer(plan, ranges, etag)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_port}/data.zip"

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


class Fetch:
    """``download`` into a fresh folder with fast retries; remembers the backoff waits."""

    def __init__(self, folder):
        self.target = folder / "archive.zip"
        self.sleeps: list[float] = []

    def __call__(self, url, **kwargs):
        kwargs = {"expected_bytes": len(BODY), "expected_sha256": SHA256, **kwargs}
        download(url, self.target, retries=3, timeout=0.5, sleep=self.sleeps.append, **kwargs)
        return self.target.read_bytes()

    @property
    def left(self) -> list[str]:
        """Every file in the download folder, hidden temporary files included."""
        return sorted(path.name for path in self.target.parent.iterdir())


@pytest.fixture
def fetch(tmp_path):
    return Fetch(tmp_path / "dl")


def test_a_clean_download(serve, fetch):
    server, url = serve([])
    assert fetch(url) == BODY
    assert server.requests == [None] and fetch.sleeps == [] and fetch.left == ["archive.zip"]


def test_a_server_error_is_retried_with_backoff(serve, fetch):
    server, url = serve(["500"])
    assert fetch(url) == BODY
    assert len(server.requests) == 2 and fetch.sleeps == [1.0]
    assert fetch.left == ["archive.zip"]


@pytest.mark.parametrize("fault", ["truncate", "stall", "reset"])
def test_a_broken_body_resumes_where_it_stopped(serve, fetch, fault):
    server, url = serve([fault])
    assert fetch(url) == BODY
    assert len(server.requests) == 2 and fetch.left == ["archive.zip"]
    if fault != "reset":  # a reset may discard bytes that had already arrived
        assert server.requests == [None, f"bytes={HALF}-"]


def test_a_server_without_ranges_starts_again(serve, fetch):
    server, url = serve(["truncate"], ranges=False)
    assert fetch(url) == BODY
    assert server.requests == [None, f"bytes={HALF}-"]  # asked, got the whole file: replaced


def test_bytes_from_a_changed_file_are_fetched_again_whole(serve, fetch):
    # a server without validators (no ETag, so no If-Range): the resumed half comes from
    # another version of the file, and only the checksum can tell
    server, url = serve(["truncate", "changed"], etag=None)
    assert fetch(url) == BODY
    assert server.requests == [None, f"bytes={HALF}-", None]
    assert fetch.left == ["archive.zip"]


@pytest.mark.parametrize(
    "plan, reason",
    [
        (["500"] * 4, "HTTP 500 Internal Server Error"),
        (["stall"] * 4, "timed out: no data for 0.5 s (config key 'data.timeout')"),
        (["truncate", "500", "500", "500"], "HTTP 500"),
    ],
    ids=["500", "stall", "truncate-then-500"],
)
def test_a_persistent_fault_fails_naming_url_and_reason(serve, fetch, plan, reason):
    server, url = serve(plan)
    with pytest.raises(DataError) as error:
        fetch(url)
    message = str(error.value)
    assert message.startswith(f"download of {url} failed after 4 attempt(s): ")
    assert reason in message
    assert len(server.requests) == 4 and fetch.sleeps == [1.0, 2.0, 4.0]
    assert fetch.left == []


def test_not_found_is_final(serve, fetch):
    server, url = serve(["404"])
    with pytest.raises(DataError, match=f"download of {url} failed: HTTP 404 .*not retried"):
        fetch(url)
    assert server.requests == [None] and fetch.sleeps == [] and fetch.left == []


def test_a_wrong_checksum_is_final(serve, fetch):
    server, url = serve([])
    with pytest.raises(DataError) as error:
        fetch(url, expected_sha256="0" * 64)
    assert f"download of {url} has sha256 {SHA256}, expected {'0' * 64}" in str(error.value)
    assert "data.sha256" in str(error.value)
    assert server.requests == [None] and fetch.left == []


def test_a_wrong_size_is_final(serve, fetch):
    _, url = serve([])
    with pytest.raises(DataError, match=rf"has {len(BODY)} bytes, expected 5 .*data.bytes"):
        fetch(url, expected_bytes=5, expected_sha256=None)
    assert fetch.left == []


def test_a_refused_connection_names_the_url(fetch):
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data.zip"
    with pytest.raises(DataError, match=f"download of {url} failed after 4 attempt.*refused"):
        fetch(url)
    assert fetch.sleeps == [1.0, 2.0, 4.0] and fetch.left == []


def test_leftovers_of_a_killed_download_are_removed(serve, fetch):
    _, url = serve([])
    fetch.target.parent.mkdir()
    (fetch.target.parent / ".archive.zip.abc123").write_bytes(b"half")
    assert fetch(url) == BODY
    assert fetch.left == ["archive.zip"]
