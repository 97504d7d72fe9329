"""Re-runs and overlapping backfills leave the warehouse identical: row counts and row hashes."""

import pytest

from taxi_pipeline_tests.support.runs import materialize
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS, lake_file
from taxi_pipeline_tests.support.warehouse_rows import parquet_checksum, slice_checksums

pytestmark = pytest.mark.faults


def test_the_same_partition_three_times_leaves_the_same_slice(release_url, make_resources, duckdb_path, lake_dir):
    resources = make_resources(release_url)
    after_each = []
    for _ in range(3):
        assert materialize(resources, "green|2020-04-01").success
        after_each.append(slice_checksums(duckdb_path))

    expected = parquet_checksum(lake_file(lake_dir, "green", "2020-04"))
    assert expected[0] == 35_612
    assert after_each == [{("green", "2020-04"): expected}] * 3


def test_overlapping_backfills_leave_each_slice_as_one_run_does(release_url, make_resources, duckdb_path, lake_dir):
    resources = make_resources(release_url)
    first = ["fhv|2019-01-01", "fhv|2020-01-01", "green|2020-04-01"]
    second = ["green|2020-04-01", "yellow|2021-01-01", "fhv|2020-01-01"]  # overlaps on two
    for key in first + second:  # a multi-run backfill: one run per partition
        assert materialize(resources, key).success

    slices = slice_checksums(duckdb_path)
    expected = {}
    for key, rows in SAMPLE_ROWS.items():
        color, month = key.split("|")[0], key.split("|")[1][:7]
        expected[(color, month)] = parquet_checksum(lake_file(lake_dir, color, month))
        assert expected[(color, month)][0] == rows
    assert slices == expected
