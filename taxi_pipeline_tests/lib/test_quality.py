from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from taxi_pipeline.lib.clean import count_outside_month
from taxi_pipeline.lib.quality import (
    RowDropThresholds,
    location_id_problems,
    required_nulls,
    row_drop_share,
    row_drop_verdict,
    schema_differences,
)
from taxi_pipeline.schema import CANONICAL_SCHEMA


def locations(pickup: list, dropoff: list) -> pa.Table:
    return pa.table(
        {"pickup_location_id": pa.array(pickup, pa.int32()), "dropoff_location_id": pa.array(dropoff, pa.int32())}
    )


def test_canonical_schema_has_no_differences():
    assert schema_differences(CANONICAL_SCHEMA) == []


def test_schema_differences_name_each_column():
    schema = CANONICAL_SCHEMA.remove(CANONICAL_SCHEMA.get_field_index("sr_flag"))
    schema = schema.set(schema.get_field_index("vendor_id"), pa.field("vendor_id", pa.int64()))
    schema = schema.append(pa.field("request_source", pa.string()))

    assert schema_differences(schema) == [
        "missing column sr_flag (int32)",
        "unexpected column request_source (string)",
        "column vendor_id is int64, expected int32",
    ]


def test_column_order_matters():
    reordered = pa.schema(list(reversed(list(CANONICAL_SCHEMA))))

    assert schema_differences(reordered) == ["columns are not in canonical order"]


def test_location_ids_outside_the_zones_are_counted():
    problems = location_id_problems(locations([1, 265, 0, 300, None], [5, 6, 7, 8, 9]), "green")

    assert problems == {
        "pickup_location_id": {"outside_zone_range": 2, "null": 1},
        "dropoff_location_id": {"outside_zone_range": 0, "null": 0},
    }


def test_fhv_may_leave_locations_empty_but_not_out_of_range():
    problems = location_id_problems(locations([None, None, 266], [None, 1, 2]), "fhv")

    assert problems["pickup_location_id"] == {"outside_zone_range": 1, "null": 0}
    assert problems["dropoff_location_id"] == {"outside_zone_range": 0, "null": 0}


def test_null_counts_and_pickups_outside_month():
    pickups = pa.chunked_array(
        [
            pa.array(
                [datetime(2020, 4, 1), datetime(2020, 3, 31, 23, 59), None, datetime(2020, 5, 1)], pa.timestamp("us")
            )
        ]
    )

    trips = pa.Table.from_pylist([{"pickup_datetime": pickup} for pickup in pickups.to_pylist()], CANONICAL_SCHEMA)
    assert required_nulls(trips)["pickup_datetime"] == 1
    assert count_outside_month(pickups, date(2020, 4, 1)) == 2
    assert count_outside_month(pa.chunked_array([], pa.timestamp("us")), date(2020, 4, 1)) == 0


def test_with_the_zone_table_s_ids_an_id_it_lacks_is_no_zone():
    zone_ids = [1, 2, 3, 300]  # a zone table of its own: 300 is a zone, 5 is not

    problems = location_id_problems(locations([1, 300, 5, None], [2, 3, 0, 1]), "green", zone_ids)

    assert problems == {
        "pickup_location_id": {"outside_zone_range": 1, "null": 1},
        "dropoff_location_id": {"outside_zone_range": 1, "null": 0},
    }


def test_a_month_measured_batch_by_batch_counts_what_the_whole_month_holds():
    from taxi_pipeline.lib.quality import implausible_values, measure_month
    from taxi_pipeline_tests.support.trips import cleaned_sample

    month = cleaned_sample("green", "2020-04")
    april = date(2020, 4, 1)

    measured = measure_month(month.to_batches(max_chunksize=1_000), "green", april, zone_ids=list(range(1, 264)))

    assert measured.rows == month.num_rows == 35_612
    assert measured.null_times == {name: month[name].null_count for name in ("pickup_datetime", "dropoff_datetime")}
    assert measured.location_problems == location_id_problems(month, "green", list(range(1, 264)))
    assert measured.location_problems["pickup_location_id"]["outside_zone_range"] > 0  # zones 264, 265
    assert measured.share_outside_month == count_outside_month(month["pickup_datetime"], april) / month.num_rows
    assert measured.implausible == implausible_values(month)
    assert measure_month([], "green", april).share_outside_month == 0.0


def test_row_drop_share_against_the_previous_publication():
    assert row_drop_share(None, 1_000) == 0.0  # never published
    assert row_drop_share(35_612, 40_000) == 0.0  # more rows is no drop
    assert row_drop_share(57_360, 1_000) == (57_360 - 1_000) / 57_360


def test_row_drop_verdict_warns_then_blocks():
    thresholds = RowDropThresholds(warn_share=0.10, block_share=0.50)
    assert [row_drop_verdict(share, thresholds) for share in (0.0, 0.10, 0.11, 0.50, 0.98)] == [
        "pass",
        "pass",
        "warn",
        "warn",
        "block",
    ]


