"""The audit's measures of every bundled real month, the shares its blocking thresholds rest on,
and the audit's time on a generated month when given one:

    python -m benchmarks.audit_shares [--staged yellow_2019-02.parquet]

(`--staged`: a lake file of a generated month, e.g. `convert_to_lake_parquet` of
`python -m benchmarks.generate_trips yellow 7019375 2019-02 out.csv.gz`).
"""

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from taxi_pipeline.lib.convert import convert_parquet_to_lake, convert_to_lake_parquet
from taxi_pipeline.lib.quality import REQUIRED_COLUMNS, audit_columns, duplicate_rows, measure_month
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS, release_file
from taxi_pipeline_tests.support.tlc import TLC_FILES, sample_as_parquet, tlc_file

BATCH_ROWS = 256 * 1024


def real_months(folder: Path) -> list[tuple[str, date, Path]]:
    """(service, month, file) of every bundled real month: the course's CSVs, the TLC's parquet
    files, and the TLC's 2020-04 samples written in each era's types."""
    months = []
    for key in SAMPLE_ROWS:
        color, month = key.split("|")
        months.append((color, date.fromisoformat(month), release_file(color, month[:7])))
    months += [(service, month, tlc_file(service, month)) for service, month in TLC_FILES]
    for service in ("yellow", "green", "fhv", "fhvhv"):
        for era in ("2020", "2023"):
            months.append(
                (service, date(2020, 4, 1), sample_as_parquet(service, era, folder / f"{service}_{era}.parquet"))
            )
    return months


def describe(staged: Path, color: str, month: date) -> str:
    """One line of the audit's measures of a staged (lake) file, and the time they took."""
    started = time.perf_counter()
    parquet = pq.ParquetFile(staged)
    measured = measure_month(parquet.iter_batches(BATCH_ROWS, columns=audit_columns(parquet.metadata)), color, month)
    keys, seconds = measured.duplicate_keys, time.perf_counter() - started
    rows = measured.rows
    exact = duplicate_rows(pq.ParquetFile(staged).iter_batches(BATCH_ROWS))
    nulls = {name: f"{measured.nulls[name] / rows:.1%}" for name in REQUIRED_COLUMNS[color] if measured.nulls[name]}
    impossible = {name: f"{n:,} ({n / rows:.4%})" for name, n in measured.impossible.items() if n}
    return (
        f"{rows:,} rows; exact duplicates {exact:,} ({exact / rows:.2%}), sharing key columns {keys:,} "
        f"({keys / rows:.2%}); NaN/inf {sum(measured.non_finite.values()):,}; required nulls {nulls or 0}; "
        f"impossible {impossible or 0}; audit measures {seconds:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staged", type=Path, help="a lake file of a generated yellow 2019-02 to time the audit on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for color, month, source in real_months(folder):
            staged = folder / f"{color}_{month:%Y-%m}_{source.stem}.lake.parquet"
            convert = convert_parquet_to_lake if source.suffix == ".parquet" else convert_to_lake_parquet
            convert(source, color, month, staged)
            print(f"{color} {month:%Y-%m} {source.name}: {describe(staged, color, month)}")
    if args.staged:
        print(f"generated {args.staged.name}: {describe(args.staged, 'yellow', date(2019, 2, 1))}")


if __name__ == "__main__":
    main()
