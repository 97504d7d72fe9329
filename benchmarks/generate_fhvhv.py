"""Seeded generator of high-volume FHV (Uber, Lyft) months as the TLC publishes them: parquet
with the 2025 files' columns and physical types, written one row group at a time so that tens of
millions of rows take the memory of one group.

    python -m benchmarks.generate_fhvhv 20000000 2025-01 fhvhv_tripdata_2025-01.parquet
"""

import argparse
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from taxi_pipeline.partitions import next_month

# The TLC's fhvhv schema since 2025-01 (ids int32 and `large_string` came at 2023-02; the CBD
# fee at 2025-01).
FHVHV_SCHEMA = pa.schema(
    [
        ("hvfhs_license_num", pa.large_string()),
        ("dispatching_base_num", pa.large_string()),
        ("originating_base_num", pa.large_string()),
        ("request_datetime", pa.timestamp("us")),
        ("on_scene_datetime", pa.timestamp("us")),
        ("pickup_datetime", pa.timestamp("us")),
        ("dropoff_datetime", pa.timestamp("us")),
        ("PULocationID", pa.int32()),
        ("DOLocationID", pa.int32()),
        ("trip_miles", pa.float64()),
        ("trip_time", pa.int64()),
        ("base_passenger_fare", pa.float64()),
        ("tolls", pa.float64()),
        ("bcf", pa.float64()),
        ("sales_tax", pa.float64()),
        ("congestion_surcharge", pa.float64()),
        ("airport_fee", pa.float64()),
        ("tips", pa.float64()),
        ("driver_pay", pa.float64()),
        ("shared_request_flag", pa.large_string()),
        ("shared_match_flag", pa.large_string()),
        ("access_a_ride_flag", pa.large_string()),
        ("wav_request_flag", pa.large_string()),
        ("wav_match_flag", pa.large_string()),
        ("cbd_congestion_fee", pa.float64()),
    ]
)
ROW_GROUP_ROWS = 1_000_000  # the 2025 files' row groups


def generate_fhvhv_rows(rows: int, month: date, seed: int) -> pa.Table:
    """`rows` trips of `month` in `FHVHV_SCHEMA`, with plausible values."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(datetime.combine(month, datetime.min.time()), "us")
    span = int((np.datetime64(next_month(month)) - np.datetime64(month)).astype("timedelta64[s]").astype(int))
    request = start + (rng.integers(0, span, rows) * 1_000_000).astype("timedelta64[us]")
    on_scene = request + (rng.exponential(240, rows) * 1_000_000).astype("timedelta64[us]")
    pickup = on_scene + (rng.exponential(60, rows) * 1_000_000).astype("timedelta64[us]")
    trip_time = rng.gamma(2.5, 400, rows).astype(np.int64)
    dropoff = pickup + (trip_time * 1_000_000).astype("timedelta64[us]")
    miles = np.round(rng.gamma(1.7, 2.8, rows), 3)
    fare = np.round(8 + miles * 1.9 + trip_time / 60 * 0.6, 2)
    license_num = rng.choice(["HV0003", "HV0005"], rows, p=[0.73, 0.27])
    base = np.where(license_num == "HV0003", "B03404", "B03406")
    flag = lambda share: np.where(rng.random(rows) < share, "Y", "N")  # noqa: E731
    columns = [
        license_num,
        base,
        base,
        request,
        np.where(rng.random(rows) < 0.25, np.datetime64("NaT"), on_scene),
        pickup,
        dropoff,
        rng.integers(1, 266, rows).astype(np.int32),
        rng.integers(1, 266, rows).astype(np.int32),
        miles,
        trip_time,
        fare,
        np.where(rng.random(rows) < 0.07, 6.94, 0.0),
        np.round(fare * 0.0275, 2),
        np.round(fare * 0.08875, 2),
        np.where(rng.random(rows) < 0.75, 2.75, 0.0),
        np.where(rng.random(rows) < 0.05, 5.0, 0.0),
        np.where(rng.random(rows) < 0.2, np.round(fare * 0.15, 2), 0.0),
        np.round(fare * 0.72, 2),
        flag(0.02),
        flag(0.01),
        np.full(rows, "N"),
        flag(0.001),
        flag(0.05),
        np.where(rng.random(rows) < 0.3, 1.5, 0.0),
    ]
    return pa.table([pa.array(c, type=f.type) for c, f in zip(columns, FHVHV_SCHEMA, strict=True)], schema=FHVHV_SCHEMA)


def write_fhvhv_month(
    path: Path, rows: int, month: date, seed: int = 20250101, group_rows: int = ROW_GROUP_ROWS
) -> int:
    """Write a generated month to `path` one row group at a time; returns the rows written."""
    written = 0
    with pq.ParquetWriter(path, FHVHV_SCHEMA, compression="zstd") as writer:
        for number, first in enumerate(range(0, rows, group_rows)):
            group = generate_fhvhv_rows(min(group_rows, rows - first), month, seed + number)
            writer.write_table(group, row_group_size=group.num_rows)
            written += group.num_rows
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("month", help="YYYY-MM")
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--group-rows", type=int, default=ROW_GROUP_ROWS, help="rows per row group")
    args = parser.parse_args()
    write_fhvhv_month(args.path, args.rows, date.fromisoformat(f"{args.month}-01"), args.seed, args.group_rows)


if __name__ == "__main__":
    main()
