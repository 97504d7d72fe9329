"""CPU per row of each phase a month goes through, in this one process, outside Dagster: reading
and typing the source file, the whole conversion to a lake file (parse, clean, parquet encode),
the sha256 of the lake file, the audit's measures of it, and DuckDB's load of it (as
`DuckDBWarehouse` connects). Where `c_row` goes, phase by phase.

    python -m benchmarks.phases FILE COLOR YYYY-MM     (a course CSV.gz or a TLC parquet month)
"""

import argparse
import hashlib
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from benchmarks.measure import machine_line, markdown_table
from taxi_pipeline.lib import convert, parse, quality
from taxi_pipeline.lib.layouts import match_columns


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _source_rows(path: Path, color: str, month: date) -> int:
    """Rows of the source file as the conversion reads them (typed, malformed rows left out)."""
    if path.suffix == ".parquet":
        renames, _ = match_columns(path, pq.ParquetFile(path).schema_arrow.names, color, month, "TLC service")
        batches = pq.ParquetFile(path).iter_batches(batch_size=convert.PARQUET_BATCH_ROWS, columns=list(renames))
        return sum(batch.num_rows for batch in batches)
    trips = parse.open_trip_csv(path, color, month)
    return sum(table.num_rows for table in parse.iter_trip_batches(trips, "utf8", parse.MalformedRows()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("color")
    parser.add_argument("month", help="YYYY-MM")
    args = parser.parse_args()
    month = date.fromisoformat(f"{args.month}-01")
    to_lake = convert.convert_parquet_to_lake if args.file.suffix == ".parquet" else convert.convert_to_lake_parquet
    timings: list[tuple[str, float, float]] = []

    def timed(name, work):
        cpu, wall = _cpu_seconds(), time.perf_counter()
        result = work()
        timings.append((name, time.perf_counter() - wall, _cpu_seconds() - cpu))
        return result

    with tempfile.TemporaryDirectory(prefix="bench-phases-") as temp:
        lake, database = Path(temp) / "lake.parquet", Path(temp) / "warehouse.duckdb"
        rows = timed("read and type the source file", lambda: _source_rows(args.file, args.color, month))
        timed("the whole conversion (read, clean, encode)", lambda: to_lake(args.file, args.color, month, lake))
        timed("sha256 of the lake file", lambda: hashlib.file_digest(open(lake, "rb"), "sha256"))

        def audit():
            staged = pq.ParquetFile(lake, buffer_size=8 << 20, pre_buffer=False)
            batches = staged.iter_batches(batch_size=256 * 1024, columns=quality.audit_columns(staged.metadata))
            return quality.measure_month(batches, args.color, month)

        timed("the audit's measures", audit)

        def load():
            config = {"memory_limit": "256MB", "preserve_insertion_order": False}  # as DuckDBWarehouse
            with duckdb.connect(str(database), config=config) as connection:
                connection.execute("CREATE TABLE trips AS SELECT * FROM read_parquet(?)", [str(lake)])

        timed("DuckDB load of the lake file", load)
    print(f"{args.file.name}: {rows:,} rows; {machine_line(1)}")
    table = [[name, f"{wall:.2f}", f"{cpu:.2f}", f"{cpu / rows * 1e6:.2f}"] for name, wall, cpu in timings]
    print(markdown_table(["phase", "wall s", "CPU s", "CPU-µs per row"], table))


if __name__ == "__main__":
    main()
