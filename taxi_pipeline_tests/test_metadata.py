"""The metadata the trip assets show: any table a warehouse hands back is shown, whatever its
columns and types, never a crash (the column schema read back from each warehouse is tested in
warehouse/test_contract.py)."""

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from taxi_pipeline.defs.metadata import table_preview


def test_a_preview_shows_columns_and_values_of_types_it_did_not_expect():
    new_york = dt.timezone(dt.timedelta(hours=-5))
    table = pa.table(
        {
            "color": ["green"],
            "fare_exact": pa.array([Decimal("12.50")], pa.decimal128(10, 2)),
            "raw": pa.array([b"\x00\xff"], pa.binary()),
            "pickup_time": pa.array([dt.time(8, 30)], pa.time64("us")),
            "pickup_tz": pa.array([dt.datetime(2020, 4, 1, 8, 30, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
            "wait": pa.array([dt.timedelta(minutes=2)], pa.duration("us")),
            "tags": pa.array([["a", "b"]], pa.list_(pa.string())),
            "big": pa.array([2**62], pa.int64()),
        }
    )

    preview = table_preview(table)

    assert [(c.name, c.type) for c in preview.schema.columns] == [
        ("color", "string"),
        ("fare_exact", "decimal128(10, 2)"),
        ("raw", "binary"),
        ("pickup_time", "time64[us]"),
        ("pickup_tz", "timestamp[us, tz=UTC]"),
        ("wait", "duration[us]"),
        ("tags", "list<item: string>"),
        ("big", "int64"),
    ]
    [record] = preview.records
    assert record.data == {
        "color": "green",
        "fare_exact": "12.50",
        "raw": "00ff",
        "pickup_time": "08:30:00",
        "pickup_tz": "2020-04-01 08:30:00+00:00",
        "wait": 120.0,
        "tags": "['a', 'b']",
        "big": 2**62,
    }
    # A time with a time zone, as psycopg hands one back from Postgres's timetz.
    assert table_preview(pa.table({"t": [dt.time(8, 30, tzinfo=new_york)]})).records[0].data == {"t": "08:30:00"}
