"""The project's transform path called as a library: CSV.gz -> cleaned -> lake parquet.

python -m benchmarks.project_path yellow 2021-01 in.csv.gz out.parquet
"""

import sys
from datetime import date

from taxi_pipeline.lib.convert import convert_to_lake_parquet


def main(color: str, month: str, source: str, destination: str) -> None:
    converted = convert_to_lake_parquet(source, color, date.fromisoformat(f"{month}-01"), destination)
    print(f"rows: {converted.rows}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
