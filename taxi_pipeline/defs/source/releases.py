"""The two releases of monthly trip files `TAXI_SOURCE` names, the course's CSV mirror and the
TLC's parquet files: where each keeps a file, and which services and months it offers."""

from dataclasses import dataclass
from datetime import date
from posixpath import normpath
from urllib.parse import urlsplit, urlunsplit

from dateutil.relativedelta import relativedelta

from taxi_pipeline.errors import PermanentError

# The TLC publishes a month 47 to 62 days after it ends: the latest it can have published is the
# one before the last two whole months (on 2026-12-01, 2026-09).
TLC_PUBLICATION_LAG_MONTHS = 2
# Yellow 2009 and 2010 use another layout (longitudes and latitudes, no zone ids).
TLC_EARLIEST_MONTH = date(2011, 1, 1)
# How a slice's source reads when the offline mirror generated its file: `course (generated)`.
GENERATED_SUFFIX = " (generated)"


@dataclass(frozen=True)
class TripRelease:
    """One source of monthly trip files: its layout under a base URL and what it offers."""

    name: str
    description: str
    default_url: str
    file_template: str  # under the base URL, with {color} and {month} (YYYY-MM)
    zones_path: str  # under the base URL; ".." climbs out of it
    file_format: str  # the file name's extension: csv.gz or parquet
    service_start: dict[str, date]  # the services (the partitions' colors) and their first months
    last_month: date | None  # fixed, or None: TLC_PUBLICATION_LAG_MONTHS before the current month
    first_month: date = date(2019, 1, 1)  # the partitions' first month unless TAXI_FIRST_MONTH says otherwise

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(self.service_start)

    def source_name(self, generated: bool) -> str:
        """The source a slice records: the release's name, flagged when the offline mirror generated the file."""
        return self.name + GENERATED_SUFFIX if generated else self.name

    def _began(self, color: str) -> date:
        if color not in self.service_start:
            raise ValueError(f"unknown {self.name} service {color!r}; expected one of {', '.join(self.services)}")
        return self.service_start[color]

    def file_url(self, base_url: str, color: str, month: date) -> str:
        """The URL of one known service's monthly file under `base_url`."""
        self._began(color)
        return f"{base_url.rstrip('/')}/{self.file_template.format(color=color, month=f'{month:%Y-%m}')}"

    def zones_url(self, base_url: str) -> str:
        """The URL of the taxi zone lookup table for files under `base_url`."""
        parts = urlsplit(base_url.rstrip("/"))
        path = normpath(f"{parts.path or '/'}/{self.zones_path}")
        return urlunsplit(parts._replace(path=path.replace("//", "/")))

    def latest_month(self, today: date) -> date:
        """The latest month the release can have published by `today`."""
        return self.last_month or today.replace(day=1) - relativedelta(months=TLC_PUBLICATION_LAG_MONTHS + 1)

    def check_offered(self, color: str, month: date, today: date) -> None:
        """`PermanentError` saying why when the release cannot have this file (not begun, or not yet published)."""
        began, latest = self._began(color), self.latest_month(today)
        if self.last_month is not None and not began <= month <= latest:
            why = f"is not in the {self.description}: it holds {began:%Y-%m} to {latest:%Y-%m}"
        elif month < began:
            why = f"is before the service began: the {self.description} holds {color} trips from {began:%Y-%m}"
        elif month > latest:
            why = (
                "is not published yet: the TLC publishes a month about two months after it ends "
                f"(the latest it can have today is {latest:%Y-%m})"
            )
        else:
            return
        raise PermanentError(f"{color} {month:%Y-%m} {why}")


COURSE = TripRelease(
    name="course",
    description="course's CSV mirror",
    default_url="https://github.com/DataTalksClub/nyc-tlc-data/releases/download",
    file_template="{color}/{color}_tripdata_{month}.csv.gz",
    zones_path="misc/taxi_zone_lookup.csv",
    file_format="csv.gz",
    service_start={color: date(2019, 1, 1) for color in ("yellow", "green", "fhv")},
    last_month=date(2021, 7, 1),
)
TLC = TripRelease(
    name="tlc",
    description="TLC's release",
    default_url="https://d37ci6vzurychx.cloudfront.net/trip-data",
    file_template="{color}_tripdata_{month}.parquet",
    zones_path="../misc/taxi_zone_lookup.csv",
    file_format="parquet",
    # Yellow began in 2009-01; this pipeline reads it from 2011-01 (TLC_EARLIEST_MONTH).
    service_start={
        "yellow": TLC_EARLIEST_MONTH,
        "green": date(2014, 1, 1),
        "fhv": date(2015, 1, 1),
        "fhvhv": date(2019, 2, 1),
    },
    last_month=None,
)
RELEASES = {release.name: release for release in (COURSE, TLC)}
