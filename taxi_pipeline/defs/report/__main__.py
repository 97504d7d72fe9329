"""`python -m taxi_pipeline.defs.report [--year YYYY] [--chart PATH]`: the warehouse's rows per
(color, month), with `--year` that year's months and a total per color, and with `--chart` the
picture `trips_per_month` draws of the same slices, as a PNG file."""

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from itertools import groupby
from pathlib import Path

import dagster as dg

from taxi_pipeline.definitions import warehouse_resource
from taxi_pipeline.errors import SettingError
from taxi_pipeline.settings import Settings


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose bad input ends the command with one line saying why."""

    def error(self, message: str):
        self.exit(2, f"taxi_pipeline: {message} (see --help)\n")


def _year(value: str) -> int:
    if len(value) != 4 or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a year; write it as YYYY, e.g. 2020")
    return int(value)


def year_lines(counts: Sequence[tuple[str, date, int]], year: int) -> list[str]:
    """The lines of `year`'s slices (color, month, rows), each color closed by its total and how many
    months it holds."""
    lines = []
    for color, slices in groupby(counts, key=lambda c: c[0]):
        slices = list(slices)
        lines += [f"{color:<8} {month:%Y-%m}  {rows:>12,}" for _, month, rows in slices]
        months = f"{len(slices)} month{'s' if len(slices) > 1 else ''}"
        lines.append(f"{color:<8} {'total':<7}  {sum(r for *_, r in slices):>12,}  ({months} of {year})")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = _OneLineParser(
        prog="python -m taxi_pipeline.defs.report",
        description="Print the warehouse's rows per (color, month) for the target the environment selects.",
    )
    parser.add_argument("--year", type=_year, metavar="YYYY", help="only that year's months, with a total per color")
    parser.add_argument("--chart", type=Path, metavar="PATH", help="also write the rows per month as a PNG chart")
    args = parser.parse_args(argv)
    try:
        with dg.build_resources({"warehouse": warehouse_resource(Settings.from_environment())}) as resources:
            counts = resources.warehouse.slice_counts()
            sources = {key: origin.source for key, origin in resources.warehouse.slice_origins().items()}
    except SettingError as e:
        sys.exit(f"taxi_pipeline: {e}")
    print(f"{'color':<8} {'month':<8} {'rows':>12}")
    if args.year is None:
        for color, month, rows in counts:
            print(f"{color:<8} {month:%Y-%m}  {rows:>12,}")
    else:
        counts = [c for c in counts if c[1].year == args.year]
        for line in year_lines(counts, args.year):
            print(line)
    total = "total" if args.year is None else f"total {args.year}"
    print(f"{total:<17} {sum(r for *_, r in counts):>12,}")
    if args.chart is not None:
        from taxi_pipeline.defs.report.chart import trips_per_month_png  # matplotlib only for a chart

        try:
            args.chart.write_bytes(trips_per_month_png(counts, sources))
        except OSError as e:
            sys.exit(f"taxi_pipeline: cannot write the chart to {args.chart}: {e.strerror or e}")
        print(f"chart written to {args.chart}")


if __name__ == "__main__":
    main()
