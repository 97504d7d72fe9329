"""Seeded generator of realistic monthly trip files, in the published layouts.

Shaped on the real samples: the colors' own column orders and header variants, empty integer
fields on about 8% of rows (as in 2020-2021 files), mixed store_and_fwd_flag, a few pickups
outside the month, and plausible distributions of distances, fares and zones.

    python -m benchmarks.generate_trips yellow 1369765 2021-01 out.csv.gz
"""

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from taxi_pipeline.partitions import next_month

EMPTY_INTEGER_SHARE = 0.08
OUTSIDE_MONTH_SHARE = 0.0005
HEADERS = {
    "yellow": [
        "VendorID",
        "tpep_pickup_datetime",
        "tpep_dropoff_datetime",
        "passenger_count",
        "trip_distance",
        "RatecodeID",
        "store_and_fwd_flag",
        "PULocationID",
        "DOLocationID",
        "payment_type",
        "fare_amount",
        "extra",
        "mta_tax",
        "tip_amount",
        "tolls_amount",
        "improvement_surcharge",
        "total_amount",
        "congestion_surcharge",
    ],
    "green": [
        "VendorID",
        "lpep_pickup_datetime",
        "lpep_dropoff_datetime",
        "store_and_fwd_flag",
        "RatecodeID",
        "PULocationID",
        "DOLocationID",
        "passenger_count",
        "trip_distance",
        "fare_amount",
        "extra",
        "mta_tax",
        "tip_amount",
        "tolls_amount",
        "ehail_fee",
        "improvement_surcharge",
        "total_amount",
        "payment_type",
        "trip_type",
        "congestion_surcharge",
    ],
    # the course's fhv 2019 header; 2020 files spell dropoff_datetime / PULocationID
    "fhv": [
        "dispatching_base_num",
        "pickup_datetime",
        "dropOff_datetime",
        "PUlocationID",
        "DOlocationID",
        "SR_Flag",
        "Affiliated_base_number",
    ],
}


