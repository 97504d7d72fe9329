"""The one partition scheme of every asset: trip color x monthly file, and month arithmetic."""

from datetime import date

import dagster as dg
from dateutil.relativedelta import relativedelta

from taxi_pipeline.schema import COLORS

# The months of the course's release: 2019-01 to 2021-07, fixed. Partitions are exactly the
# months it holds, so the UI, backfills, the schedule and the sensor never offer one it cannot have.
MONTHS_START = "2019-01-01"
MONTHS_END = "2021-07-01"

color_partitions = dg.StaticPartitionsDefinition(list(COLORS))
# end_date is exclusive: the month after the last one.
month_partitions = dg.MonthlyPartitionsDefinition(start_date=MONTHS_START, end_date="2021-08-01")

# Keys read "color|month", for example "yellow|2021-01-01".
trip_partitions = dg.MultiPartitionsDefinition({"color": color_partitions, "month": month_partitions})

PARTITION_KEY_HINT = (
    "keys read color|YYYY-MM-01, e.g. green|2020-04-01 "
    f"(colors {', '.join(COLORS)}; months {MONTHS_START} to {MONTHS_END})"
)

# Each run takes one (color, month): a backfill of years becomes many small runs that the run
# queue executes in parallel, and the IO managers store exactly one partition per output.
one_partition_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


def trip_partition_key(color: str, month: str | date) -> str:
    """The partition key of one color's monthly file, as the UI and CLI show it."""
    return str(dg.MultiPartitionKey({"color": color, "month": str(month)}))


def split_partition_key(key: str | dg.MultiPartitionKey) -> tuple[str, date]:
    """The (color, first day of month) named by a partition key such as `yellow|2021-01-01`."""
    if not isinstance(key, dg.MultiPartitionKey):
        key = trip_partitions.get_partition_key_from_str(str(key))
    return key.keys_by_dimension["color"], date.fromisoformat(key.keys_by_dimension["month"])


def next_month(month: date) -> date:
    """The first day of the month after the one `month` is in."""
    return month.replace(day=1) + relativedelta(months=1)
