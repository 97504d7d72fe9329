"""The one partition scheme of every asset: trip color x monthly file."""

import warnings
from datetime import date

import dagster as dg

# Two features this project relies on on purpose are marked beta/preview in dagster 1.13; say so
# once here instead of in every run's log.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset` is currently in beta")
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec is currently in preview")

from taxi_pipeline.schema import COLORS

MONTHS_START = "2019-01-01"

color_partitions = dg.StaticPartitionsDefinition(list(COLORS))
month_partitions = dg.MonthlyPartitionsDefinition(start_date=MONTHS_START)

# Keys read "color|month", for example "yellow|2021-01-01".
trip_partitions = dg.MultiPartitionsDefinition({"color": color_partitions, "month": month_partitions})


def trip_partition_key(color: str, month: str | date) -> str:
    """The partition key of one color's monthly file, as the UI and CLI show it."""
    return str(dg.MultiPartitionKey({"color": color, "month": str(month)}))


def split_partition_key(key: str | dg.MultiPartitionKey) -> tuple[str, date]:
    """The (color, first day of month) named by a partition key such as `yellow|2021-01-01`."""
    if isinstance(key, dg.MultiPartitionKey):
        color, month = key.keys_by_dimension["color"], key.keys_by_dimension["month"]
    else:
        color, _, month = str(key).partition("|")
    return color, date.fromisoformat(month)


# Each run takes one (color, month): a backfill of years becomes many small runs that the run
# queue executes in parallel, and the IO managers store exactly one partition per output.
one_partition_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
