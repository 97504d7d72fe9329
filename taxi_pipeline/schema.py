"""The canonical trip schema: one set of snake_case columns and Arrow types for every color (null
where a color does not publish the column). Timestamps are New York wall-clock times, without a zone."""

from dataclasses import dataclass

import pyarrow as pa

# Every service of every source (the course mirror has the first three, the TLC all four).
COLORS = ("yellow", "green", "fhv", "fhvhv")
# The canonical schema's version: 1 had the 25 columns up to `affiliated_base_number`; 2 added
# the TLC releases' columns after it. Columns are only ever appended, so a table or file of an
# older version holds a prefix of today's columns.
SCHEMA_VERSION = 2
COLUMNS_BY_VERSION = {1: 25, 2: 41}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str


CANONICAL_COLUMNS: tuple[Column, ...] = (
    Column("color", pa.string(), "Trip record type (the TLC service): yellow, green, fhv or fhvhv"),
    Column("source_month", pa.date32(), "First day of the month of the published file"),
    Column("vendor_id", pa.int32(), "TPEP/LPEP provider code"),
    Column("pickup_datetime", pa.timestamp("us"), "Pickup time, New York wall clock"),
    Column("dropoff_datetime", pa.timestamp("us"), "Drop-off time, New York wall clock"),
    Column(
        "passenger_count",
        pa.int32(),
        "Passengers (yellow, green; missing values filled with 0); null for fhv and fhvhv, which publish none",
    ),
    Column("trip_distance", pa.float64(), "Trip distance in miles"),
    Column("ratecode_id", pa.int32(), "Final rate code"),
    Column("store_and_fwd_flag", pa.string(), "Record held in vehicle memory before sending"),
    Column("pickup_location_id", pa.int32(), "TLC taxi zone of the pickup"),
    Column("dropoff_location_id", pa.int32(), "TLC taxi zone of the drop-off"),
    Column("payment_type", pa.int32(), "How the passenger paid"),
    Column("fare_amount", pa.float64(), "Time-and-distance fare in USD"),
    Column("extra", pa.float64(), "Miscellaneous extras and surcharges"),
    Column("mta_tax", pa.float64(), "MTA tax"),
    Column("tip_amount", pa.float64(), "Tip amount"),
    Column("tolls_amount", pa.float64(), "Tolls paid"),
    Column("ehail_fee", pa.float64(), "E-hail fee (green only; empty in practice)"),
    Column("improvement_surcharge", pa.float64(), "Improvement surcharge"),
    Column("total_amount", pa.float64(), "Total charged to passengers"),
    Column("congestion_surcharge", pa.float64(), "NYS congestion surcharge"),
    Column("trip_type", pa.int32(), "Street-hail or dispatch (green only)"),
    Column("dispatching_base_num", pa.string(), "TLC base license of the dispatching base (fhv)"),
    Column("sr_flag", pa.int32(), "Shared-ride flag (fhv)"),
    Column("affiliated_base_number", pa.string(), "Base the vehicle is affiliated with (fhv)"),
    # Version 2: what the TLC's parquet releases add (yellow and green from 2021/2025, fhvhv).
    Column("airport_fee", pa.float64(), "Airport pickup fee (yellow, fhvhv)"),
    Column("cbd_congestion_fee", pa.float64(), "Manhattan congestion relief zone toll, from 2025-01"),
    Column("hvfhs_license_num", pa.string(), "High-volume FHV company license (fhvhv): HV0003 Uber, HV0005 Lyft"),
    Column("originating_base_num", pa.string(), "Base that received the original trip request (fhvhv)"),
    Column("request_datetime", pa.timestamp("us"), "When the passenger requested the trip (fhvhv)"),
    Column("on_scene_datetime", pa.timestamp("us"), "When the driver arrived at the pickup (fhvhv)"),
    Column("trip_time", pa.int64(), "Trip duration in seconds (fhvhv)"),
    Column("base_passenger_fare", pa.float64(), "App fare before tolls, tips, taxes and fees (fhvhv)"),
    Column("bcf", pa.float64(), "Black Car Fund charge (fhvhv)"),
    Column("sales_tax", pa.float64(), "NYS sales tax (fhvhv)"),
    Column("driver_pay", pa.float64(), "Driver pay before tolls and tips (fhvhv)"),
    Column("shared_request_flag", pa.string(), "Passenger asked for a shared ride, Y/N (fhvhv)"),
    Column("shared_match_flag", pa.string(), "Passenger shared the vehicle, Y/N (fhvhv)"),
    Column("access_a_ride_flag", pa.string(), "Trip administered for the MTA's Access-A-Ride, Y/N (fhvhv)"),
    Column("wav_request_flag", pa.string(), "Passenger asked for a wheelchair-accessible vehicle, Y/N (fhvhv)"),
    Column("wav_match_flag", pa.string(), "Trip was in a wheelchair-accessible vehicle, Y/N (fhvhv)"),
)

CANONICAL_SCHEMA: pa.Schema = pa.schema([pa.field(c.name, c.type, nullable=True) for c in CANONICAL_COLUMNS])

# The SQL type of each canonical Arrow type, per warehouse dialect. Timestamps are wall-clock
# times without a zone: TIMESTAMP in DuckDB and Postgres, DATETIME (not TIMESTAMP) in BigQuery.
_ARROW_TYPES = (pa.string(), pa.date32(), pa.int32(), pa.int64(), pa.float64(), pa.timestamp("us"))
SQL_TYPES: dict[str, dict[pa.DataType, str]] = {
    dialect: dict(zip(_ARROW_TYPES, sql_types, strict=True))
    for dialect, sql_types in {
        "duckdb": ("VARCHAR", "DATE", "INTEGER", "BIGINT", "DOUBLE", "TIMESTAMP"),
        "postgres": ("text", "date", "integer", "bigint", "double precision", "timestamp"),
        "bigquery": ("STRING", "DATE", "INT64", "INT64", "FLOAT64", "DATETIME"),
    }.items()
}


# The taxi zone table (`taxi_zone_lookup.csv`), as the warehouses hold it.
ZONES_SCHEMA: pa.Schema = pa.schema(
    [("location_id", pa.int32()), ("borough", pa.string()), ("zone", pa.string()), ("service_zone", pa.string())]
)


def sql_columns(dialect: str, schema: pa.Schema = CANONICAL_SCHEMA) -> list[tuple[str, str]]:
    """(name, SQL type) of every column of `schema`, in order, in a warehouse's dialect."""
    types = SQL_TYPES[dialect]
    return [(f.name, types[f.type]) for f in schema]


def schema_version(schema: pa.Schema) -> int | None:
    """The canonical schema version whose columns (names and types, in order) `schema` has exactly, or None."""
    fields = [(f.name, f.type) for f in schema]
    for version, count in COLUMNS_BY_VERSION.items():
        if fields == [(f.name, f.type) for f in CANONICAL_SCHEMA][:count]:
            return version
    return None
