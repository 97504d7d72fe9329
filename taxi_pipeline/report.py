"""`python -m taxi_pipeline.report`: rows per (color, month) in the target's warehouse."""

import sys

import dagster as dg

from taxi_pipeline.settings import SettingError, Settings
from taxi_pipeline.targets import warehouse_resource


def format_slice_counts(counts: list[tuple]) -> str:
    """A plain-text table of (color, source_month, rows) with a total line."""
    lines = [f"{'color':<8} {'month':<8} {'rows':>12}"]
    lines += [f"{color:<8} {month:%Y-%m}  {rows:>12,}" for color, month, rows in counts]
    lines.append(f"{'total':<17} {sum(r for *_, r in counts):>12,}")
    return "\n".join(lines)


def main() -> None:
    """Print the warehouse's rows per (color, month) for the target the environment selects."""
    try:
        warehouse = warehouse_resource(Settings.from_environment())
        with dg.build_resources({"warehouse": warehouse}) as resources:
            counts = resources.warehouse.slice_counts()
    except SettingError as e:
        sys.exit(f"taxi_pipeline: {e}")
    print(format_slice_counts(counts))


if __name__ == "__main__":
    main()
