"""The audit of write-audit-publish: the checks of the staged month (`cleaned_trips`) in one step reading
it once, and their verdict, kept beside the bytes they read (`{sha256}.audit.json`) for `lake_trips_parquet`:
a month failing a blocking check of severity ERROR, or staged after its audit, is never published."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from taxi_pipeline.defs.lake.files import ZONES_FILE, StagedFile, atomic_writer
from taxi_pipeline.defs.lake.resources import LakeResource
from taxi_pipeline.lib import quality
from taxi_pipeline.lib.zones import read_zone_file
from taxi_pipeline.partitions import split_partition_key
from taxi_pipeline.schema import SCHEMA_VERSION, schema_version

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
# Shares of a month's rows above which a check fails (docs/decisions.md tells how they were measured).
OUTSIDE_MONTH_WARN = 0.01
OUTSIDE_MONTH_BLOCK = 0.5  # most pickups outside the month: another month's file
MAX_SHARE_IMPLAUSIBLE = {"negative_fare_amount": 0.02, "negative_total_amount": 0.02, "zero_trip_distance": 0.10}
MAX_SHARE_DUPLICATE_ROWS = {"yellow": 0.01, "green": 0.01, "fhv": 0.10, "fhvhv": 0.01}
MAX_SHARE_IMPOSSIBLE = {"dropoff_before_pickup": 0.01, "negative_passenger_count": 0.01}
AUDIT_BATCH_ROWS = 256 * 1024
NO_ZONE_TABLE = f"{quality.FIRST_ZONE}..{quality.LAST_ZONE} (no zone table loaded)"

CLEANED_TRIPS = dg.AssetKey("cleaned_trips")
LAKE_TRIPS = dg.AssetKey("lake_trips_parquet")  # the month as last published
# Each check's description in the UI (docs/orchestration.md tells them in full); all block but the last.
CHECK_DESCRIPTIONS = {
    "schema_is_canonical": "The staged parquet schema equals the canonical schema, column for column",
    "month_has_rows": "The month holds at least one trip",
    "rows_near_previous_publication": "The month's rows stay near its previous publication's: fewer warns above "
    "TAXI_ROW_DROP_WARN (10%), blocks above TAXI_ROW_DROP_BLOCK (50%); more, TAXI_ROW_GROWTH_WARN (10%) and "
    "TAXI_ROW_GROWTH_BLOCK (50%)",
    "rows_are_not_duplicated": "At most 1% of the rows (fhv 10%) repeat an earlier row exactly",
    "pickup_and_dropoff_times_present": "No trip lacks its pickup or drop-off time",
    "location_ids_are_taxi_zones": "Locations are zones of the lake's zone table, or TLC zones 1..265 when none is "
    "loaded (fhv may omit them)",
    "floats_are_finite": "No floating point column holds NaN or infinity",
    "required_columns_filled": "Required columns filled: times always; zones (fhv: on some trips); yellow and green "
    "fare and total but 0.1%",
    "trips_are_possible": "At most 1% of trips end before they start or carry a negative passenger count",
    "pickups_within_the_month": "Few pickups fall outside the file's month: above 1% warns; above half (another "
    "month's file) blocks",
    "fares_and_distances_plausible": "Few trips have a negative fare or total, or zero distance (kept)",
}
# (name, description, blocking) of each check.
AUDIT_CHECKS = [(name, text, name != "fares_and_distances_plausible") for name, text in CHECK_DESCRIPTIONS.items()]
BLOCKING_CHECKS = {name for name, _, blocking in AUDIT_CHECKS if blocking}


def _share(count: int, rows: int) -> float:
    return count / rows if rows else 0.0


def _shares(counts: dict[str, int], rows: int) -> dict[str, float]:
    return {f"share_{name}": round(_share(count, rows), 6) for name, count in counts.items()}


def _over(counts: dict[str, int], rows: int, limits: dict[str, float]) -> list[str]:
    return [name for name, count in counts.items() if _share(count, rows) > limits[name]]


def _parquet(f) -> pq.ParquetFile:
    # Read a batch at a time (AUDIT_BATCH_ROWS), through a buffer: a row group can hold millions of rows.
    return pq.ParquetFile(f, buffer_size=8 << 20, pre_buffer=False)


def audit_results(
    context: dg.AssetCheckExecutionContext, staged: StagedFile, lake: LakeResource, row_drop: quality.RowDropThresholds
) -> Iterator[dg.AssetCheckResult]:
    """Every check's result on the staged month, each naming the bytes it examined (`staged_sha256`)."""
    color, month = split_partition_key(context.partition_key)

    def result(name, passed, metadata, description=None, severity=ERROR) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=CLEANED_TRIPS,
            check_name=name,
            passed=bool(passed),
            severity=severity,
            metadata={**metadata, "staged_sha256": staged.sha256},
            description=description or None,
        )

    with staged.path.open("rb") as f:
        parquet = _parquet(f)
        schema = parquet.schema_arrow
        version, differences = schema_version(schema), quality.schema_differences(schema)
        metadata = {"schema_version": version or "none", "differences": dg.MetadataValue.json(differences)}
        if version is not None and version < SCHEMA_VERSION:
            # Staged by an older release: it still publishes and loads (the newer columns read null).
            older = f"schema version {version} of {SCHEMA_VERSION}: an older release wrote this file"
            yield result(
                "schema_is_canonical", False, metadata, f"{older}; materialize cleaned_trips again to rewrite it", WARN
            )
        else:
            differ = differences and f"the schema differs from the canonical one: {'; '.join(differences)}"
            yield result("schema_is_canonical", not differences, metadata, differ)
        if version is None:  # the other checks need the canonical columns
            return

        zones = lake.root() / ZONES_FILE
        zone_ids, zones_from = (read_zone_file(zones).ids, str(zones)) if zones.exists() else (None, NO_ZONE_TABLE)
        batches = parquet.iter_batches(batch_size=AUDIT_BATCH_ROWS, columns=quality.audit_columns(parquet.metadata))
        measured = quality.measure_month(batches, color, month, zone_ids)
    pa.default_memory_pool().release_unused()  # the load runs next in this process
    rows = measured.rows
    yield result("month_has_rows", rows > 0, {"rows": rows}, not rows and "0 rows: the file holds no trip")

    published = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=LAKE_TRIPS, asset_partitions=[context.partition_key]), limit=1
    ).records
    previous_rows = published[0].asset_materialization.metadata.get("dagster/row_count") if published else None
    previous = None if previous_rows is None else int(previous_rows.value)
    drop, growth = quality.row_drop_share(previous, rows), quality.row_growth_share(previous, rows)
    verdict = quality.row_drop_verdict(drop, row_drop, growth)
    more = f"{growth:.1%} more" if growth else f"{drop:.1%} fewer"
    change = verdict != "pass" and f"{rows:,} rows, {more} than the {previous:,} last published"
    if verdict == "block" and growth:
        change += "; every row twice? If the source really grew, raise TAXI_ROW_GROWTH_BLOCK"
    elif verdict == "block":
        change += "; if the source really shrank, raise TAXI_ROW_DROP_BLOCK"
    metadata = {
        "rows": rows,
        "previous_rows": previous if previous is not None else "never published",
        "drop_share": round(drop, 6),
        "warn_above": row_drop.warn_share,
        "block_above": row_drop.block_share,
        "growth_share": round(growth, 6),
        "warn_growth_above": row_drop.warn_growth,
        "block_growth_above": row_drop.block_growth,
    }
    yield result(
        "rows_near_previous_publication", verdict == "pass", metadata, change, ERROR if verdict == "block" else WARN
    )

    # Every exact duplicate repeats an earlier row's key columns: whole rows are compared (a
    # second read) only when that many repeat them.
    limit, duplicates = MAX_SHARE_DUPLICATE_ROWS[color], measured.duplicate_keys
    metadata = {"rows_repeating_key_columns": duplicates, "block_above": limit}
    if _share(duplicates, rows) > limit:
        with staged.path.open("rb") as f:
            duplicates = metadata["duplicate_rows"] = quality.duplicate_rows(_parquet(f).iter_batches(AUDIT_BATCH_ROWS))
    share = _share(duplicates, rows)
    repeated = f"{duplicates:,} of {rows:,} rows ({share:.1%}) repeat an earlier row exactly, more than {limit:.0%}"
    yield result("rows_are_not_duplicated", share <= limit, metadata, share > limit and repeated)

    times = measured.null_times
    missing = "; ".join(f"{name} null in {n:,} of {rows:,} rows" for name, n in times.items() if n)
    metadata = {f"null_{name}": n for name, n in times.items()}
    yield result("pickup_and_dropoff_times_present", not missing, metadata, missing)

    problems = measured.location_problems
    found = "; ".join(
        f"{name}: {counts['outside_zone_range']:,} ids no zone of {zones_from}, {counts['null']:,} null"
        for name, counts in problems.items()
        if any(counts.values())
    )
    metadata = {"problems": dg.MetadataValue.json(problems), "zone_ids_from": zones_from}
    yield result("location_ids_are_taxi_zones", not found, metadata, found)

    bad = ", ".join(f"{name} {n:,}" for name, n in measured.non_finite.items() if n)
    metadata = {"non_finite": dg.MetadataValue.json(measured.non_finite)}
    yield result("floats_are_finite", not bad, metadata, bad and f"NaN or infinite values in {bad} of {rows:,} rows")

    limits = quality.REQUIRED_COLUMNS[color]
    nulls = {name: measured.nulls[name] for name in limits}
    unfilled = "; ".join(
        f"{name} null in {nulls[name]:,} of {rows:,} rows ({_share(nulls[name], rows):.1%}), "
        f"more than the {limits[name]:.1%} allowed for {color}"
        for name in _over(nulls, rows, limits)
    )
    metadata = {"null_rows": dg.MetadataValue.json(nulls), "max_null_share": dg.MetadataValue.json(limits)}
    yield result("required_columns_filled", not unfilled, metadata, unfilled)

    counts = measured.impossible
    words = {"dropoff_before_pickup": "end before they start", "negative_passenger_count": "carry negative passengers"}
    impossible = "; ".join(
        f"{counts[name]:,} of {rows:,} trips ({_share(counts[name], rows):.1%}) {words[name]}, "
        f"more than {MAX_SHARE_IMPOSSIBLE[name]:.0%}"
        for name in _over(counts, rows, MAX_SHARE_IMPOSSIBLE)
    )
    metadata = {**counts, **_shares(counts, rows), "block_above": dg.MetadataValue.json(MAX_SHARE_IMPOSSIBLE)}
    yield result("trips_are_possible", not impossible, metadata, impossible)

    share, blocks = measured.share_outside_month, measured.share_outside_month > OUTSIDE_MONTH_BLOCK
    metadata = {
        "share_outside_month": round(share, 6),
        "threshold": OUTSIDE_MONTH_WARN,
        "block_above": OUTSIDE_MONTH_BLOCK,
    }
    outside = f"{share:.1%} of pickups fall outside {month:%Y-%m}: another month's file under this name?"
    yield result(
        "pickups_within_the_month", share <= OUTSIDE_MONTH_WARN, metadata, blocks and outside, ERROR if blocks else WARN
    )

    counts = measured.implausible
    metadata = {**counts, **_shares(counts, rows), "thresholds": dg.MetadataValue.json(MAX_SHARE_IMPLAUSIBLE)}
    yield result("fares_and_distances_plausible", not _over(counts, rows, MAX_SHARE_IMPLAUSIBLE), metadata, None, WARN)


