from datetime import date

import dagster as dg

from taxi_pipeline.partitions import (
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
