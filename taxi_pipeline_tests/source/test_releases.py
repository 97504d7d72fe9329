"""The two sources `TAXI_SOURCE` selects: their settings, layouts, partitions (on a fixed clock),
the months each can have, and the schedule and sensor over them."""

import shutil
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from taxi_pipeline.definitions import build_definitions
from taxi_pipeline.defs.source.releases import COURSE, TLC
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.defs.source.sensors import build_new_month_sensor
from taxi_pipeline.errors import PermanentError, SettingError
from taxi_pipeline.partitions import build_trip_partitions, course_partitions
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.tlc import tlc_file

DECEMBER_2026 = date(2026, 12, 1)


def tlc_settings(**env: str) -> Settings:
    return Settings.from_environment({"TAXI_SOURCE": "tlc", **env}, today=DECEMBER_2026)


def test_the_course_source_is_the_default_and_keeps_its_layout():
    settings = Settings.from_environment({})

    assert (settings.source, settings.first_month, settings.release) == ("course", None, COURSE)
    assert settings.source_url == "https://github.com/DataTalksClub/nyc-tlc-data/releases/download"
    assert COURSE.file_url(settings.source_url, "fhv", date(2019, 1, 1)).endswith("/fhv/fhv_tripdata_2019-01.csv.gz")
    assert COURSE.zones_url(settings.source_url) == f"{settings.source_url}/misc/taxi_zone_lookup.csv"


def test_the_tlc_source_reads_its_parquet_files_and_the_zone_table_beside_them():
    settings = tlc_settings()

    assert settings.source_url == "https://d37ci6vzurychx.cloudfront.net/trip-data"
    assert TLC.file_url(settings.source_url, "fhvhv", date(2019, 2, 1)) == (
        "https://d37ci6vzurychx.cloudfront.net/trip-data/fhvhv_tripdata_2019-02.parquet"
    )
    assert TLC.zones_url(settings.source_url) == "https://d37ci6vzurychx.cloudfront.net/misc/taxi_zone_lookup.csv"
    assert TLC.zones_url("file:///srv/tlc/trip-data/") == "file:///srv/tlc/misc/taxi_zone_lookup.csv"
    assert TripSourceResource(release="tlc", base_url="http://127.0.0.1:9/trip-data").zones_url() == (
        "http://127.0.0.1:9/misc/taxi_zone_lookup.csv"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2010-12", "TAXI_FIRST_MONTH='2010-12' is before 2011-01: the TLC's 2009 and 2010 files use another layout"),
        ("2019", "TAXI_FIRST_MONTH='2019' is not a month; write it as YYYY-MM, e.g. 2019-01"),
        ("2019-13", "TAXI_FIRST_MONTH='2019-13' is not a month"),
        ("2019-01-15", "TAXI_FIRST_MONTH='2019-01-15' is not a month"),
        (
            "2026-10",
            r"TAXI_FIRST_MONTH='2026-10' is later than the latest month the TLC can have published \(2026-09\)",
        ),
    ],
)
def test_a_first_month_the_tlc_cannot_have_is_refused_naming_the_setting(value, message):
    with pytest.raises(SettingError, match=message):
        tlc_settings(TAXI_FIRST_MONTH=value)


def test_a_first_month_is_read_as_the_first_day_of_its_month():
    assert tlc_settings(TAXI_FIRST_MONTH="2011-01").first_month == date(2011, 1, 1)
    assert tlc_settings(TAXI_FIRST_MONTH="2015-07-01").first_month == date(2015, 7, 1)


def test_an_unknown_source_is_refused_naming_the_setting():
    with pytest.raises(SettingError, match="TAXI_SOURCE='nyc' is not a known source; use one of: course, tlc"):
        Settings.from_environment({"TAXI_SOURCE": "nyc"})


def test_the_course_partitions_end_at_the_last_month_of_the_mirror_whatever_the_clock():
    with dg.partition_loading_context(effective_dt=datetime(2031, 5, 17, tzinfo=UTC)):
        keys = course_partitions.get_partition_keys()

    assert len(keys) == 93 and keys[-1] == "fhv|2021-07-01" and keys[0] == "yellow|2019-01-01"


