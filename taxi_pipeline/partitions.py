"""The one partition scheme of every trip asset: the source's services x its months, and month
arithmetic."""

from datetime import date

import dagster as dg
from dateutil.relativedelta import relativedelta

from taxi_pipeline.defs.source.releases import COURSE, TLC_PUBLICATION_LAG_MONTHS, TripRelease

# Each run takes one (color, month): a backfill of years becomes many small runs that the run
# queue executes in parallel, and the IO managers store exactly one partition per output.
one_partition_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


def build_trip_partitions(release: TripRelease, first_month: date | None = None) -> dg.MultiPartitionsDefinition:
    """The (color, month) partitions of a release, keys such as `yellow|2021-01-01`: its services, its
    months from `first_month` (default: the release's) to its last one, or, for the TLC, a month the
    TLC can have published (the partitions grow with the clock)."""
    start = f"{first_month or release.first_month:%Y-%m-%d}"
    if release.last_month is not None:
        # end_date is exclusive: the month after the last one.
        months = dg.MonthlyPartitionsDefinition(start_date=start, end_date=f"{next_month(release.last_month):%Y-%m-%d}")
    else:
        months = dg.MonthlyPartitionsDefinition(start_date=start, end_offset=-TLC_PUBLICATION_LAG_MONTHS)
    colors = dg.StaticPartitionsDefinition(list(release.services))
    return dg.MultiPartitionsDefinition({"color": colors, "month": months})


def partition_key_hint(partitions: dg.MultiPartitionsDefinition) -> str:
    """How a partition key of `partitions` reads, with its colors and months, for messages."""
    colors = partitions.get_partitions_def_for_dimension("color").get_partition_keys()
    months = partitions.get_partitions_def_for_dimension("month").get_partition_keys()
    if not months:
        return f"keys read color|YYYY-MM-01 (colors {', '.join(colors)}; no months yet)"
    return (
        f"keys read color|YYYY-MM-01, e.g. {trip_partition_key(colors[0], months[-1])} "
        f"(colors {', '.join(colors)}; months {months[0]} to {months[-1]})"
    )


def trip_partition_key(color: str, month: str | date) -> str:
    """The partition key of one color's monthly file, as the UI and CLI show it."""
    return str(dg.MultiPartitionKey({"color": color, "month": str(month)}))


def split_partition_key(key: str | dg.MultiPartitionKey) -> tuple[str, date]:
    """The (color, first day of month) named by a partition key such as `yellow|2021-01-01`."""
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension["color"], date.fromisoformat(key.keys_by_dimension["month"])
    # Dimensions are ordered by name in the key: color, then month.
    color, separator, month = str(key).partition("|")
    if not separator or not color:
        raise ValueError(f"{key!r} is not a trip partition key (color|YYYY-MM-01)")
    return color, date.fromisoformat(month)


def next_month(month: date) -> date:
    """The first day of the month after the one `month` is in."""
    return month.replace(day=1) + relativedelta(months=1)


# The course's partitions, the default: 2019-01 to 2021-07 of yellow, green and fhv (93 keys).
course_partitions = build_trip_partitions(COURSE)
