"""The bundled real files of the TLC's own releases (`taxi_pipeline_tests/data/tlc`), and the
2020-04 CSV samples written back as parquet with the physical types of a TLC era.

The rows of each file are the facts the tests hold the parquet conversion to (see
`data/tlc/README.md`).
"""

import functools
import os
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from taxi_pipeline.lib.layouts import LAYOUTS
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.http_server import QuietHandler

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
    columns = LAYOUTS[service].columns
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


# Partition key -> rows of every month in the mirror `tlc_mirror` builds: the real files, and the
# 2020-04 samples of all four services in the 2020 era's types.
TLC_MIRROR_ROWS = {
    **{f"{service}|{month:%Y-%m-%d}": rows for (service, month), (_, rows) in TLC_FILES.items()},
    **{f"{service}|2020-04-01": SAMPLE_ROWS_2020_04 for service in ("yellow", "green", "fhv", "fhvhv")},
}
TLC_ZONES = TLC_DIR / "misc" / "taxi_zone_lookup.csv"
TLC_ZONES_ROWS = 265


def tlc_mirror(folder: Path) -> Path:
    """A mirror folder laid out like the TLC's host: `trip-data/{service}_tripdata_{YYYY-MM}.parquet`
    for every key of `TLC_MIRROR_ROWS`, and `misc/taxi_zone_lookup.csv`. Returns the `trip-data`
    folder, the mirror's TAXI_SOURCE_URL."""
    trip_data = folder / "trip-data"
    trip_data.mkdir(parents=True)
    for (service, month), (name, _) in TLC_FILES.items():
        shutil.copy(TLC_DIR / name, trip_data / f"{service}_tripdata_{month:%Y-%m}.parquet")
    for service in ("yellow", "green", "fhv", "fhvhv"):
        sample_as_parquet(service, "2020", trip_data / f"{service}_tripdata_2020-04.parquet")
    (folder / "misc").mkdir()
    shutil.copy(TLC_ZONES, folder / "misc" / "taxi_zone_lookup.csv")
    return trip_data


S3_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>'
    b"<RequestId>X</RequestId><HostId>Y</HostId></Error>"
)


class TLCLikeHandler(QuietHandler):
    """Serves a mirror folder as the TLC's CloudFront does: an `ETag` on every file, and S3's
    403 AccessDenied (not 404) for a file it does not have."""

    def send_error(self, code, message=None, explain=None):
        if code != 404:
            return super().send_error(code, message, explain)
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(S3_ACCESS_DENIED)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(S3_ACCESS_DENIED)

    def end_headers(self):
        path = self.translate_path(self.path)
        if os.path.isfile(path):
            stat = os.stat(path)
            self.send_header("ETag", f'"{stat.st_size:x}-{int(stat.st_mtime):x}"')
        super().end_headers()


def serve_tlc_mirror(folder: Path):
    """A `TLCLikeHandler` class serving `folder` (pass it to `serving` or the `http_server` fixture)."""
    return functools.partial(TLCLikeHandler, directory=str(folder))
