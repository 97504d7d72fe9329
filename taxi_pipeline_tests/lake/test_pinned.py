"""A lake file pinned for a load: still published while the lake holds the same bytes under its
name, whether or not another run published them again meanwhile."""

import os

import pytest
from upath import UPath

from taxi_pipeline.defs.lake.files import LakeFileChangedError, file_sha256, pinned


def republish(lake_file, content: bytes) -> None:
    """Publish `content` under `lake_file`'s name as publications do: a new file renamed over it."""
    fresh = lake_file.with_name(lake_file.name + ".next")
    fresh.write_bytes(content)
    os.replace(fresh, lake_file)


def test_the_same_bytes_published_again_during_a_load_are_still_the_published_ones(tmp_path):
    lake_file = tmp_path / "green_tripdata_2020-04.parquet"
    lake_file.write_bytes(b"PAR1 the month PAR1")

    with pinned(UPath(lake_file), file_sha256(lake_file)) as exact:
        republish(lake_file, b"PAR1 the month PAR1")
        exact.check_still_published()


def test_other_bytes_published_during_a_load_are_refused(tmp_path):
    lake_file = tmp_path / "green_tripdata_2020-04.parquet"
    lake_file.write_bytes(b"PAR1 the month PAR1")

    with pinned(UPath(lake_file), file_sha256(lake_file)) as exact:
        republish(lake_file, b"PAR1 a shrunk month PAR1")
        with pytest.raises(LakeFileChangedError, match="was published again while it was loaded"):
            exact.check_still_published()
        assert exact.path.read_bytes() == b"PAR1 the month PAR1"
