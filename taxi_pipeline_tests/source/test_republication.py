"""What `raw_trips` keeps of each download and asks the source with next time (ETag,
Last-Modified, a file's mtime and size, sha256), and the re-published-month sensor: an unchanged
month transfers no bytes and keeps its data version, a changed one is downloaded and loaded, a
damaged raw file is downloaded again; the sensor asks about loaded months in bounded batches and
requests exactly those that changed. Against real HTTP servers on 127.0.0.1 and file:// mirrors."""

import gzip
import os
import shutil
from datetime import date
from functools import partial

import dagster as dg
import pytest

from taxi_pipeline.definitions import build_trip_assets, lake_io_managers
from taxi_pipeline.defs.lake.resources import LocalLake
from taxi_pipeline.defs.source import sensors
from taxi_pipeline.defs.source.releases import COURSE, TLC
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.source.sensors import build_republished_month_sensor
from taxi_pipeline.partitions import build_trip_partitions
from taxi_pipeline_tests.support.http_server import QuietHandler, Served, ValidatingHandler
from taxi_pipeline_tests.support.runs import materialize, metadata_of
from taxi_pipeline_tests.support.samples import raw_file, release_file, release_lines, release_zones
from taxi_pipeline_tests.support.tlc import TLC_DIR
from taxi_pipeline_tests.support.warehouse_rows import warehouse_rows

GREEN = "green|2020-04-01"
GREEN_ROWS = 35_612
MONTHS = {GREEN: ("green", "2020-04"), "fhv|2019-01-01": ("fhv", "2019-01"), "fhv|2020-01-01": ("fhv", "2020-01")}


@pytest.fixture
def mirror(tmp_path):
    """A release mirror of its own holding the bundled green 2020-04, fhv 2019-01 and 2020-01 and the zones."""
    root = tmp_path / "mirror"
    for color, month in MONTHS.values():
        release_file(color, month, root).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(release_file(color, month), release_file(color, month, root))
    release_zones(root).parent.mkdir(parents=True)
    shutil.copy2(release_zones(), release_zones(root))
    return root


def serve_mirror(http_server, mirror, **options) -> tuple[str, Served]:
    served = Served()
    return http_server(partial(ValidatingHandler, directory=mirror, served=served, **options)), served


def republish(mirror, color: str, month: str, rows: int) -> int:
    """Replace a month's file in the mirror by its first `rows` trips, a second newer; its size."""
    path = release_file(color, month, mirror)
    with gzip.open(path, "wt", encoding="latin-1", newline="") as f:
        f.write("\n".join(release_lines(color, month, rows)) + "\n")
    os.utime(path, (path.stat().st_mtime + 1, path.stat().st_mtime + 1))
    return path.stat().st_size


def data_version(result: dg.ExecuteInProcessResult, asset: str = "raw_trips") -> str:
    return result.asset_materializations_for_node(asset)[0].tags["dagster/data_version"]


def test_an_unchanged_month_transfers_no_bytes_and_keeps_its_data_version(
    http_server, mirror, make_resources, duckdb_path
):
    url, served = serve_mirror(http_server, mirror)
    instance = dg.DagsterInstance.ephemeral()
    size = release_file("green", "2020-04").stat().st_size

    first = materialize(make_resources(url), GREEN, instance=instance)
    second = materialize(make_resources(url), GREEN, instance=instance)

    assert first.success and second.success
    assert served.body_bytes == size  # the first download only
    assert served.methods() == ["GET", "GET"]
    raw = metadata_of(second, "raw_trips")
    assert raw["unchanged"].startswith("unchanged since ")
    assert raw["unchanged"].endswith(": HTTP 304 Not Modified")
    assert (raw["downloaded_bytes"], raw["sha256"]) == (0, metadata_of(first, "raw_trips")["sha256"])
    assert data_version(second) == data_version(first)
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): GREEN_ROWS}


def test_a_changed_file_is_downloaded_audited_and_loaded(http_server, mirror, make_resources, duckdb_path):
    url, served = serve_mirror(http_server, mirror)
    instance = dg.DagsterInstance.ephemeral()
    first = materialize(make_resources(url), GREEN, instance=instance)
    size = republish(mirror, "green", "2020-04", GREEN_ROWS - 500)

    second = materialize(make_resources(url), GREEN, instance=instance)

    assert first.success and second.success
    raw = metadata_of(second, "raw_trips")
    assert "unchanged" not in raw and raw["downloaded_bytes"] == size
    assert served.body_bytes == release_file("green", "2020-04").stat().st_size + size
    assert data_version(second) != data_version(first)
    assert warehouse_rows(duckdb_path) == {("green", "2020-04"): GREEN_ROWS - 500}


