"""The one partition scheme of every trip asset: the source's services x its months, the one line
that refuses a key it does not have, and month arithmetic."""

from datetime import date

import click
import dagster as dg
from dateutil.relativedelta import relativedelta

from taxi_pipeline.defs.source.releases import COURSE, TLC_PUBLICATION_LAG_MONTHS, TripRelease

# Each run takes one (color, month): a backfill of years becomes many small runs that the run
# queue executes in parallel, and the IO managers store exactly one partition per output.
one_partition_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


class PartitionKeyError(click.ClickException):
    """A key that is not a trip partition, its message one line saying why and how keys read. A
    `click.ClickException`, so `dg launch` and `dagster asset materialize` end with `Error: <it>`
    instead of a traceback (dagster 1.13.27 rewraps a `DagsterUnknownPartitionError` from `--assets`
    into a `DagsterInvalidSubsetError`, and prints either as a traceback)."""


class TripPartitionsDefinition(dg.MultiPartitionsDefinition):
    """Dagster's color x month partitions, refusing a key it does not have with a `PartitionKeyError`
    that names why (the form, the color, the month) and the valid colors and months."""

    def __init__(self, colors: dg.StaticPartitionsDefinition, months: dg.MonthlyPartitionsDefinition, source: str):
        super().__init__({"color": colors, "month": months})
        self.source = source  # the settings that chose these partitions, e.g. "TAXI_SOURCE=course"

    def validate_partition_key(self, partition_key: str, context) -> None:
        """Dagster's check of a key a run, a CLI or a sensor names; a refusal says why on one line."""
        with dg.partition_loading_context(new_ctx=context):
            refused = self.refusal(partition_key)
        if refused is not None:
            raise PartitionKeyError(refused)

    def refusal(self, key: str) -> str | None:
        """Why `key` is not one of these partitions, with the valid form, colors and months; None if it is."""
        if self.has_partition_key(key):
            return None
        colors = self.get_partitions_def_for_dimension("color").get_partition_keys()
        months = self.get_partitions_def_for_dimension("month").get_partition_keys()
        try:
            color, month = split_partition_key(key)
            canonical = trip_partition_key(color, month) == key
        except ValueError:
            canonical = False
        if not key:
            why = "the key is empty"
        elif not canonical:
            why = "it is not of the form color|YYYY-MM-01"
        elif month.day != 1:
            why = f"{month} is not the first day of a month"
        elif color not in colors:
            why = f"{color} is not one of the colors"
        elif not months:
            why = "there are no months yet"
        elif f"{month}" > months[-1]:
            why = f"{month:%Y-%m} is after the last month"
        else:
            why = f"{month:%Y-%m} is before the first month"
        return f"{key!r} is not a partition of the trip assets: {why}. {self.key_form()}"

    def key_form(self) -> str:
        """How the keys read, with their colors and months, e.g. for a message refusing one."""
        colors = self.get_partitions_def_for_dimension("color").get_partition_keys()
        months = self.get_partitions_def_for_dimension("month").get_partition_keys()
        if not months:
            return f"No months yet for {', '.join(colors)} ({self.source}); the form is color|YYYY-MM-01."
        return (
            f"Months run {months[0][:7]}..{months[-1][:7]} for {', '.join(colors)} ({self.source}); "
            f"the form is color|YYYY-MM-01, e.g. {trip_partition_key(colors[0], months[-1])}."
        )


def build_trip_partitions(release: TripRelease, first_month: date | None = None) -> TripPartitionsDefinition:
    """The (color, month) partitions of a release, keys such as `yellow|2021-01-01`: its services, its
    months from `first_month` (default: the release's) to its last one, or, for the TLC, a month the
    TLC can have published (the partitions grow with the clock)."""
    start = f"{first_month or release.first_month:%Y-%m-%d}"
    if release.last_month is not None:
        # end_date is exclusive: the month after the last one.
        months = dg.MonthlyPartitionsDefinition(start_date=start, end_date=f"{next_month(release.last_month):%Y-%m-%d}")
    else:
        months = dg.MonthlyPartitionsDefinition(start_date=start, end_offset=-TLC_PUBLICATION_LAG_MONTHS)
    source = f"TAXI_SOURCE={release.name}" + (f", TAXI_FIRST_MONTH={first_month:%Y-%m}" if first_month else "")
    return TripPartitionsDefinition(dg.StaticPartitionsDefinition(list(release.services)), months, source)


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
