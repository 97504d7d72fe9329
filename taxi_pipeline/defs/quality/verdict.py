"""The audit's verdict on one staged content, kept beside it in staging as `{sha256}.audit.json`:
what `lake_trips_parquet` reads before it publishes, whatever ran before it in whichever run.

A verdict names the bytes it examined (their sha256), so a file staged again after its audit,
by this run or another, is a new content without a verdict and is never published on the
strength of the old one.
"""

import json
from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg

from taxi_pipeline.defs.lake.files import StagedFile, atomic_writer
from taxi_pipeline.partitions import split_partition_key


def _blocks(result: dg.AssetCheckResult, blocking: set[str]) -> bool:
    # Dagster blocks on a failed blocking check of severity ERROR only; WARN lets the month through.
    return result.check_name in blocking and not result.passed and result.severity == dg.AssetCheckSeverity.ERROR


def _finding(name: str, description: str | None, metadata: dict) -> str:
    """`check: what it found` on one line; the metadata's plain numbers when it has no description."""
    if description:
        return f"{name}: {description.strip().splitlines()[0]}"
    numbers = [f"{key} {value:,}" for key, value in metadata.items() if isinstance(value, int | float)]
    return f"{name}: failed" + (f" ({', '.join(numbers)})" if numbers else "")


def _plain(value):
    return getattr(value, "value", value)


def not_published_line(partition_key: str, findings: list[str]) -> str:
    """`green 2020-05 not published: <check>: <finding>[; <check>: <finding>]`."""
    color, month = split_partition_key(partition_key)
    return f"{color} {month:%Y-%m} not published: {'; '.join(findings)}"


def record_verdict(
    staged: StagedFile, partition_key: str, run_id: str, results: Iterable[dg.AssetCheckResult], blocking: set[str]
) -> list[str]:
    """Write the verdict of `results` (every check of one audit of `staged`) beside it; returns
    the findings of the blocking checks that failed (empty when the content may be published)."""
    results = list(results)
    checks = {
        r.check_name: {
            "passed": r.passed,
            "severity": r.severity.value,
            "blocking": r.check_name in blocking,
            "description": r.description,
            "metadata": {k: _plain(v) for k, v in r.metadata.items() if isinstance(_plain(v), int | float | str)},
        }
        for r in results
    }
    findings = [
        _finding(r.check_name, r.description, checks[r.check_name]["metadata"]) for r in results if _blocks(r, blocking)
    ]
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
    blocking checks that failed, or that never ran on these bytes; empty when it does."""
    try:
        with staged.verdict_path.open("rb") as f:
            verdict = json.load(f)
    except FileNotFoundError:
        return [
            f"the staged content {staged.sha256[:12]}… was never audited: materialize cleaned_trips with its checks "
            "(trips_job runs both)"
        ]
    checks = verdict["checks"]
    findings = [
        _finding(name, check["description"], check["metadata"])
        for name, check in checks.items()
        if check["blocking"] and not check["passed"] and check["severity"] == dg.AssetCheckSeverity.ERROR.value
    ]
    if not findings and (unaudited := sorted(blocking - checks.keys())):
        findings.append(f"not audited by {', '.join(unaudited)}: materialize cleaned_trips with its checks")
    return findings