def _with_nulls(values: np.ndarray, empty: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.array(values, type=kind, mask=empty)


def generate_month(color: str, rows: int, month: date, seed: int = 20190101) -> pa.Table:
    """`rows` trips of `color` for `month`, in the color's published column order."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(datetime.combine(month, datetime.min.time()), "s")
    seconds = int((np.datetime64(next_month(month)) - np.datetime64(month)).astype("timedelta64[s]").astype(int))
    offsets = rng.integers(0, seconds, rows)
    outside = rng.random(rows) < OUTSIDE_MONTH_SHARE
    offsets[outside] -= rng.integers(seconds, 40 * seconds, outside.sum())  # a few, years off
    pickup = start + offsets.astype("timedelta64[s]")
    dropoff = pickup + rng.exponential(900, rows).astype("timedelta64[s]")
    empty = rng.random(rows) < EMPTY_INTEGER_SHARE
    zones = lambda: rng.integers(1, 266, rows)  # noqa: E731
    distance = np.round(rng.gamma(1.6, 1.9, rows), 2)
    fare = np.round(2.5 + distance * 2.5 + rng.gamma(2.0, 1.5, rows), 2)
    tip = np.round(np.where(rng.random(rows) < 0.6, fare * rng.uniform(0.1, 0.25, rows), 0.0), 2)
    columns = {
        "vendor": _with_nulls(rng.choice([1, 2], rows, p=[0.3, 0.7]), empty, pa.int64()),
        "pickup": pa.array(pickup, pa.timestamp("s")),
        "dropoff": pa.array(dropoff, pa.timestamp("s")),
        "passengers": _with_nulls(rng.choice(7, rows, p=[0.02, 0.7, 0.15, 0.05, 0.03, 0.03, 0.02]), empty, pa.int64()),
        "distance": pa.array(distance),
        "ratecode": _with_nulls(
            rng.choice([1, 2, 3, 4, 5, 99], rows, p=[0.95, 0.025, 0.005, 0.005, 0.014, 0.001]), empty, pa.int64()
        ),
        "flag": pa.array(np.where(rng.random(rows) < 0.99, "N", "Y"), mask=empty),
        "pu": pa.array(zones(), pa.int64()),
        "do": pa.array(zones(), pa.int64()),
        "payment": _with_nulls(rng.choice([1, 2, 3, 4], rows, p=[0.7, 0.27, 0.02, 0.01]), empty, pa.int64()),
        "fare": pa.array(fare),
        "extra": pa.array(rng.choice([0.0, 0.5, 1.0, 2.5, 3.0], rows)),
        "mta": pa.array(np.full(rows, 0.5)),
        "tip": pa.array(tip),
        "tolls": pa.array(np.where(rng.random(rows) < 0.05, 6.12, 0.0)),
        "improvement": pa.array(np.full(rows, 0.3)),
        "total": pa.array(np.round(fare + tip + 0.8, 2)),
        "congestion": pa.array(np.where(rng.random(rows) < 0.8, 2.5, 0.0)),
    }
    if color == "yellow":
        order = [
            "vendor",
            "pickup",
            "dropoff",
            "passengers",
            "distance",
            "ratecode",
            "flag",
            "pu",
            "do",
            "payment",
            "fare",
            "extra",
            "mta",
            "tip",
            "tolls",
            "improvement",
            "total",
            "congestion",
        ]
        return pa.table([columns[c] for c in order], names=HEADERS["yellow"])
    if color == "green":
        columns["ehail"] = pa.nulls(rows, pa.float64())
        columns["trip_type"] = _with_nulls(rng.choice([1, 2], rows, p=[0.97, 0.03]), empty, pa.int64())
        order = [
            "vendor",
            "pickup",
            "dropoff",
            "flag",
            "ratecode",
            "pu",
            "do",
            "passengers",
            "distance",
            "fare",
            "extra",
            "mta",
            "tip",
            "tolls",
            "ehail",
            "improvement",
            "total",
            "payment",
            "trip_type",
            "congestion",
        ]
        return pa.table([columns[c] for c in order], names=HEADERS["green"])
    bases = np.array([f"B{n:05d}" for n in rng.integers(1, 3000, 500)])
    return pa.table(
        [
            pa.array(rng.choice(bases, rows)),
            columns["pickup"],
            columns["dropoff"],
            pa.array(zones(), mask=empty),
            pa.array(zones(), mask=empty),
            pa.array(np.ones(rows, dtype=np.int64), mask=rng.random(rows) < 0.9),
            pa.array(rng.choice(bases, rows)),
        ],
        names=HEADERS["fhv"],
    )


def write_month(table: pa.Table, path: Path) -> None:
    """Write as the release does: CSV with a header line, gzipped."""
    with pa.CompressedOutputStream(str(path), "gzip") as out:
        out.write((",".join(table.column_names) + "\n").encode())  # unquoted, like the release
        pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def generated_mirror(mirror: Path, color: str, rows_by_month: dict[date, int]) -> Path:
    """`mirror`, a folder of `{color}/{color}_tripdata_YYYY-MM.csv.gz` as the course lays them out,
    each month generated at its rows the first time and kept for the next run."""
    (mirror / color).mkdir(parents=True, exist_ok=True)
    for month, rows in rows_by_month.items():
        path = mirror / color / f"{color}_tripdata_{month:%Y-%m}.csv.gz"
        if not path.exists():
            print(f"generating {rows:,} {color} rows -> {path}", file=sys.stderr)
            partial_path = path.with_name(path.name + ".part")
            write_month(generate_month(color, rows, month), partial_path)
            partial_path.rename(path)  # whole files only, should a run be interrupted
    return mirror


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("color", choices=sorted(HEADERS))
    parser.add_argument("rows", type=int)
    parser.add_argument("month", help="YYYY-MM")
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=20190101)
    args = parser.parse_args()
    write_month(generate_month(args.color, args.rows, date.fromisoformat(f"{args.month}-01"), args.seed), args.path)


if __name__ == "__main__":
    main()
