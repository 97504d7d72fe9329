from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from taxi_pipeline.definitions import defs
from taxi_pipeline.defs.jobs import MONTHLY_CRON

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def monthly_trips_schedule() -> dg.ScheduleDefinition:
    """The schedule as the code location resolves it against the asset job's partitions."""
    return defs().resolve_schedule_def("monthly_trips_schedule")


def run_requests_at(schedule: dg.ScheduleDefinition, when: datetime) -> list[dg.RunRequest]:
    return list(schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when)).run_requests)


def test_runs_at_five_new_york_time_on_the_first(monthly_trips_schedule):
    assert MONTHLY_CRON == "0 5 1 * *"
    assert monthly_trips_schedule.cron_schedule == "0 5 1 * *"
    assert monthly_trips_schedule.execution_timezone == "America/New_York"


def test_ticks_follow_new_york_summer_time_in_utc(monthly_trips_schedule):
    from dagster._utils.schedules import schedule_execution_time_iterator  # the scheduler's own ticks

    schedule = monthly_trips_schedule
    start = datetime(2021, 1, 15, tzinfo=UTC).timestamp()
    ticks = schedule_execution_time_iterator(start, schedule.cron_schedule, schedule.execution_timezone)
    in_utc = [next(ticks).astimezone(UTC) for _ in range(7)]

    # 05:00 EST is 10:00 UTC; from the second Sunday of March, 05:00 EDT is 09:00 UTC.
    assert [(t.month, t.day, t.hour) for t in in_utc] == [
        (2, 1, 10),
        (3, 1, 10),
        (4, 1, 9),
        (5, 1, 9),
        (6, 1, 9),
        (7, 1, 9),
        (8, 1, 9),
    ]


def test_requests_the_month_that_just_closed_for_every_color(monthly_trips_schedule):
    requests = run_requests_at(monthly_trips_schedule, datetime(2021, 2, 1, 5, tzinfo=NEW_YORK))

    assert [r.partition_key for r in requests] == ["yellow|2021-01-01", "green|2021-01-01", "fhv|2021-01-01"]
    assert [r.run_key for r in requests] == [r.partition_key for r in requests]
    # The dimensions' tags, as a backfill's runs carry them: the job's partition page reads them.
    assert requests[0].tags == {
        "dagster/schedule_name": "monthly_trips_schedule",
        "dagster/partition": "yellow|2021-01-01",
        "dagster/partition/color": "yellow",
        "dagster/partition/month": "2021-01-01",
    }


def test_january_tick_requests_december_of_the_year_before(monthly_trips_schedule):
    requests = run_requests_at(monthly_trips_schedule, datetime(2021, 1, 1, 5, tzinfo=NEW_YORK))

    assert {r.partition_key for r in requests} == {"yellow|2020-12-01", "green|2020-12-01", "fhv|2020-12-01"}


def test_definitions_load_without_deprecation_warnings():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", "import taxi_pipeline.definitions"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]


def test_ticks_after_the_release_ended_ask_again_for_its_last_month_under_the_same_run_keys(monthly_trips_schedule):
    # The scheduler launches a run key once, so these ticks start nothing new.
    late = run_requests_at(monthly_trips_schedule, datetime(2026, 12, 1, 5, tzinfo=NEW_YORK))

    assert [r.run_key for r in late] == ["yellow|2021-07-01", "green|2021-07-01", "fhv|2021-07-01"]
