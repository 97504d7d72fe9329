"""The course's pandas flow for one month, as its etl_web_to_gcs writes it (the reference).

python -m benchmarks.reference_flow yellow in.csv.gz out.parquet
"""

import sys

import pandas as pd

DATETIME_COLUMNS = {
    "yellow": ("tpep_pickup_datetime", "tpep_dropoff_datetime"),
    "green": ("lpep_pickup_datetime", "lpep_dropoff_datetime"),
    "fhv": ("pickup_datetime", "dropOff_datetime"),
}


def main(color: str, source: str, destination: str) -> None:
    df = pd.read_csv(source)  # the course reads the URL straight into pandas
    for column in DATETIME_COLUMNS[color]:
        df[column] = pd.to_datetime(df[column])
    print(f"rows: {len(df)}")
    df.to_parquet(destination, compression="gzip")


if __name__ == "__main__":
    main(*sys.argv[1:4])