def test_a_source_without_etag_or_last_modified_is_compared_by_sha256(http_server, mirror, make_resources):
    url, served = serve_mirror(http_server, mirror, validators=False)
    instance = dg.DagsterInstance.ephemeral()
    size = release_file("green", "2020-04").stat().st_size

    first = materialize(make_resources(url), GREEN, instance=instance)
    second = materialize(make_resources(url), GREEN, instance=instance)

    assert second.success and served.body_bytes == 2 * size  # nothing to ask conditionally
    assert metadata_of(second, "raw_trips")["unchanged"].endswith(
        f": the same sha256 after downloading {size:,} bytes "
        "(the source sends neither ETag nor Last-Modified to ask it conditionally)"
    )
    assert data_version(second) == data_version(first)


def test_a_server_that_ignores_conditional_requests_is_answered_by_its_etag(http_server, mirror, make_resources):
    url, _ = serve_mirror(http_server, mirror, conditional=False)
    instance = dg.DagsterInstance.ephemeral()

    first = materialize(make_resources(url), GREEN, instance=instance)
    second = materialize(make_resources(url), GREEN, instance=instance)

    raw = metadata_of(second, "raw_trips")
    assert raw["unchanged"].endswith(": the same ETag or Last-Modified (the server ignored the conditional request)")
    assert raw["downloaded_bytes"] == 0 and data_version(second) == data_version(first)


def test_a_file_mirror_is_compared_by_mtime_and_size(mirror, make_resources):
    instance = dg.DagsterInstance.ephemeral()

    first = materialize(make_resources(mirror.as_uri()), GREEN, instance=instance)
    second = materialize(make_resources(mirror.as_uri()), GREEN, instance=instance)
    republish(mirror, "green", "2020-04", GREEN_ROWS - 500)
    third = materialize(make_resources(mirror.as_uri()), GREEN, instance=instance)

    assert metadata_of(second, "raw_trips")["unchanged"].endswith(": its mtime and size are the same")
    assert data_version(second) == data_version(first)
    assert "unchanged" not in metadata_of(third, "raw_trips") and data_version(third) != data_version(first)


@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_a_damaged_or_missing_raw_file_is_downloaded_again(http_server, mirror, make_resources, lake_dir, damage):
    url, served = serve_mirror(http_server, mirror)
    instance = dg.DagsterInstance.ephemeral()
    first = materialize(make_resources(url), GREEN, instance=instance)
    kept = raw_file(lake_dir, "green", "2020-04")
    if damage == "missing":
        kept.unlink()
    else:
        kept.write_bytes(kept.read_bytes()[:-10])

    second = materialize(make_resources(url), GREEN, instance=instance)

    assert second.success and "unchanged" not in metadata_of(second, "raw_trips")
    assert served.body_bytes == 2 * release_file("green", "2020-04").stat().st_size
    assert kept.read_bytes() == release_file("green", "2020-04").read_bytes()
    assert data_version(second) == data_version(first)


def test_force_download_downloads_an_unchanged_file(http_server, mirror, make_resources):
    url, served = serve_mirror(http_server, mirror)
    instance = dg.DagsterInstance.ephemeral()
    size = release_file("green", "2020-04").stat().st_size
    materialize(make_resources(url), GREEN, instance=instance)

    forced = materialize(
        make_resources(url),
        GREEN,
        instance=instance,
        run_config={"ops": {"raw_trips": {"config": {"force_download": True}}}},
    )

    assert forced.success and metadata_of(forced, "raw_trips")["downloaded_bytes"] == size
    assert served.body_bytes == 2 * size


def test_a_tlc_parquet_month_unchanged_at_its_server_is_not_downloaded_again(http_server, make_resources, lake_dir):
    url, served = serve_mirror(http_server, TLC_DIR)
    lake = LocalLake(base_path=str(lake_dir))
    resources = (
        make_resources(url)
        | lake_io_managers(lake, "parquet")
        | {"source": TripSourceResource(release="tlc", base_url=url)}
    )
    assets = build_trip_assets(build_trip_partitions(TLC, date(2022, 1, 1)), "parquet").assets
    instance = dg.DagsterInstance.ephemeral()

    first, second = (
        dg.materialize(
            assets, selection="raw_trips", partition_key="green|2023-02-01", resources=resources, instance=instance
        )
        for _ in range(2)
    )

    assert served.body_bytes == (TLC_DIR / "green_tripdata_2023-02.parquet").stat().st_size
    assert metadata_of(second, "raw_trips")["unchanged"].endswith(": HTTP 304 Not Modified")
    assert data_version(second) == data_version(first)


def tick(instance, sensor, source, cursor=None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"source": source}))


