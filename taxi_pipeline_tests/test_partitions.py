from datetime import UTC, date, datetime

import dagster as dg
import pytest

from taxi_pipeline.defs.source.releases import TLC
from taxi_pipeline.partitions import (
    PartitionKeyError,
    build_trip_partitions,
    course_partitions,
    next_month,
    split_partition_key,
    trip_partition_key,
)


def test_next_month_rolls_over_the_year():
    assert next_month(date(2020, 12, 1)) == date(2021, 1, 1)
    assert next_month(date(2021, 1, 1)) == date(2021, 2, 1)
    assert next_month(date(2021, 1, 31)) == date(2021, 2, 1)


def test_a_key_splits_into_color_and_month_whatever_form_it_comes_in():
    key = trip_partition_key("green", date(2020, 4, 1))

    assert key == "green|2020-04-01"
    assert split_partition_key(key) == ("green", date(2020, 4, 1))
    assert split_partition_key(dg.MultiPartitionKey({"month": "2020-04-01", "color": "green"})) == (
        "green",
        date(2020, 4, 1),
    )


def test_the_partitions_are_exactly_the_months_of_the_course_release():
    keys = course_partitions.get_partition_keys()

    assert len(keys) == 93  # 31 months, 2019-01 to 2021-07, of three colors
    assert {split_partition_key(k)[1] for k in keys} == {
        date(year, month, 1) for year in (2019, 2020, 2021) for month in range(1, 13) if (year, month) <= (2021, 7)
    }
    assert "green|2021-08-01" not in keys and "green|2018-12-01" not in keys


COURSE_RANGE = (
    "Months run 2019-01..2021-07 for yellow, green, fhv (TAXI_SOURCE=course); "
    "the form is color|YYYY-MM-01, e.g. yellow|2021-07-01."
)


@pytest.mark.parametrize(
    "key,why",
    [
        ("green|2030-01-01", "2030-01 is after the last month"),
        ("green|2018-12-01", "2018-12 is before the first month"),
        ("purple|2020-04-01", "purple is not one of the colors"),
        ("green-2020-04", "it is not of the form color|YYYY-MM-01"),
        ("2020-04-01|green", "it is not of the form color|YYYY-MM-01"),
        ("green|20200401", "it is not of the form color|YYYY-MM-01"),
        ("green|2020-04-15", "2020-04-15 is not the first day of a month"),
        ("", "the key is empty"),
    ],
)
def test_a_key_that_is_not_a_partition_is_refused_saying_why_and_which_keys_there_are(key, why):
    refused = f"{key!r} is not a partition of the trip assets: {why}. {COURSE_RANGE}"

    assert course_partitions.refusal(key) == refused
    with pytest.raises(PartitionKeyError) as raised, dg.partition_loading_context() as context:
        course_partitions.validate_partition_key(key, context)
    assert raised.value.message == refused


def test_every_partition_is_accepted():
    assert [key for key in course_partitions.get_partition_keys() if course_partitions.refusal(key)] == []
    with dg.partition_loading_context() as context:
        course_partitions.validate_partition_key("green|2020-04-01", context)


def test_a_tlc_key_names_the_first_month_setting_and_the_clock_s_last_month():
    partitions = build_trip_partitions(TLC, date(2020, 1, 1))

    with dg.partition_loading_context(effective_dt=datetime(2026, 1, 15, tzinfo=UTC)):
        assert partitions.refusal("fhvhv|2026-01-01") == (
            "'fhvhv|2026-01-01' is not a partition of the trip assets: 2026-01 is after the last month. "
            "Months run 2020-01..2025-10 for yellow, green, fhv, fhvhv (TAXI_SOURCE=tlc, TAXI_FIRST_MONTH=2020-01); "
            "the form is color|YYYY-MM-01, e.g. yellow|2025-10-01."
        )
    with dg.partition_loading_context(effective_dt=datetime(2019, 12, 15, tzinfo=UTC)):
        assert partitions.refusal("fhvhv|2020-01-01") == (
            "'fhvhv|2020-01-01' is not a partition of the trip assets: there are no months yet. No months yet for "
            "yellow, green, fhv, fhvhv (TAXI_SOURCE=tlc, TAXI_FIRST_MONTH=2020-01); the form is color|YYYY-MM-01."
        )


def test_a_run_of_a_key_that_is_not_a_partition_is_refused_before_it_starts():
    @dg.asset(partitions_def=course_partitions)
    def monthly() -> None: ...

    instance = dg.DagsterInstance.ephemeral()
    with pytest.raises(PartitionKeyError, match=r"^'green\|2030-01-01' is not a partition of the trip assets: 2030-01"):
        dg.materialize([monthly], partition_key="green|2030-01-01", instance=instance)
    assert instance.get_runs_count() == 0
