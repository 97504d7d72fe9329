"""The course's parameterized Prefect flow, as a benchmark reference (prefect 2.7.7 in .venv-prefect).

A port of flows/03_deployments/parameterized_flow.py of discdiver/prefect-zoomcamp: the same tasks,
retries, cache and subflow per month, with the homework's color-aware `clean` and the cloud swapped
for local stand-ins: the GCS upload becomes a copy into a "bucket" folder, and the BigQuery load of
flows/02_gcp/etl_gcs_to_bq.py (`to_gbq(chunksize=500_000, if_exists="append")`) a DuckDB append.
It imports nothing from taxi_pipeline (that venv has only prefect and its pins):

    PREFECT_HOME=$(mktemp -d) .venv-prefect/bin/python -m benchmarks.prefect_flow \\
        --base-url http://127.0.0.1:8000 --color green --year 2020 --months 3 5 6 \\
        --work DIR --duckdb DIR/rides.duckdb

Run it with a fresh PREFECT_HOME (so fetch's one-day cache cannot hit) and no PREFECT_API_URL
(Prefect then starts its ephemeral API in-process, offline). Relative paths are the course's,
under --work. Prints the rows of each month and of the DuckDB table.
"""

import argparse
import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
from prefect import flow, task
from prefect.tasks import task_input_hash

COURSE_URL = "https://github.com/DataTalksClub/nyc-tlc-data/releases/download"
BUCKET = Path("bucket")  # stands in for the course's GCS bucket "zoom-gcs"
TABLE = "dezoomcamp.rides"


@task(retries=3, cache_key_fn=task_input_hash, cache_expiration=timedelta(days=1))
def fetch(dataset_url: str) -> pd.DataFrame:
    """Read taxi data from web into pandas DataFrame"""
    df = pd.read_csv(dataset_url)
    return df


# The homework's clean (flows/04_homework/parameterized_flow_hw.py): the benchmark loads green
# months, whose timestamps are lpep_*; the deployment flow's own clean knows only yellow's tpep_*.
@task(log_prints=True)
def clean(df: pd.DataFrame, color: str) -> pd.DataFrame:
    """Fix dtype issues"""
    if color == "yellow":
        df["tpep_pickup_datetime"] = pd.to_datetime(df["tpep_pickup_datetime"])
        df["tpep_dropoff_datetime"] = pd.to_datetime(df["tpep_dropoff_datetime"])
    else:
        df["lpep_pickup_datetime"] = pd.to_datetime(df["lpep_pickup_datetime"])
        df["lpep_dropoff_datetime"] = pd.to_datetime(df["lpep_dropoff_datetime"])
    print(df.head(2))
    print(f"columns: {df.dtypes}")
    print(f"rows: {len(df)}")
    return df


@task()
def write_local(df: pd.DataFrame, color: str, dataset_file: str) -> Path:
    """Write DataFrame out locally as parquet file"""
    path = Path(f"data/{color}/{dataset_file}.parquet")
    df.to_parquet(path, compression="gzip")
    return path


@task()
def write_gcs(path: Path) -> None:
    """Upload local parquet file to GCS"""
    # The GCS upload (GcsBucket.upload_from_path(from_path=path, to_path=path)) replaced by a
    # local copy to the same path inside the bucket folder.
    target = BUCKET / path
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return


@task()
def write_bq(df: pd.DataFrame, warehouse: str) -> None:
    """Write DataFrame to BiqQuery"""
    # df.to_gbq(destination_table="dezoomcamp.rides", chunksize=500_000, if_exists="append")
    # replaced by a DuckDB append of the same chunks: the table is made from the first chunk's
    # columns when missing, each chunk is then inserted.
    chunksize = 500_000
    con = duckdb.connect(warehouse)
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS dezoomcamp")
        for start in range(0, len(df), chunksize):
            chunk = df.iloc[start : start + chunksize]
            con.register("chunk", chunk)
            con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} AS SELECT * FROM chunk LIMIT 0")
            con.execute(f"INSERT INTO {TABLE} SELECT * FROM chunk")
            con.unregister("chunk")
    finally:
        con.close()


@flow()
def etl_web_to_gcs(year: int, month: int, color: str, base_url: str, warehouse: str) -> None:
    """The main ETL function"""
    dataset_file = f"{color}_tripdata_{year}-{month:02}"
    dataset_url = f"{base_url}/{color}/{dataset_file}.csv.gz"

    df = fetch(dataset_url)
    df_clean = clean(df, color)
    path = write_local(df_clean, color, dataset_file)
    write_gcs(path)
    write_bq(df_clean, warehouse)  # the course's etl_gcs_to_bq load, here on the cleaned frame


@flow()
def etl_parent_flow(
    months: list[int] = [1, 2],  # noqa: B006 - the course's default, kept as written
    year: int = 2021,
    color: str = "yellow",
    base_url: str = COURSE_URL,
    warehouse: str = "rides.duckdb",
):
    """Run etl_web_to_gcs for each month (the course's parent flow)."""
    for month in months:
        etl_web_to_gcs(year, month, color, base_url, warehouse)


def main() -> None:
    """Run the parent flow from the command line under --work, then print the rows it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=COURSE_URL, help="folder of <color>/<color>_tripdata_YYYY-MM.csv.gz")
    parser.add_argument("--color", default="yellow")
    parser.add_argument("--year", type=int, default=2021)
    parser.add_argument("--months", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--work", type=Path, required=True, help="folder for data/, bucket/ (created)")
    parser.add_argument("--duckdb", type=Path, required=True, help="DuckDB file standing in for BigQuery")
    args = parser.parse_args()
    if "PREFECT_HOME" not in os.environ or "PREFECT_API_URL" in os.environ:
        sys.exit("run with a fresh PREFECT_HOME and no PREFECT_API_URL (the ephemeral API, no cache hits)")
    warehouse = str(args.duckdb.resolve())
    args.work.mkdir(parents=True, exist_ok=True)
    os.chdir(args.work)  # the course writes data/<color>/ relative to where it runs
    Path(f"data/{args.color}").mkdir(parents=True, exist_ok=True)

    etl_parent_flow(args.months, args.year, args.color, args.base_url.rstrip("/"), warehouse)

    for month in args.months:
        path = BUCKET / f"data/{args.color}/{args.color}_tripdata_{args.year}-{month:02}.parquet"
        print(f"{args.color} {args.year}-{month:02}: {pq.ParquetFile(path).metadata.num_rows} rows")
    with duckdb.connect(warehouse, read_only=True) as con:
        print(f"{TABLE}: {con.execute(f'SELECT count(*) FROM {TABLE}').fetchone()[0]} rows")


if __name__ == "__main__":
    main()
