"""Content faults: files whose columns or rows are not what their color's layout promises.

Each test builds a bad file from a real sample, serves it from a file:// mirror and runs the
real assets into DuckDB.
"""

import dagster as dg
import duckdb
import pytest

from taxi_pipeline_tests.support.runs import materialize, metadata_of, only_step_failure
from taxi_pipeline_tests.support.samples import RELEASE_DIR, lake_file, mirror_of_lines, release_lines
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows

pytestmark = pytest.mark.faults

GREEN_APRIL = "green|2020-04-01"
GREEN_ROWS = 35_612
RELEASE_URI = RELEASE_DIR.as_uri()


def run(tmp_path, make_resources, lines: list[str], key=GREEN_APRIL, encoding="utf-8", **options):
    """The assets and their checks for one partition (green 2020-04 unless told), in process, from
    a mirror whose file of that month holds `lines`."""
    color, day = key.split("|")
    url = mirror_of_lines(tmp_path / "release", color, day[:7], lines, encoding)
    return materialize(make_resources(url), key, **options)


def with_bad_rows(lines: list[str]) -> list[str]:
    """The real green file with one row of each malformed kind inserted among the real rows."""
    good = lines[1].split(",")
    short = ",".join(good[:6])
    not_a_number = ",".join(good[:8] + ["1.5 miles"] + good[9:])  # trip_distance
    bad_time = ",".join(good[:1] + ["2020-04-31 25:61:00"] + good[2:])  # lpep_pickup_datetime
    return [lines[0], *lines[1:1000], short, *lines[1000:20000], not_a_number, *lines[20000:], bad_time]


def test_missing_required_column_fails_naming_it_and_the_layout(tmp_path, make_resources, lake_dir, duckdb_path):
    lines = release_lines("green", "2020-04")
    header = lines[0].split(",")
    dropped = header.index("DOLocationID")
    lines = [",".join(field for i, field in enumerate(line.split(",")) if i != dropped) for line in lines]

    result = run(tmp_path, make_resources, lines)

    failure = only_step_failure(result)
    assert failure.step_key == "cleaned_trips"
    message = failure.step_failure_data.user_failure_data.description
    assert "green_tripdata_2020-04.csv.gz" in message
    assert "lacks required column(s) dolocationid" in message and "expected layout: vendorid" in message
    assert not lake_file(lake_dir, "green", "2020-04").exists() and warehouse_rows(duckdb_path) == {}


def test_unknown_extra_columns_are_ignored_and_listed(tmp_path, make_resources, duckdb_path):
    lines = release_lines("green", "2020-04")
    lines = [lines[0] + ",airport_fee,Unnamed: 0"] + [line + ",1.25,7" for line in lines[1:]]

    result = run(tmp_path, make_resources, lines)

    assert result.success
    assert metadata_of(result, "cleaned_trips")["ignored_columns"] == ["airport_fee", "Unnamed: 0"]
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): GREEN_ROWS}


def test_few_malformed_rows_are_dropped_counted_and_reported(tmp_path, make_resources, duckdb_path):
    lines = with_bad_rows(release_lines("green", "2020-04"))

    result = run(tmp_path, make_resources, lines)

    assert result.success
    cleaned = metadata_of(result, "cleaned_trips")
    assert cleaned["malformed_rows"] == 3
    assert cleaned["malformed_by_reason"] == {
        "wrong number of fields": 1,
        "pickup_datetime does not parse": 1,
        "trip_distance does not parse": 1,
    }
    assert cleaned["dagster/row_count"] == GREEN_ROWS
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): GREEN_ROWS}


def test_malformed_share_above_the_limit_fails_the_run_naming_file_and_columns(
    tmp_path, make_resources, lake_dir, duckdb_path
):
    lines = with_bad_rows(release_lines("green", "2020-04")[:1001])  # 1,000 real rows + 3 bad

    result = run(tmp_path, make_resources, lines)

    failure = only_step_failure(result)
    assert failure.step_key == "cleaned_trips"
    message = failure.step_failure_data.user_failure_data.description
    assert "green_tripdata_2020-04.csv.gz: 3 of 1,003 rows (0.299%) are malformed" in message
    assert "more than the allowed 0.100%" in message
    assert "trip_distance='1.5 miles'" in message and "pickup_datetime='2020-04-31 25:61:00'" in message
    assert not lake_file(lake_dir, "green", "2020-04").exists() and warehouse_rows(duckdb_path) == {}


