"""Smoke runs of the benchmark tools: generated months parse like real ones; the runner works."""

import gzip
import subprocess
import sys
from datetime import date, datetime

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks.generate_trips import HEADERS, generate_month, write_month
from taxi_pipeline.lib.clean import clean_trips
from taxi_pipeline_tests.support.runs import PROJECT_DIR
from taxi_pipeline_tests.support.trips import read_trips_csv


@pytest.mark.parametrize("color", ["yellow", "green", "fhv"])
def test_generated_months_use_the_published_layouts_and_parse_whole(color, tmp_path):
    path = tmp_path / f"{color}.csv.gz"
    write_month(generate_month(color, 20_000, date(2020, 1, 1), seed=7), path)

    parsed = read_trips_csv(path, color)
    table, report = clean_trips(parsed.table, color, date(2020, 1, 1))

    assert parsed.extra_columns == []
    assert report.rows == 20_000
    assert 0 < report.pickups_outside_month < 100
    if color != "fhv":
        assert 0.06 < report.missing_passenger_count_before / 20_000 < 0.10  # ~8% empty integers
        assert set(table["store_and_fwd_flag"].drop_null().unique().to_pylist()) == {"N", "Y"}
    with gzip.open(path, "rt") as f:
        assert f.readline().strip().split(",") == HEADERS[color]


def test_generation_is_seeded():
    first = generate_month("green", 1_000, date(2020, 4, 1), seed=3)

    assert first.equals(generate_month("green", 1_000, date(2020, 4, 1), seed=3))
    assert not first.equals(generate_month("green", 1_000, date(2020, 4, 1), seed=4))


def smoke_table_variants(module: str) -> list[str]:
    """Run a benchmark module on 3,000 rows, one round; the variants of its table, in order."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--rows", "3000", "--repeats", "1"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 3,000 |")]
    return [line.split("|")[2].strip() for line in rows]


def test_runner_produces_the_comparison_table():
    assert smoke_table_variants("benchmarks.run") == ["floor", "reference", "library", "dagster"]


@pytest.mark.postgres
def test_postgres_benchmark_produces_the_comparison_table():
    assert smoke_table_variants("benchmarks.postgres_load") == ["to_sql", "load_slice"]


def test_fhvhv_benchmark_produces_its_table_with_the_exact_row_count(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.fhvhv", "--rows", "20000", "--group-rows", "5000", "--out", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split("|")[1:4] for line in done.stdout.splitlines() if line.startswith("| 20,000 |")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["20,000", "read_table", "4 x ≤5,000"],
        ["20,000", "dagster", "4 x ≤5,000"],
        ["20,000", "convert", "4 x ≤5,000"],
        ["20,000", "convert, one group", "1 x ≤20,000"],
    ]
    assert (tmp_path / "fhvhv_results.md").read_text().strip() == done.stdout.strip()


@pytest.mark.parametrize(
    ("path", "color", "month", "rows"),
    [
        ("release/green/green_tripdata_2020-04.csv.gz", "green", "2020-04", "35,612"),
        ("tlc/green_tripdata_2022-01.parquet", "green", "2022-01", "62,495"),
    ],
)
def test_phases_benchmark_times_every_phase_of_a_real_month(path, color, month, rows):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.phases", f"taxi_pipeline_tests/data/{path}", color, month],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"{path.rsplit('/', 1)[1]}: {rows} rows;")
    phases = [line.split("|")[1].strip() for line in done.stdout.splitlines()[3:]]
    assert phases == [
        "read and type the source file",
        "the whole conversion (read, clean, encode)",
        "sha256 of the lake file",
        "the audit's measures",
        "DuckDB load of the lake file",
    ]


def test_generated_fhvhv_months_have_the_tlc_columns_and_types_in_bounded_row_groups(tmp_path):
    from benchmarks.generate_fhvhv import FHVHV_SCHEMA, write_fhvhv_month

    path = tmp_path / "fhvhv_tripdata_2025-01.parquet"

    written = write_fhvhv_month(path, 25_000, date(2025, 1, 1), seed=5, group_rows=10_000)

    metadata = pq.read_metadata(path)
    assert written == metadata.num_rows == 25_000
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [10_000, 10_000, 5_000]
    assert pq.read_schema(path).remove_metadata() == FHVHV_SCHEMA
    table = pq.read_table(path)
    assert set(table["hvfhs_license_num"].unique().to_pylist()) == {"HV0003", "HV0005"}
    assert pc.min(table["pickup_datetime"]).as_py() >= datetime(2025, 1, 1)
    assert pc.all(pc.greater_equal(table["dropoff_datetime"], table["pickup_datetime"])).as_py()
