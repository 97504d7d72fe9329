"""The project's transform path called as a library: CSV.gz -> cleaned -> lake parquet.

    python benchmarks/project_path.py yellow 2021-01 in.csv.gz out.parquet
"""

import sys
from datetime import date

from taxi_pipeline.transforms.clean import clean_trips
from taxi_pipeline.transforms.lake_file import write_lake_parquet
from taxi_pipeline.transforms.parse import read_trips_csv


def main(color: str, month: str, source: str, destination: str) -> None:
    table, report = clean_trips(read_trips_csv(source, color).table, color, date.fromisoformat(f"{month}-01"))
    write_lake_parquet(table, destination)
    print(f"rows: {report.rows}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