def test_row_growth_warns_above_10_and_blocks_above_50_percent():
    from taxi_pipeline.lib.quality import row_growth_share

    assert row_growth_share(None, 71_224) == 0.0  # never published
    assert row_growth_share(35_612, 35_000) == 0.0  # fewer rows is no growth
    assert row_growth_share(35_612, 71_224) == 1.0  # every row twice
    thresholds = RowDropThresholds()
    assert [row_drop_verdict(0.0, thresholds, growth) for growth in (0.10, 0.11, 0.50, 1.0)] == [
        "pass",
        "warn",
        "warn",
        "block",
    ]


def test_a_real_month_twice_has_half_its_rows_duplicated_by_key_and_in_full():
    from taxi_pipeline.lib.quality import duplicate_rows, measure_month
    from taxi_pipeline_tests.support.trips import cleaned_sample

    month = cleaned_sample("green", "2020-04")
    twice = pa.concat_tables([month, month])
    april = date(2020, 4, 1)

    # 24 real trips share times, zones, distance and total with another and differ elsewhere:
    # the key columns bound the duplicates, the whole rows count them.
    assert measure_month(month.to_batches(max_chunksize=10_000), "green", april).duplicate_keys == 24
    assert duplicate_rows(month.to_batches(max_chunksize=10_000)) == 0
    assert measure_month(twice.to_batches(max_chunksize=10_000), "green", april).duplicate_keys == 35_612 + 24
    assert duplicate_rows(twice.to_batches(max_chunksize=10_000)) == 35_612


def test_rows_differing_in_one_column_only_are_not_duplicates():
    from taxi_pipeline.lib.quality import duplicate_rows
    from taxi_pipeline_tests.support.trips import cleaned_sample

    month = cleaned_sample("green", "2020-04").slice(0, 1_000)
    tipped = pc.add(month["tip_amount"], 0.01)
    other = month.set_column(month.schema.get_field_index("tip_amount"), "tip_amount", tipped)

    assert duplicate_rows([month, other]) == 0  # same key columns, another tip
    assert duplicate_rows([month, month.slice(0, 10)]) == 10


def test_nan_infinity_nulls_and_impossible_trips_are_counted_per_column():
    from taxi_pipeline.lib.quality import impossible_values, non_finite_values

    table = CANONICAL_SCHEMA.empty_table().to_pylist()
    rows = [
        {"fare_amount": float("nan"), "total_amount": 1.0, "passenger_count": -1, "pickup_location_id": 1},
        {"fare_amount": float("inf"), "tip_amount": float("-inf"), "passenger_count": 1},
        {"fare_amount": None, "total_amount": 2.0, "passenger_count": 0, "dropoff_location_id": 7},
    ]
    times = [(datetime(2020, 4, 1, 10), datetime(2020, 4, 1, 9)), (datetime(2020, 4, 1), None), (None, None)]
    for row, (pickup, dropoff) in zip(rows, times, strict=True):
        table.append(
            {**dict.fromkeys(CANONICAL_SCHEMA.names), **row, "pickup_datetime": pickup, "dropoff_datetime": dropoff}
        )
    table = pa.Table.from_pylist(table, CANONICAL_SCHEMA)

    assert {name: n for name, n in non_finite_values(table).items() if n} == {"fare_amount": 2, "tip_amount": 1}
    assert required_nulls(table) == {
        "pickup_datetime": 1,
        "dropoff_datetime": 2,
        "pickup_location_id": 2,
        "dropoff_location_id": 2,
        "fare_amount": 1,
        "total_amount": 1,
        "pickup_and_dropoff_location_id": 1,
    }
    assert impossible_values(table) == {"dropoff_before_pickup": 1, "negative_passenger_count": 1}


def test_the_audit_skips_columns_the_footer_shows_empty_but_never_the_ones_it_counts(tmp_path):
    from taxi_pipeline.lib.quality import audit_columns
    from taxi_pipeline_tests.support.trips import cleaned_sample

    month = cleaned_sample("green", "2020-04")
    no_fares = month.set_column(
        month.schema.get_field_index("fare_amount"), "fare_amount", pa.nulls(month.num_rows, pa.float64())
    )
    pq.write_table(no_fares, tmp_path / "staged.parquet", row_group_size=10_000)

    columns = audit_columns(pq.read_metadata(tmp_path / "staged.parquet"))

    assert "fare_amount" in columns  # all null, and counted as such
    assert "ehail_fee" not in columns and "airport_fee" not in columns  # null in every row: no NaN, no difference
    assert {"extra", "tip_amount", "congestion_surcharge"} <= set(columns)


def test_a_month_is_measured_one_batch_at_a_time(monkeypatch):
    from taxi_pipeline.lib import quality
    from taxi_pipeline_tests.support.trips import cleaned_sample

    read, read_when_measured = [], []
    count_outside_month = quality.count_outside_month

    def counting(pickups, month):
        read_when_measured.append(len(read))
        return count_outside_month(pickups, month)

    def batches():
        for batch in cleaned_sample("green", "2020-04").to_batches(max_chunksize=10_000):
            read.append(batch)
            yield batch

    monkeypatch.setattr(quality, "count_outside_month", counting)
    quality.measure_month(batches(), "green", date(2020, 4, 1))

    assert read_when_measured == [0, 1, 2, 3, 4]  # the empty table first, then each batch as read