def _findings(checks: dict[str, dict]) -> list[str]:
    """`check: what it found` of each blocking check that failed with severity ERROR (a WARN lets the month through)."""
    return [
        f"{name}: {check['description']}"
        for name, check in checks.items()
        if check["blocking"] and not check["passed"] and check["severity"] == ERROR.value
    ]


def refuse_publication(log: dg.DagsterLogManager, partition_key: str, findings: list[str]) -> None:
    """Fail the step, no retry, on `findings`, logging `green 2020-05 not published: <check>: <finding>[; ...]`."""
    if findings:
        color, month = split_partition_key(partition_key)
        line = f"{color} {month:%Y-%m} not published: {'; '.join(findings)}"
        log.error(line)
        raise dg.Failure(description=line, allow_retries=False)


def verdict_findings(staged: StagedFile) -> list[str]:
    """Why the latest audit of exactly `staged`'s bytes forbids publishing them: blocking checks failed or not run."""
    try:
        with staged.verdict_path.open("rb") as f:
            checks = json.load(f)["checks"]
    except FileNotFoundError:
        never = f"the staged content {staged.sha256[:12]}… was never audited"
        return [f"{never}: materialize cleaned_trips with its checks (trips_job runs both)"]
    findings = _findings(checks)
    if not findings and (unaudited := sorted(BLOCKING_CHECKS - checks.keys())):
        findings.append(f"not audited by {', '.join(unaudited)}: materialize cleaned_trips with its checks")
    return findings


