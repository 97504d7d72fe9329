"""What a user reads when steps are retried: one warning per failed attempt naming its cause,
delays rounded to 0.1 s, and no retry policy left that Dagster would print unrounded."""

import re

import dagster as dg
import pytest

from taxi_pipeline.defs.retries import retried_on_error
from taxi_pipeline.defs.source.resources import TripSourceResource
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.runs import TRIP_ASSETS
from taxi_pipeline_tests.support.unreachable import refused_port

pytestmark = pytest.mark.faults

ROUNDED = r"\d+(\.\d)?"  # 2 or 2.1, never 2.1437...


def run_logs(instance: dg.DagsterInstance, result) -> list:
    return instance.all_logs(result.run_id)


def test_a_refused_download_logs_each_attempt_with_its_cause_and_a_rounded_delay(make_resources):
    port = refused_port()
    resources = {
        **make_resources(f"http://127.0.0.1:{port}"),
        "source": TripSourceResource(base_url=f"http://127.0.0.1:{port}", retry_delay_seconds=0.3),
    }
    instance = dg.DagsterInstance.ephemeral()

    result = dg.materialize(
        [a for a in TRIP_ASSETS if a.key == dg.AssetKey("raw_trips")],
        partition_key="green|2020-04-01",
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )

    assert not result.success
    logs = run_logs(instance, result)
    warnings = [e.user_message for e in logs if e.level == 30 and not e.is_dagster_event]
    cause = f"127.0.0.1:{port} refused the connection: is the mirror server running?"
    assert len(warnings) == 4
    for attempt, line in enumerate(warnings[:3], start=1):
        assert re.fullmatch(
            rf"attempt {attempt} of 4 failed: http://127\.0\.0\.1:{port}/\S+: {re.escape(cause)}; "
            rf"retrying in {ROUNDED} s",
            line,
        ), line
    assert warnings[3].endswith(f"{cause}; no retries left")
    retries = [e for e in logs if e.is_dagster_event and e.dagster_event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 3
    for retry in retries:
        assert re.fullmatch(
            rf'Execution of step "raw_trips" failed and has requested a retry( in {ROUNDED} seconds)?\.',
            retry.dagster_event.message,
        ), retry.dagster_event.message
        assert retry.dagster_event.step_retry_data.error.cause is None  # the cause is in the warning, not a traceback
    [failure] = [e.dagster_event for e in logs if e.is_dagster_event and e.dagster_event.is_step_failure]
    assert cause in failure.step_failure_data.error.cause.message  # the last attempt keeps it


def test_a_transient_error_in_a_step_body_is_retried_with_a_rounded_delay():
    attempts = []

    @dg.asset
    def flaky(context: dg.AssetExecutionContext) -> int:
        with retried_on_error(context, base_seconds=0.15, max_retries=3):
            attempts.append(context.retry_number)
            if len(attempts) < 3:
                raise OSError(f"database is locked (attempt {len(attempts)})\nsecond line")
            return 1

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([flaky], instance=instance)

    assert result.success and attempts == [0, 1, 2]
    warnings = [e.user_message for e in run_logs(instance, result) if e.level == 30 and not e.is_dagster_event]
    assert [re.sub(ROUNDED + " s$", "N s", w) for w in warnings] == [
        "attempt 1 of 4 failed: database is locked (attempt 1); retrying in N s",
        "attempt 2 of 4 failed: database is locked (attempt 2); retrying in N s",
    ]


def test_a_failure_in_a_retried_body_fails_at_once():
    @dg.asset
    def refuses(context: dg.AssetExecutionContext) -> int:
        with retried_on_error(context, base_seconds=0.1, max_retries=3):
            raise dg.Failure(description="a wrong file", allow_retries=False)

    result = dg.materialize([refuses], raise_on_error=False)

    assert not result.success
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


def test_no_asset_keeps_a_retry_policy_whose_jittered_delay_dagster_prints_unrounded():
    from taxi_pipeline.definitions import build_definitions

    defs = build_definitions(Settings.from_environment())
    policies = {
        str(asset.key): asset.op.retry_policy
        for asset in defs.assets
        if isinstance(asset, dg.AssetsDefinition) and asset.is_executable and asset.op.retry_policy is not None
    }
    assert policies == {}
    assert all(job.op_retry_policy is None for job in defs.jobs)


def test_only_the_errors_the_project_tells_apart_become_one_line():
    from taxi_pipeline.cli import step_failure_reason

    try:
        try:
            raise OSError("disk full\nmore")
        except OSError as e:
            raise dg.RetryRequested(max_retries=3) from e
    except dg.RetryRequested as e:
        exhausted = e

    assert step_failure_reason(dg.Failure(description="green 2021-07 is not published")) == (
        "green 2021-07 is not published"
    )
    assert step_failure_reason(exhausted) == "disk full (gave up after 4 attempts)"
    assert step_failure_reason(dg.RetryRequested(max_retries=3)) is None  # no cause to name
    assert step_failure_reason(ValueError("a bug")) is None  # keeps its traceback
