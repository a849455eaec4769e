"""Outputs are complete or absent: a writer that fails, is interrupted or is killed mid-write
never leaves a file under the target's name that a rerun would take for finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from augablate.io import atomic_path, atomic_write, atomic_write_csv


def half_then(error):
    def write(tmp):
        tmp.write_text("header,half a row")
        raise error

    return write


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()], ids=repr)
def test_a_failing_writer_leaves_no_target_and_no_temp(tmp_path, error):
    target = tmp_path / "tables" / "runs.csv"
    with pytest.raises(type(error)):
        atomic_write(target, half_then(error))
    assert list(target.parent.iterdir()) == []


def test_a_failing_writer_leaves_the_old_target_untouched(tmp_path):
    target = atomic_write_csv(tmp_path / "runs.csv", pd.DataFrame({"seed": [1, 2]}))
    with pytest.raises(OSError):
        atomic_write(target, half_then(OSError("disk full")))
    assert target.read_text() == "seed\n1\n2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["runs.csv"]


def test_the_temporary_name_is_hidden_and_keeps_the_ending(tmp_path):
    with atomic_path(tmp_path / "epoch-0001.weights.h5", suffix=".weights.h5") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".epoch-0001.weights.h5.")
        assert tmp.name.endswith(".weights.h5")
        tmp.write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-0001.weights.h5"]


def test_a_script_killed_mid_write_leaves_no_target(tmp_path):
    target = tmp_path / "report.md"
    script = (
        "import sys, time\n"
        "from augablate.io import atomic_write\n"
        "def write(tmp):\n"
        "    with open(tmp, 'w') as handle:\n"
        "        handle.write('# Report\\nhalf')\n"
        "        handle.flush()\n"
        "        time.sleep(60)\n"
        "atomic_write(sys.argv[1], write)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(target)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            p.stat().st_size for p in tmp_path.glob(".report.md.*")
        ):
            time.sleep(0.02)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert not target.exists()
    # only the hidden temporary file is left, under a name no rule declares
    assert [p.name.startswith(".report.md.") for p in tmp_path.iterdir()] == [True]


def test_written_files_get_normal_permissions(tmp_path):
    import stat

    from augablate.io import atomic_write_text

    target = atomic_write_text(tmp_path / "report.md", "x")
    assert stat.S_IMODE(target.stat().st_mode) & 0o044 == 0o044, "group/other can read it"


def test_equal_tables_are_equal_gzip_bytes(tmp_path):
    frame = pd.DataFrame({"image": ["a.jpg", "b.jpg"], "probability": [0.25, 0.75]})
    first = atomic_write_csv(tmp_path / "one" / "predictions.csv.gz", frame)
    second = atomic_write_csv(tmp_path / "two" / "predictions.csv.gz", frame)
    assert first.read_bytes() == second.read_bytes()  # no time stamp, no file name inside
    pd.testing.assert_frame_equal(pd.read_csv(first), frame)
