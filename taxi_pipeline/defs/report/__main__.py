"""`python -m taxi_pipeline.defs.report [--chart PATH]`: the warehouse's rows per (color, month),
and with `--chart` the picture `trips_per_month` draws, as a PNG file."""

import argparse
import sys
from pathlib import Path

import dagster as dg

from taxi_pipeline.definitions import warehouse_resource
from taxi_pipeline.errors import SettingError
from taxi_pipeline.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m taxi_pipeline.defs.report",
        description="Print the warehouse's rows per (color, month) for the target the environment selects.",
    )
    parser.add_argument("--chart", type=Path, metavar="PATH", help="also write the rows per month as a PNG chart")
    args = parser.parse_args(argv)
    try:
        with dg.build_resources({"warehouse": warehouse_resource(Settings.from_environment())}) as resources:
            counts = resources.warehouse.slice_counts()
            sources = {key: origin.source for key, origin in resources.warehouse.slice_origins().items()}
    except SettingError as e:
        sys.exit(f"taxi_pipeline: {e}")
    print(f"{'color':<8} {'month':<8} {'rows':>12}")
    for color, month, rows in counts:
        print(f"{color:<8} {month:%Y-%m}  {rows:>12,}")
    print(f"{'total':<17} {sum(r for *_, r in counts):>12,}")
    if args.chart is not None:
        from taxi_pipeline.defs.report.chart import trips_per_month_png  # matplotlib only for a chart

        try:
            args.chart.write_bytes(trips_per_month_png(counts, sources))
        except OSError as e:
            sys.exit(f"taxi_pipeline: cannot write the chart to {args.chart}: {e.strerror or e}")
        print(f"chart written to {args.chart}")


if __name__ == "__main__":
    main()
