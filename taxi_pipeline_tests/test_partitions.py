from datetime import date

import dagster as dg

from taxi_pipeline.partitions import next_month, previous_month, split_partition_key, trip_partition_key


def test_next_month_rolls_over_the_year():
    assert next_month(date(2020, 12, 1)) == date(2021, 1, 1)
    assert next_month(date(2021, 1, 1)) == date(2021, 2, 1)
    assert next_month(date(2021, 1, 31)) == date(2021, 2, 1)


def test_previous_month_of_any_day_is_the_first_of_the_month_before():
    assert previous_month(date(2021, 1, 1)) == date(2020, 12, 1)
    assert previous_month(date(2021, 3, 31)) == date(2021, 2, 1)


def test_a_key_splits_into_color_and_month_whatever_form_it_comes_in():
    key = trip_partition_key("green", date(2020, 4, 1))

    assert key == "green|2020-04-01"
    assert split_partition_key(key) == ("green", date(2020, 4, 1))
    assert split_partition_key(dg.MultiPartitionKey({"month": "2020-04-01", "color": "green"})) == (
        "green",
        date(2020, 4, 1),
    )
