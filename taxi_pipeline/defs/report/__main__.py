"""`python -m taxi_pipeline.defs.report [--chart trips.png]`: rows per (color, month) in the target's
warehouse, and with `--chart` the same picture the `trips_per_month` asset draws, as a PNG file."""

import argparse
import sys
from pathlib import Path

import dagster as dg

from taxi_pipeline.definitions import warehouse_resource
from taxi_pipeline.settings import SettingError, Settings


def format_slice_counts(counts: list[tuple]) -> str:
    """A plain-text table of (color, source_month, rows) with a total line."""
    lines = [f"{'color':<8} {'month':<8} {'rows':>12}"]
    lines += [f"{color:<8} {month:%Y-%m}  {rows:>12,}" for color, month, rows in counts]
    lines.append(f"{'total':<17} {sum(r for *_, r in counts):>12,}")
    return "\n".join(lines)


def write_chart(counts: list[tuple], path: Path, sources: dict[tuple, str | None] | None = None) -> None:
    """The chart of `counts` (rows per month, one line per color, each month marked by its source
    in `sources`) written to `path` as a PNG; an unwritable path raises OSError."""
    # Imported here: only a report asked for a chart pays for matplotlib.
    from taxi_pipeline.defs.report.chart import trips_per_month_png

    path.write_bytes(trips_per_month_png(counts, sources))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: `--chart PATH` to also write the chart as a PNG."""
    parser = argparse.ArgumentParser(
        prog="python -m taxi_pipeline.defs.report",
        description="Print the warehouse's rows per (color, month) for the target the environment selects.",
    )
    parser.add_argument("--chart", type=Path, metavar="PATH", help="also write the rows per month as a PNG chart")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Print the warehouse's rows per (color, month) for the target the environment selects, and
    with `--chart PATH` write their chart there."""
    args = parse_args(argv)
    try:
        warehouse = warehouse_resource(Settings.from_environment())
        with dg.build_resources({"warehouse": warehouse}) as resources:
            counts = resources.warehouse.slice_counts()
            sources = {key: origin.source for key, origin in resources.warehouse.slice_origins().items()}
    except SettingError as e:
        sys.exit(f"taxi_pipeline: {e}")
    print(format_slice_counts(counts))
    if args.chart is not None:
        try:
            write_chart(counts, args.chart, sources)
        except OSError as e:
            sys.exit(f"taxi_pipeline: cannot write the chart to {args.chart}: {e.strerror or e}")
        print(f"chart written to {args.chart}")


if __name__ == "__main__":
    main()
