"""The bundled real files of the TLC's own releases (`taxi_pipeline_tests/data/tlc`), and the
2020-04 CSV samples written back as parquet with the physical types of a TLC era.

The rows of each file are the facts the tests hold the parquet conversion to (see
`data/tlc/README.md`).
"""

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline.transforms.tlc_layouts import TLC_LAYOUTS

TLC_DIR = Path(__file__).resolve().parents[1] / "data" / "tlc"
SAMPLES_DIR = TLC_DIR / "samples-2020-04"

# (service, month, file) -> rows, of the bundled TLC parquet files.
TLC_FILES: dict[tuple[str, date], tuple[str, int]] = {
    ("green", date(2022, 1, 1)): ("green_tripdata_2022-01.parquet", 62_495),  # older types
    ("green", date(2023, 2, 1)): ("green_tripdata_2023-02.parquet", 64_809),  # the type switch
    ("green", date(2025, 11, 1)): ("green_tripdata_2025-11.parquet", 46_912),  # adds cbd_congestion_fee
    ("yellow", date(2025, 1, 1)): ("yellow_tripdata_2025-01.first5.parquet", 5),  # Airport_fee
}
SAMPLE_ROWS_2020_04 = 1_000  # each service's sample

# Canonical int32 columns that the TLC stores as ids (int64, then int32 from 2023-02) rather
# than as codes (double while pandas wrote them with gaps, int64 from 2023-02).
_IDS = {"vendor_id", "pickup_location_id", "dropoff_location_id"}
# Physical types of the TLC's files per era, by the canonical column's kind.
ERAS = {
    # pandas-written: codes double, ids int64, all-null columns of Arrow's null type, strings
    # `string`, timestamps in nanoseconds.
    "2020": {"id": pa.int64(), "code": pa.float64(), "string": pa.string(), "time": pa.timestamp("ns")},
    # from 2023-02: ids int32, codes int64, all-null columns double, strings `large_string`.
    "2023": {"id": pa.int32(), "code": pa.int64(), "string": pa.large_string(), "time": pa.timestamp("us")},
}


def tlc_file(service: str, month: date) -> Path:
    return TLC_DIR / TLC_FILES[(service, month)][0]


def sample_csv(service: str) -> Path:
    return SAMPLES_DIR / f"{service}_tripdatasample_2020-04.csv"


def _era_type(canonical: str, era: str) -> pa.DataType:
    types = ERAS[era]
    target = CANONICAL_SCHEMA.field(canonical).type
    if target == pa.int32():
        return types["id"] if canonical in _IDS else types["code"]
    if pa.types.is_string(target):
        return types["string"]
    if pa.types.is_timestamp(target):
        return types["time"]
    return target  # doubles stay double, fhvhv's trip_time int64


def sample_as_parquet(service: str, era: str, destination: Path) -> Path:
    """The service's 2020-04 CSV sample as a parquet file at `destination`, every column in the
    physical type the TLC used in `era` ("2020" or "2023"); a column with no value at all is
    Arrow's `null` type in the 2020 era, as pandas wrote it."""
    header = pacsv.read_csv(sample_csv(service), read_options=pacsv.ReadOptions(skip_rows_after_names=10**9))
    columns = TLC_LAYOUTS[service].columns
    types = {name: _era_type(columns[name.lower()], era) for name in header.column_names}
    table = pacsv.read_csv(
        sample_csv(service),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )
    if era == "2020":
        all_null = [name for name in table.column_names if table[name].null_count == table.num_rows]
        for name in all_null:
            table = table.set_column(table.column_names.index(name), name, pa.nulls(table.num_rows))
    pq.write_table(table, destination)
    return destination