def test_the_sensor_requests_exactly_the_republished_months_in_bounded_heads(
    http_server, mirror, make_resources, monkeypatch
):
    url, served = serve_mirror(http_server, mirror)
    instance = dg.DagsterInstance.ephemeral()
    for key in MONTHS:
        assert materialize(make_resources(url), key, instance=instance).success
    monkeypatch.setattr(sensors, "MAX_MONTHS_CHECKED_PER_TICK", 2)
    sensor, source = build_republished_month_sensor(COURSE, 3600), TripSourceResource(base_url=url)
    served.requests.clear()

    first = tick(instance, sensor, source)  # the two months never checked, in key order
    republish(mirror, "green", "2020-04", GREEN_ROWS - 500)
    republish(mirror, "fhv", "2020-01", 10)
    second = tick(instance, sensor, source, first.cursor)  # green, never checked, then fhv 2019-01
    third = tick(instance, sensor, source, second.cursor)  # fhv 2020-01, checked longest ago, then fhv 2019-01

    assert first.run_requests == []
    assert first.skip_reason.skip_message == "asked about 2 of the 3 loaded months: none was re-published"
    assert [r.partition_key for r in second.run_requests] == [GREEN]
    assert [r.partition_key for r in third.run_requests] == ["fhv|2020-01-01"]
    assert served.methods() == ["HEAD"] * 6
    assert [path.rsplit("/", 1)[1] for _, path in served.requests] == [
        "fhv_tripdata_2019-01.csv.gz",
        "fhv_tripdata_2020-01.csv.gz",
        "green_tripdata_2020-04.csv.gz",
        "fhv_tripdata_2019-01.csv.gz",
        "fhv_tripdata_2020-01.csv.gz",
        "fhv_tripdata_2019-01.csv.gz",
    ]
    change = second.run_requests[0].tags["taxi_pipeline/republished"]
    assert change.startswith("etag ") and " -> " in change and "last_modified " in change
    # The requested run goes through the same audit and loads the new file.
    assert materialize(make_resources(url), GREEN, instance=instance).success
    assert tick(instance, sensor, source, third.cursor).run_requests == []


def test_the_sensor_asks_nothing_of_the_courses_fixed_release():
    result = tick(dg.DagsterInstance.ephemeral(), build_republished_month_sensor(COURSE, 3600), TripSourceResource())

    assert isinstance(result, dg.SkipReason)
    assert "fixed copy" in result.skip_message


def test_pythons_own_file_server_is_asked_by_last_modified_and_its_months_stay_unrequested(
    http_server, mirror, make_resources
):
    # http.server sends Last-Modified and Content-Length, no ETag, and answers 304 with neither.
    url = http_server(partial(QuietHandler, directory=str(mirror)))
    instance = dg.DagsterInstance.ephemeral()
    first, second = (materialize(make_resources(url), GREEN, instance=instance) for _ in range(2))
    sensor, source = build_republished_month_sensor(COURSE, 3600), TripSourceResource(base_url=url)

    assert metadata_of(second, "raw_trips")["unchanged"].endswith(": HTTP 304 Not Modified")
    assert data_version(second) == data_version(first)
    assert tick(instance, sensor, source).run_requests == []


def test_the_sensor_compares_the_size_of_a_source_without_etag_or_last_modified(http_server, mirror, make_resources):
    url, served = serve_mirror(http_server, mirror, validators=False)
    instance = dg.DagsterInstance.ephemeral()
    assert materialize(make_resources(url), GREEN, instance=instance).success
    sensor, source = build_republished_month_sensor(COURSE, 3600), TripSourceResource(base_url=url)

    same = tick(instance, sensor, source)
    size = republish(mirror, "green", "2020-04", GREEN_ROWS - 500)
    resized = tick(instance, sensor, source, same.cursor)

    assert same.run_requests == []
    assert [r.partition_key for r in resized.run_requests] == [GREEN]
    original = release_file("green", "2020-04").stat().st_size
    assert resized.run_requests[0].tags["taxi_pipeline/republished"] == f"file_bytes {original} -> {size}"


def test_a_month_the_source_cannot_answer_for_waits_its_turn_behind_the_others(
    http_server, mirror, make_resources, monkeypatch
):
    url, served = serve_mirror(http_server, mirror)
    instance = dg.DagsterInstance.ephemeral()
    for key in ("fhv|2019-01-01", GREEN):
        assert materialize(make_resources(url), key, instance=instance).success
    release_file("fhv", "2019-01", mirror).unlink()  # the source answers 404 from now on
    monkeypatch.setattr(sensors, "MAX_MONTHS_CHECKED_PER_TICK", 1)
    sensor, source = build_republished_month_sensor(COURSE, 3600), TripSourceResource(base_url=url)
    served.requests.clear()

    first = tick(instance, sensor, source)
    second = tick(instance, sensor, source, first.cursor)
    third = tick(instance, sensor, source, second.cursor)

    assert [path.rsplit("/", 1)[1] for _, path in served.requests] == [
        "fhv_tripdata_2019-01.csv.gz",
        "green_tripdata_2020-04.csv.gz",
        "fhv_tripdata_2019-01.csv.gz",
    ]
    assert first.run_requests == second.run_requests == third.run_requests == []
