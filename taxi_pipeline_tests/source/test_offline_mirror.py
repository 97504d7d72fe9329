"""The offline mirrors (deploy/mirror.py): every partition of a source's range is a file where the
source keeps it, the bundled real months byte for byte, the others generated and marked so; a
generated month runs through every asset flagged as generated, a real one as before; and
`raw_trips` says how big the raw file is uncompressed."""

import gzip
from datetime import date

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from deploy.mirror import build_mirror
from taxi_pipeline.definitions import build_trip_assets
from taxi_pipeline.defs.source.releases import TLC
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.lib.source_file import check_downloaded_file
from taxi_pipeline.partitions import build_trip_partitions, course_partitions
from taxi_pipeline_tests.support.runs import TRIP_ASSETS, materialize, metadata_of
from taxi_pipeline_tests.support.samples import RELEASE_DIR, SAMPLE_ROWS, release_file, release_zones
from taxi_pipeline_tests.support.tlc import TLC_DIR, TLC_FILES


@pytest.fixture(scope="module")
def course_mirror(tmp_path_factory):
    return tmp_path_factory.mktemp("mirror") / "course"


def test_the_course_mirror_holds_every_partition_real_months_as_bundled_the_others_marked(course_mirror):
    mirror = build_mirror("course", course_mirror)

    assert (mirror.real, mirror.generated, mirror.made) == (4, 89, 93)
    assert mirror.source_url == course_mirror.as_uri()
    for key in course_partitions.get_partition_keys():
        color, month = key.split("|")
        path = release_file(color, month[:7], course_mirror)
        facts = check_downloaded_file(path)
        if key in SAMPLE_ROWS:
            assert path.read_bytes() == release_file(color, month[:7]).read_bytes() and facts.generated is None
        else:
            assert facts.generated is not None, key
            assert facts.generated.startswith(f"{len(gzip.decompress(path.read_bytes()).splitlines()) - 1} rows made")
    assert release_zones(course_mirror).read_bytes() == release_zones().read_bytes()
    # Each year's fhv header, as the course's release spells it.
    headers = {
        year: gzip.decompress(release_file("fhv", f"{year}-03", course_mirror).read_bytes()).split(b"\n")[0]
        for year in (2019, 2020)
    }
    assert headers[2019].split(b",")[2:5] == [b"dropOff_datetime", b"PUlocationID", b"DOlocationID"]
    assert headers[2020].split(b",")[2:5] == [b"dropoff_datetime", b"PULocationID", b"DOLocationID"]


def test_the_mirror_is_made_once_and_remade_when_its_generator_changes(course_mirror):
    build_mirror("course", course_mirror)
    made = release_file("green", "2019-01", course_mirror).read_bytes()

    again = build_mirror("course", course_mirror)
    (course_mirror / ".generator-sha256").write_text("another generator")
    remade = build_mirror("course", course_mirror)

    assert again.made == 0 and remade.made == 93
    assert release_file("green", "2019-01", course_mirror).read_bytes() == made  # same seed, same bytes


def test_the_tlc_mirror_is_laid_out_as_the_tlc_host_with_its_zone_table(tmp_path):
    mirror = build_mirror("tlc", tmp_path / "tlc", first_month=date(2022, 1, 1))
    source = TripSourceResource(release="tlc", base_url=mirror.source_url)

    zones = source.download_zones(tmp_path / "zones.csv")

    assert mirror.source_url == (tmp_path / "tlc" / "trip-data").as_uri()
    assert zones.url == (tmp_path / "tlc/misc/taxi_zone_lookup.csv").as_uri()
    assert (tmp_path / "zones.csv").read_bytes() == (TLC_DIR / "misc/taxi_zone_lookup.csv").read_bytes()
    for (service, month), (name, rows) in TLC_FILES.items():
        path = tmp_path / "tlc/trip-data" / f"{service}_tripdata_{month:%Y-%m}.parquet"
        assert path.read_bytes() == (TLC_DIR / name).read_bytes()
        assert check_downloaded_file(path, "parquet").generated is None and pq.read_metadata(path).num_rows == rows
    generated = tmp_path / "tlc/trip-data/fhvhv_tripdata_2023-02.parquet"
    facts = check_downloaded_file(generated, "parquet")
    assert facts.generated.startswith(f"{pq.read_metadata(generated).num_rows} rows made by deploy/mirror.py")
    assert facts.generated.endswith("not a file of the TLC's release")
    assert mirror.real == len(TLC_FILES) and mirror.made == mirror.real + mirror.generated


def test_a_generated_month_is_flagged_from_the_raw_file_to_the_slice_and_a_real_one_is_not(
    course_mirror, make_resources, duckdb_path
):
    build_mirror("course", course_mirror)
    resources = make_resources(course_mirror.as_uri())
    rows = len(gzip.decompress(release_file("green", "2019-01", course_mirror).read_bytes()).splitlines()) - 1

    generated = materialize(resources, "green|2019-01-01")
    real = materialize(resources, "fhv|2019-01-01")

    assert generated.success and real.success
    raw, cleaned = metadata_of(generated, "raw_trips"), metadata_of(generated, "cleaned_trips")
    assert raw["source"] == metadata_of(generated, "lake_trips_parquet")["source"] == "course (generated)"
    assert raw["generated"] == cleaned["generated"]
    assert raw["generated"].startswith(f"{rows} rows made by deploy/mirror.py (seed ")
    assert metadata_of(generated, "warehouse_trips")["slice_rows"] == cleaned["dagster/row_count"] == rows
    assert metadata_of(real, "raw_trips")["source"] == metadata_of(real, "warehouse_trips")["source"] == "course"
    assert "generated" not in metadata_of(real, "raw_trips") and "generated" not in metadata_of(real, "cleaned_trips")
    with duckdb.connect(str(duckdb_path), read_only=True) as conn:
        loads = dict(conn.execute("SELECT color, source FROM loads").fetchall())
    assert loads == {"green": "course (generated)", "fhv": "course"}


def raw_metadata(resources: dict, key: str, assets=TRIP_ASSETS) -> dict:
    """The metadata of `raw_trips` alone, materialized for one partition with `resources`."""
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            assets, selection="raw_trips", partition_key=key, resources=resources, instance=instance
        )
    return metadata_of(result, "raw_trips")


def test_raw_trips_says_the_uncompressed_size_of_a_gzipped_month_exactly(make_resources):
    raw = raw_metadata(make_resources(RELEASE_DIR.as_uri()), "green|2020-04-01")

    # The gzip trailer's ISIZE: what `gzip -l` shows, and what decompressing the file gives.
    assert raw["uncompressed_bytes"] == 3_210_216 == len(gzip.decompress(release_file("green", "2020-04").read_bytes()))
    assert raw["uncompressed_size"] == "3.062 MiB"
    assert raw["bytes"] == 670_357  # the file itself


def test_raw_trips_says_the_uncompressed_size_of_a_parquet_months_column_chunks(make_resources):
    resources = {
        **make_resources(TLC_DIR.as_uri()),
        "source": TripSourceResource(release="tlc", base_url=TLC_DIR.as_uri()),
    }
    tlc_assets = build_trip_assets(build_trip_partitions(TLC, date(2022, 1, 1)), "parquet").assets

    raw = raw_metadata(resources, "green|2022-01-01", tlc_assets)

    # The footer's column chunks before compression: not the size of a CSV of the month.
    assert raw["column_chunks_uncompressed_bytes"] == 1_910_119
    assert raw["column_chunks_uncompressed_size"] == "1.822 MiB"
    assert "uncompressed_bytes" not in raw and raw["bytes"] == 1_254_291
