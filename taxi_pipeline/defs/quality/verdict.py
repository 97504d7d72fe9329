"""The audit's verdict on one staged content, kept beside it as `{sha256}.audit.json` and read by
`lake_trips_parquet` before it publishes: content staged after its audit has no verdict."""

import json
from datetime import UTC, datetime

import dagster as dg

from taxi_pipeline.defs.lake.files import StagedFile, atomic_writer
from taxi_pipeline.partitions import split_partition_key

ERROR = dg.AssetCheckSeverity.ERROR.value


def _findings(checks: dict[str, dict]) -> list[str]:
    """`check: what it found` of each blocking check that failed with severity ERROR (a WARN lets
    the month through), its description's first line or else its metadata's plain numbers."""
    findings = []
    for name, check in checks.items():
        if check["blocking"] and not check["passed"] and check["severity"] == ERROR:
            numbers = ", ".join(f"{k} {v:,}" for k, v in check["metadata"].items() if isinstance(v, int | float))
            found = check["description"] and check["description"].strip().splitlines()[0]
            findings.append(f"{name}: {found or 'failed' + (f' ({numbers})' if numbers else '')}")
    return findings


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
    checks = {
        r.check_name: {
            "passed": r.passed,
            "severity": r.severity.value,
            "blocking": r.check_name in blocking,
            "description": r.description,
            "metadata": {k: v.value for k, v in r.metadata.items() if isinstance(v.value, int | float | str)},
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