def test_the_allowed_malformed_share_is_run_configuration(tmp_path, make_resources, duckdb_path):
    lines = with_bad_rows(release_lines("green", "2020-04")[:1001])
    config = {"ops": {"cleaned_trips": {"config": {"max_malformed_share": 0.01}}}}

    result = run(tmp_path, make_resources, lines, run_config=config)

    assert result.success
    assert metadata_of(result, "cleaned_trips")["malformed_rows"] == 3
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): 1_000}


def test_latin1_file_lands_with_its_accents(tmp_path, make_resources, duckdb_path):
    lines = release_lines("fhv", "2020-01")
    lines[0] = (
        "dispatching_base_num,pickup_datetime,dropOff_datetime,PUlocationID,DOlocationID,SR_Flag,Affiliated_base_number"
    )
    lines = [lines[0]] + [line + ",B\u00e9" if line.count(",") == 5 else line for line in lines[1:]]

    result = run(tmp_path, make_resources, lines, "fhv|2020-01-01", encoding="latin-1")

    assert result.success
    assert metadata_of(result, "cleaned_trips")["source_encoding"] == "latin-1"
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        assert conn.execute("SELECT DISTINCT affiliated_base_number FROM trips").fetchall() == [("B\u00e9",)]


def test_negative_fares_and_zero_distances_are_kept_and_counted_by_a_check(release_url, make_resources, duckdb_path):
    result = materialize(make_resources(release_url), GREEN_APRIL)

    assert result.success
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "fares_and_distances_plausible"]
    assert check.passed
    assert check.metadata["negative_fare_amount"].value == 122
    assert check.metadata["zero_trip_distance"].value == 1_750
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        kept = conn.execute("SELECT count(*) FILTER (fare_amount < 0), count(*) FILTER (trip_distance = 0) FROM trips")
        assert kept.fetchone() == (122, 1_750)


def test_a_month_of_mostly_negative_fares_warns(tmp_path, make_resources):
    lines = release_lines("green", "2020-04")[:1001]
    fare = lines[0].split(",").index("fare_amount")
    lines = [lines[0]] + [
        ",".join(f"-{v.lstrip('-')}" if i == fare and n % 10 == 0 else v for i, v in enumerate(line.split(",")))
        for n, line in enumerate(lines[1:])
    ]

    result = run(tmp_path, make_resources, lines)

    assert result.success  # a warning, not a failure: the rows are kept as published
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "fares_and_distances_plausible"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["share_negative_fare_amount"].value > 0.02


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"id,borough,zone,service_zone\r\n1,EWR,Newark Airport,EWR\r\n", "header is id,borough,zone,service_zone"),
        (b"LocationID,Borough,Zone,service_zone\r\n1,EWR,Newark Airport,EWR\r\n1,EWR,Newark,EWR\r\n", "repeats"),
        (b"", "the file is empty, expected LocationID,Borough,Zone,service_zone"),
    ],
    ids=["header", "duplicate-id", "empty"],
)
def test_a_bad_zone_table_fails_naming_it_and_keeps_the_lake_file_and_the_table(
    content, problem, tmp_path, make_resources, lake_dir, duckdb_path
):
    from taxi_pipeline.defs.warehouse.assets import taxi_zones
    from taxi_pipeline_tests.support.samples import ZONES_ROWS, copy_release, lake_zones, release_zones

    assert dg.materialize([taxi_zones], resources=make_resources(RELEASE_URI)).success
    bad_mirror = copy_release(tmp_path / "bad")
    release_zones(bad_mirror).write_bytes(content)

    result = dg.materialize([taxi_zones], resources=make_resources(bad_mirror.as_uri()), raise_on_error=False)

    failure = only_step_failure(result)
    message = failure.step_failure_data.error.message
    assert failure.step_key == "taxi_zones" and failure.step_failure_data.user_failure_data is not None  # no retry
    assert f"{bad_mirror.as_uri()}/misc/taxi_zone_lookup.csv: " in message and problem in message
    assert "left as they were" in message
    assert lake_zones(lake_dir).read_bytes() == release_zones().read_bytes()
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM zones").fetchone()[0] == ZONES_ROWS
