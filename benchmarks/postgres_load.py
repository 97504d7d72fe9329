"""Times the course's Postgres load against `PostgresWarehouse.load_slice` on a generated month.

Both load the same lake parquet (a generated yellow month through the project's transforms) into
a fresh database of a throwaway cluster (`taxi_pipeline_tests/support/postgres_server.py`, the tests'
helper: initdb + pg_ctl on a free 127.0.0.1 port, default server settings), interleaved round by
round, each in a fresh process under `benchmarks.measure`:
  to_sql     the course's "Ingest Data" method: `pd.read_parquet`, then
             `df.to_sql("trips", engine, if_exists="append", chunksize=100_000)` through SQLAlchemy
             (psycopg 3 driver)
  load_slice the project: `PostgresWarehouse(url=...).load_slice(...)`, DELETE + COPY FROM STDIN
             of the parquet's record batches as CSV, count check, COMMIT
Median wall and CPU seconds and peak RSS of the client process (the server's own CPU is not
counted, for either), and the ratios; a markdown table to stdout and benchmarks/out/postgres.md.

    python -m benchmarks.postgres_load --rows 1369765 --repeats 3

Any other lake file (a TLC month's, say) with the project's load alone:

    python -m benchmarks.postgres_load --lake FILE --color fhvhv --month 2025-01 --variants load_slice
"""

import argparse
import subprocess
import sys
from datetime import date
from pathlib import Path

from benchmarks.measure import PROJECT, machine_line, measured, medians
from taxi_pipeline_tests.support.postgres_server import start_cluster

OUT = Path(__file__).resolve().parent / "out"
MONTH = "2021-01"
VARIANTS = ("to_sql", "load_slice")
CHUNK_ROWS = 100_000  # the course's chunk size


def lake_file(rows: int) -> Path:
    """The generated yellow month of `rows` rows as a lake parquet (made once, cached in out/)."""
    path = OUT / f"lake_yellow_{MONTH}_{rows}.parquet"
    if not path.exists():
        # Imported here, not at the top: benchmarks.run imports Dagster, which the measured
        # workers (this module, run with --worker) must not pay for.
        from benchmarks.run import generated_file

        source = generated_file(rows)
        subprocess.run(
            [sys.executable, "-m", "benchmarks.project_path", "yellow", MONTH, str(source), str(path)],
            cwd=PROJECT,
            check=True,
        )
    return path


def load_to_sql(lake: str, url: str) -> None:
    """The course's method: the whole month into pandas, then INSERTs in 100,000-row chunks."""
    import pandas as pd
    from sqlalchemy import create_engine

    df = pd.read_parquet(lake)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    df.to_sql("trips", engine, if_exists="append", index=False, chunksize=CHUNK_ROWS)
    print(f"rows: {len(df)}")


def load_slice(lake: str, url: str, color: str = "yellow", month: str = MONTH) -> None:
    """The project's load of one slice."""
    from upath import UPath

    from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse

    load = PostgresWarehouse(url=url).load_slice(UPath(lake), color, date.fromisoformat(f"{month}-01"))
    print(f"rows: {load.rows_loaded}")


def measure(variant: str, lake: Path, url: str, color: str, month: str) -> dict:
    worker = ["--worker", variant, str(lake), url, "--color", color, "--month", month]
    return measured([sys.executable, "-m", "benchmarks.postgres_load", *worker])


def bench(
    lake: Path, rows: int, repeats: int, variants=VARIANTS, color: str = "yellow", month: str = MONTH
) -> dict[str, list[dict]]:
    import psycopg

    cluster = start_cluster()
    results: dict[str, list[dict]] = {v: [] for v in variants}
    try:
        for round_number in range(repeats):
            for variant in variants:
                database = f"bench_{variant}_{round_number}"
                with psycopg.connect(cluster.url(), autocommit=True) as admin:
                    admin.execute(f"CREATE DATABASE {database}")
                result = measure(variant, lake, cluster.url(database), color, month)
                with psycopg.connect(cluster.url(database)) as conn:
                    result["rows_in_table"] = conn.execute("SELECT count(*) FROM trips").fetchone()[0]
                if result["rows_in_table"] != rows:
                    raise RuntimeError(f"{variant} left {result['rows_in_table']} rows, not {rows}")
                with psycopg.connect(cluster.url(), autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE {database}")
                results[variant].append(result)
                print(f"{rows:,} round {round_number + 1} {variant}: {result['wall_seconds']:.1f} s", file=sys.stderr)
    finally:
        cluster.stop()
    return results


def table(rows: int, results: dict[str, list[dict]], repeats: int) -> str:
    med = medians(results)
    ref = med.get("to_sql", next(iter(med.values())))
    lines = [
        machine_line(repeats),
        "",
        "| rows | load | wall s | client CPU s | client peak RSS MiB | rows/s | speed-up vs to_sql | RSS / to_sql |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for v in results:
        m = med[v]
        lines.append(
            f"| {rows:,} | {v} | {m['wall_seconds']:.1f} | {m['cpu_seconds']:.1f} | {m['peak_rss_mib']:.0f} | "
            f"{rows / m['wall_seconds']:,.0f} | {ref['wall_seconds'] / m['wall_seconds']:.1f} x | "
            f"{m['peak_rss_mib'] / ref['peak_rss_mib']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the Postgres load against the course's pandas to_sql")
    parser.add_argument("--rows", type=int, default=1_369_765)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lake", type=Path, help="load this lake file instead of a generated yellow month")
    parser.add_argument("--color", default="yellow", help="the lake file's color (with --lake)")
    parser.add_argument("--month", default=MONTH, help="the lake file's month, YYYY-MM (with --lake)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--worker", nargs=3, metavar=("VARIANT", "LAKE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        variant, lake, url = args.worker
        if variant == "to_sql":
            load_to_sql(lake, url)
        else:
            load_slice(lake, url, args.color, args.month)
        return
    OUT.mkdir(exist_ok=True)
    if args.lake:
        import pyarrow.parquet as pq

        lake, rows = args.lake, pq.ParquetFile(args.lake).metadata.num_rows
    else:
        lake, rows = lake_file(args.rows), args.rows
    results = bench(lake, rows, args.repeats, args.variants, args.color, args.month)
    markdown = table(rows, results, args.repeats)
    (OUT / "postgres.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
