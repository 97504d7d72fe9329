"""Which `trips` layout in Postgres: range partitions by month, or one table indexed on
(color, source_month)? Times both with the same DELETE + COPY load of a generated yellow month.

For each layout, interleaved round by round, in a fresh database of a throwaway cluster
(started like the tests', default server settings): the first load of the month (COPY into an
empty table), then a reload of the same slice (DELETE of the old rows + COPY), then the reload
of the slice while another color of the month (green, same rows relabelled) sits beside it.

    python -m benchmarks.postgres_design --rows 1369765 --repeats 3
"""

import argparse
import statistics
import sys
import time
from datetime import date
from functools import partial
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from benchmarks.postgres_load import lake_file
from taxi_pipeline.defs.warehouse.contract import LOADS_COLUMNS, LOADS_TABLE, TRIPS_TABLE, create_table_sql
from taxi_pipeline.defs.warehouse.postgres import PostgresWarehouse, trips_table_ddl
from taxi_pipeline.schema import sql_columns
from taxi_pipeline_tests.support.postgres_server import start_cluster

MONTH = date(2021, 1, 1)


class IndexedWarehouse(PostgresWarehouse):
    """The alternative: one plain table with a b-tree index on (color, source_month)."""

    def _create_table(self, conn, source_month=None, conform=True) -> list[tuple[str, str]]:
        with conn.transaction():
            conn.execute(trips_table_ddl().replace(" PARTITION BY RANGE (source_month)", ""))
            conn.execute(f"CREATE INDEX IF NOT EXISTS trips_slice ON {TRIPS_TABLE} (color, source_month)")
            conn.execute(create_table_sql(LOADS_TABLE, LOADS_COLUMNS, key="color, source_month"))
        return sql_columns("postgres") if conform else []


LAYOUTS = {"partitioned": PostgresWarehouse, "indexed": IndexedWarehouse}


def relabelled(source: Path, color: str, destination: Path) -> Path:
    table = pq.read_table(source)
    table = table.set_column(
        table.schema.get_field_index("color"), "color", pa.array([color] * table.num_rows, pa.string())
    )
    pq.write_table(table, destination)
    return destination


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_369_765)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    yellow = lake_file(args.rows)
    green = relabelled(yellow, "green", yellow.with_name(f"green_{yellow.name}"))
    cluster = start_cluster()
    results: dict[str, dict[str, list[float]]] = {name: {} for name in LAYOUTS}
    try:
        for round_number in range(args.repeats):
            for name, layout in LAYOUTS.items():
                database = f"design_{name}_{round_number}"
                with psycopg.connect(cluster.url(), autocommit=True) as admin:
                    admin.execute(f"CREATE DATABASE {database}")
                warehouse = layout(url=cluster.url(database))
                steps = {
                    "first load": partial(warehouse.load_slice, UPath(yellow), "yellow", MONTH),
                    "reload (delete + copy)": partial(warehouse.load_slice, UPath(yellow), "yellow", MONTH),
                    "other color beside": partial(warehouse.load_slice, UPath(green), "green", MONTH),
                    "reload beside other color": partial(warehouse.load_slice, UPath(yellow), "yellow", MONTH),
                }
                for step, call in steps.items():
                    seconds = timed(call)
                    results[name].setdefault(step, []).append(seconds)
                    print(f"round {round_number + 1} {name} {step}: {seconds:.2f} s", file=sys.stderr)
                with psycopg.connect(cluster.url(), autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE {database}")
    finally:
        cluster.stop()
    steps = list(results["partitioned"])
    print(f"{args.rows:,} rows, median of {args.repeats} interleaved rounds, seconds\n")
    print("| layout | " + " | ".join(steps) + " |")
    print("|---|" + "---:|" * len(steps))
    for name in LAYOUTS:
        print(f"| {name} | " + " | ".join(f"{statistics.median(results[name][s]):.2f}" for s in steps) + " |")


if __name__ == "__main__":
    main()
