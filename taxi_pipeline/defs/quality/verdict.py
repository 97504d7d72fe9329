"""The audit's verdict on one staged content, kept beside it as `{sha256}.audit.json`: what
`lake_trips_parquet` reads before it publishes. A verdict names the bytes it examined, so content
staged again after its audit has no verdict and is never published on the strength of the old one."""

import json
from datetime import UTC, datetime

import dagster as dg

from taxi_pipeline.defs.lake.files import StagedFile, atomic_writer
from taxi_pipeline.partitions import split_partition_key

ERROR = dg.AssetCheckSeverity.ERROR.value


def _finding(name: str, check: dict) -> str:
    """`check: what it found` on one line; the metadata's plain numbers when it has no description."""
    if check["description"]:
        return f"{name}: {check['description'].strip().splitlines()[0]}"
    numbers = [f"{key} {value:,}" for key, value in check["metadata"].items() if isinstance(value, int | float)]
    return f"{name}: failed" + (f" ({', '.join(numbers)})" if numbers else "")


def _findings(checks: dict[str, dict]) -> list[str]:
    # Dagster blocks on a failed blocking check of severity ERROR only; WARN lets the month through.
    return [
        _finding(name, check)
        for name, check in checks.items()
        if check["blocking"] and not check["passed"] and check["severity"] == ERROR
    ]


def refuse_publication(log: dg.DagsterLogManager, partition_key: str, findings: list[str]) -> None:
    """When there are `findings`, fail the step at once (no retry) with the line
    `green 2020-05 not published: <check>: <finding>[; ...]`, logged as an error."""
    if findings:
        color, month = split_partition_key(partition_key)
        line = f"{color} {month:%Y-%m} not published: {'; '.join(findings)}"
        log.error(line)
        raise dg.Failure(description=line, allow_retries=False)


def record_verdict(
    staged: StagedFile, partition_key: str, run_id: str, results: list[dg.AssetCheckResult], blocking: set[str]
) -> list[str]:
    """Write the verdict of `results` (every check of one audit of `staged`) beside it; returns
    the findings of the blocking checks that failed (none when the content may be published)."""

    def plain(metadata: dict) -> dict:
        values = {key: getattr(value, "value", value) for key, value in metadata.items()}
        return {key: value for key, value in values.items() if isinstance(value, int | float | str)}

    checks = {
        r.check_name: {
            "passed": r.passed,
            "severity": r.severity.value,
            "blocking": r.check_name in blocking,
            "description": r.description,
            "metadata": plain(r.metadata),
        }
        for r in results
    }
    findings = _findings(checks)
    verdict = {
        "sha256": staged.sha256,
        "partition": partition_key,
        "run_id": run_id,
        "audited_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "publishable": not findings,
        "checks": checks,
    }
    with atomic_writer(staged.verdict_path) as f:
        f.write(json.dumps(verdict, indent=2).encode())
    return findings


def verdict_findings(staged: StagedFile, blocking: set[str]) -> list[str]:
    """Why the latest audit of exactly `staged`'s bytes does not let them be published: the
    blocking checks that failed, or that never ran on these bytes; none when it does."""
    try:
        with staged.verdict_path.open("rb") as f:
            checks = json.load(f)["checks"]
    except FileNotFoundError:
        return [
            f"the staged content {staged.sha256[:12]}… was never audited: materialize cleaned_trips with its checks "
            "(trips_job runs both)"
        ]
    findings = _findings(checks)
    if not findings and (unaudited := sorted(blocking - checks.keys())):
        findings.append(f"not audited by {', '.join(unaudited)}: materialize cleaned_trips with its checks")
    return findings