def build_audit_checks(
    partitions_def: dg.PartitionsDefinition, row_drop: quality.RowDropThresholds
) -> dg.AssetChecksDefinition:
    """The audit of `cleaned_trips` as one check step, the rows held to `row_drop` against the last publication."""
    specs = [
        dg.AssetCheckSpec(name, asset=CLEANED_TRIPS, description=text, blocking=blocking, partitions_def=partitions_def)
        for name, text, blocking in AUDIT_CHECKS
    ]

    @dg.multi_asset_check(specs=specs)
    def audit_cleaned_trips(context: dg.AssetCheckExecutionContext, cleaned_trips: StagedFile, lake: LakeResource):
        """The staged month's schema, rows, timestamps, zones, month and money, from one read of
        it (the zone ids from the lake's zone table when there is one). The verdict is kept beside
        the bytes it examined for `lake_trips_parquet`; a blocked month fails the step saying why."""
        results = list(audit_results(context, cleaned_trips, lake, row_drop))
        yield from results
        checks = {
            r.check_name: {
                "passed": r.passed,
                "severity": r.severity.value,
                "blocking": r.check_name in BLOCKING_CHECKS,
                "description": r.description,
                "metadata": {k: v.value for k, v in r.metadata.items() if isinstance(v.value, int | float | str)},
            }
            for r in results
        }
        findings = _findings(checks)
        verdict = {
            "sha256": cleaned_trips.sha256,
            "partition": context.partition_key,
            "run_id": context.run.run_id,
            "audited_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "publishable": not findings,
            "checks": checks,
        }
        with atomic_writer(cleaned_trips.verdict_path) as f:
            f.write(json.dumps(verdict, indent=2).encode())
        refuse_publication(context.log, context.partition_key, findings)

    return audit_cleaned_trips