def test_the_tlc_partitions_list_four_services_and_grow_with_the_clock():
    partitions = build_trip_partitions(TLC, date(2019, 1, 1))
    months = partitions.get_partitions_def_for_dimension("month")

    def last_month(now: datetime) -> str:
        with dg.partition_loading_context(effective_dt=now):
            return months.get_last_partition_key()

    assert partitions.get_partitions_def_for_dimension("color").get_partition_keys() == [
        "yellow",
        "green",
        "fhv",
        "fhvhv",
    ]
    assert last_month(datetime(2026, 12, 1, tzinfo=UTC)) == "2026-09-01"
    assert last_month(datetime(2026, 11, 30, 23, tzinfo=UTC)) == "2026-08-01"
    assert last_month(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-10-01"
    # The last month is the one `latest_month` says the TLC can have published by then.
    assert TLC.latest_month(date(2026, 12, 1)) == date(2026, 9, 1)
    with dg.partition_loading_context(effective_dt=datetime(2026, 12, 1, tzinfo=UTC)):
        assert len(partitions.get_partition_keys()) == 4 * 93  # 2019-01 to 2026-09
    assert months.get_first_partition_key() == "2019-01-01"


@pytest.mark.parametrize(
    ("color", "month", "why"),
    [
        ("green", date(2013, 12, 1), "green 2013-12 is before the service began: the TLC's release holds green trips"),
        ("fhv", date(2014, 12, 1), "fhv 2014-12 is before the service began: .* from 2015-01"),
        ("fhvhv", date(2019, 1, 1), "fhvhv 2019-01 is before the service began: .* from 2019-02"),
        (
            "yellow",
            date(2026, 10, 1),
            "yellow 2026-10 is not published yet: .*the latest it can have today is 2026-09",
        ),
    ],
)
def test_a_month_the_tlc_cannot_have_says_which_reason(color, month, why):
    with pytest.raises(PermanentError, match=why):
        TLC.check_offered(color, month, DECEMBER_2026)


def test_the_first_months_of_each_service_are_offered():
    for color, first in {"green": date(2014, 1, 1), "fhv": date(2015, 1, 1), "fhvhv": date(2019, 2, 1)}.items():
        TLC.check_offered(color, first, DECEMBER_2026)
    TLC.check_offered("yellow", date(2026, 9, 1), DECEMBER_2026)


def test_a_month_outside_the_course_mirror_says_so():
    with pytest.raises(
        PermanentError, match="green 2021-08 is not in the course's CSV mirror: it holds 2019-01 to 2021-07"
    ):
        COURSE.check_offered("green", date(2021, 8, 1), DECEMBER_2026)
    with pytest.raises(ValueError, match="unknown course service 'fhvhv'"):
        COURSE.check_offered("fhvhv", date(2020, 4, 1), DECEMBER_2026)


def test_the_tlc_schedule_requests_the_latest_month_the_tlc_can_have_for_all_four_services(monkeypatch):
    monkeypatch.setenv("TAXI_SOURCE", "tlc")
    schedule = build_definitions(Settings.from_environment()).resolve_schedule_def("monthly_trips_schedule")
    tick = datetime(2026, 12, 1, 5, tzinfo=UTC)

    with dg.partition_loading_context(effective_dt=tick):
        requests = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests

    assert [r.partition_key for r in requests] == [f"{c}|2026-09-01" for c in ("yellow", "green", "fhv", "fhvhv")]


def test_the_tlc_sensor_starts_each_service_at_its_first_month(tmp_path):
    trip_data = tmp_path / "trip-data"
    trip_data.mkdir()
    for name in ("fhvhv_tripdata_2019-02.parquet", "green_tripdata_2019-01.parquet", "green_tripdata_2019-02.parquet"):
        shutil.copy(tlc_file("green", date(2022, 1, 1)), trip_data / name)
    source = TripSourceResource(release="tlc", base_url=trip_data.as_uri())
    sensor = build_new_month_sensor(build_trip_partitions(TLC, date(2019, 1, 1)), TLC)
    context = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), resources={"source": source})

    result = sensor(context)

    assert [r.partition_key for r in result.run_requests] == [
        "green|2019-01-01",
        "green|2019-02-01",
        "fhvhv|2019-02-01",
    ]
