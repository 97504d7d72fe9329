from datetime import UTC, datetime

import dagster as dg
import pytest

from taxi_pipeline.definitions import defs
from taxi_pipeline.defs.jobs import MONTHLY_CRON


@pytest.fixture(scope="module")
def monthly_trips_schedule() -> dg.ScheduleDefinition:
    """The schedule as the code location resolves it against the asset job's partitions."""
    return defs().resolve_schedule_def("monthly_trips_schedule")


def run_requests_at(schedule: dg.ScheduleDefinition, when: datetime) -> list[dg.RunRequest]:
    return list(schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when)).run_requests)


def test_runs_at_five_utc_on_the_first(monthly_trips_schedule):
    assert MONTHLY_CRON == "0 5 1 * *"
    assert monthly_trips_schedule.cron_schedule == "0 5 1 * *"
    assert monthly_trips_schedule.execution_timezone == "UTC"


def test_requests_the_month_that_just_closed_for_every_color(monthly_trips_schedule):
    requests = run_requests_at(monthly_trips_schedule, datetime(2021, 2, 1, 5, tzinfo=UTC))

    assert [r.partition_key for r in requests] == ["yellow|2021-01-01", "green|2021-01-01", "fhv|2021-01-01"]
    assert [r.run_key for r in requests] == [r.partition_key for r in requests]


def test_january_tick_requests_december_of_the_year_before(monthly_trips_schedule):
    requests = run_requests_at(monthly_trips_schedule, datetime(2021, 1, 1, 5, tzinfo=UTC))

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
    late = run_requests_at(monthly_trips_schedule, datetime(2026, 12, 1, 5, tzinfo=UTC))

    assert [r.run_key for r in late] == ["yellow|2021-07-01", "green|2021-07-01", "fhv|2021-07-01"]
