"""Part files (a download or a conversion being written) of a process killed mid-write do not
pile up in the system temp folder: they live in a folder of their own, named after the writing
process, and the next part file made removes those whose process is gone."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taxi_pipeline.defs.lake.files import local_part_file, parts_folder

pytestmark = pytest.mark.faults

KILLED_MID_DOWNLOAD = """
import os, signal
from taxi_pipeline.defs.lake.files import local_part_file
with local_part_file("green_tripdata_2020-04.", ".csv.gz.part") as path:
    path.write_bytes(b"half a file")
    print(path, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_part_file_left_by_a_killed_process_is_removed_by_the_next(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() reads TMPDIR again
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_DOWNLOAD], capture_output=True, text=True, env=env)
    assert killed.returncode == -9, killed.stderr[-2000:]
    left = Path(killed.stdout.strip())
    assert left.parent == parts_folder() and left.parent.parent == tmp_path
    assert left.exists()  # SIGKILL runs no cleanup

    with local_part_file("yellow_tripdata_2021-01.", ".csv.gz.part") as path:
        assert path.parent == parts_folder()
        assert not left.exists()
        path.write_bytes(b"mine")
    assert path.exists()  # a live process's part (here, this one's) is never swept


def test_a_part_file_of_a_live_process_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with local_part_file("fhv_tripdata_2019-01.", ".csv.gz.part") as first:
        with local_part_file("fhv_tripdata_2020-01.", ".csv.gz.part") as second:
            assert first.exists() and second.exists()
    assert sorted(p.name for p in parts_folder().iterdir()) == sorted([first.name, second.name])
