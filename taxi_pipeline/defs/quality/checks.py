"""The audit of write-audit-publish: data-quality checks of the staged month (`cleaned_trips`),
partitioned like it. The schema, rows, timestamps, zones, duplicates, finite floats, required
columns and possible trips checks block: a month that fails them is never published to the lake
nor loaded into the warehouse. Two checks warn on a small deviation and block on a large one: the
month's rows against its previous publication (fewer or more), and the share of pickups outside
the month."""

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from taxi_pipeline.defs.lake.files import ZONES_FILE, StagedFile
from taxi_pipeline.defs.lake.resources import LakeResource
from taxi_pipeline.defs.quality.verdict import not_published_line, record_verdict
from taxi_pipeline.lib.quality import (
    DEFAULT_ROW_DROP,
    FIRST_ZONE,
    LAST_ZONE,
    REQUIRED_COLUMNS,
    MonthMeasures,
    RowDropThresholds,
    audit_columns,
    duplicate_rows,
    measure_month,
    row_drop_share,
    row_drop_verdict,
    row_growth_share,
    schema_differences,
)
from taxi_pipeline.lib.zones import read_zone_file
from taxi_pipeline.partitions import split_partition_key
from taxi_pipeline.schema import SCHEMA_VERSION, schema_version

# The checks run as one step that reads the staged file's columns once: a step per check costs
# more in Dagster's per-step overhead than the checks themselves.
MAX_SHARE_OUTSIDE_MONTH = 0.01
# Most pickups outside the month is another month's file under this month's name: it blocks.
BLOCK_SHARE_OUTSIDE_MONTH = 0.5
# Published months have up to ~5% zero-distance trips (green 2020-04: 4.9%) and under 1%
# negative fares (refunds): well above that, the file is broken.
MAX_SHARE_IMPLAUSIBLE = {"negative_fare_amount": 0.02, "negative_total_amount": 0.02, "zero_trip_distance": 0.10}
# Shares of a month's rows that block. Measured on every real month bundled or in ../shared/data
# (`python -m benchmarks.audit_shares`; course CSV: green 2020-04, yellow 2021-01 head, fhv 2019-01
# and 2020-01 heads; TLC parquet: green 2022-01, 2023-02, 2025-11, yellow 2025-01 head, the four
# services' 2020-04 samples): no row repeats another exactly (24 green 2020-04 trips, 0.07%, share
# their key columns), no NaN or infinity, at most 0.0064% drop-offs before the pickup (green
# 2025-11: 3 of 46,912), no negative passenger count. fhv writes minute-rounded times and often
# no zone, so distinct trips of one base can be equal rows (unmeasured beyond the heads): it gets
# more room. Every row twice is 50%.
MAX_SHARE_DUPLICATE_ROWS = {"yellow": 0.01, "green": 0.01, "fhv": 0.10, "fhvhv": 0.01}
MAX_SHARE_IMPOSSIBLE = {"dropoff_before_pickup": 0.01, "negative_passenger_count": 0.01}
IMPOSSIBLE_WORDS = {
    "dropoff_before_pickup": "end before they start",
    "negative_passenger_count": "carry negative passengers",
}
# The staged file is read a batch at a time: a whole 7 M-row yellow month of its audit_columns is ~0.8 GiB.
AUDIT_BATCH_ROWS = 256 * 1024
AUDIT_READ_BUFFER_BYTES = 8 << 20


CLEANED_TRIPS = dg.AssetKey("cleaned_trips")
# The month as last published: its rows are what a re-published month is compared with.
LAKE_TRIPS = dg.AssetKey("lake_trips_parquet")
# (name, description, blocking) of each check; a blocking check that fails with severity WARN
# does not block (Dagster blocks on ERROR only).
AUDIT_CHECKS = [
    ("schema_is_canonical", "The staged parquet schema equals the canonical schema, column for column", True),
    ("month_has_rows", "The month holds at least one trip", True),
    (
        "rows_near_previous_publication",
        "The month keeps most of the rows of its previous publication to the lake (warns on a drop "
        "above TAXI_ROW_DROP_WARN, 10% by default; blocks above TAXI_ROW_DROP_BLOCK, 50%) and does not "
        "grow far beyond them (warns above TAXI_ROW_GROWTH_WARN, 10% more; blocks above "
        "TAXI_ROW_GROWTH_BLOCK, 50% more: every row twice is 100%)",
        True,
    ),
    (
        "rows_are_not_duplicated",
        "At most 1% of the rows (fhv 10%) repeat an earlier row exactly (the real months measured hold none)",
        True,
    ),
    ("pickup_and_dropoff_times_present", "No trip lacks its pickup or drop-off time", True),
    (
        "location_ids_are_taxi_zones",
        "Pickup and drop-off locations are zones of the zone table in the lake (raw/misc/taxi_zone_lookup.csv), "
        "or TLC zones 1..265 when none is loaded (fhv may leave them empty)",
        True,
    ),
    ("floats_are_finite", "No floating point column holds NaN or infinity", True),
    (
        "required_columns_filled",
        "The service's required columns are filled: pickup and drop-off times always; location ids "
        "(yellow, green, fhvhv; fhv on some trips at least); fare and total (yellow, green) but for 0.1%",
        True,
    ),
    (
        "trips_are_possible",
        "At most 1% of trips end before they start or carry a negative passenger count",
        True,
    ),
    (
        "pickups_within_the_month",
        "Few pickups fall outside the file's month (the source has some: above 1% warns; "
        "above half, another month's file under this name, blocks)",
        True,
    ),
    (
        "fares_and_distances_plausible",
        "Few trips have a negative fare or total, or zero distance (all kept as published; many means a broken file)",
        False,
    ),
]
AUDIT_CHECK_NAMES = [name for name, _, _ in AUDIT_CHECKS]
BLOCKING_CHECKS = {name for name, _, blocking in AUDIT_CHECKS if blocking}


def audit_check_specs(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """The audit's checks of `cleaned_trips`, partitioned like it."""
    return [
        dg.AssetCheckSpec(
            name, asset=CLEANED_TRIPS, description=description, blocking=blocking, partitions_def=partitions_def
        )
        for name, description, blocking in AUDIT_CHECKS
    ]


def _result(
    name: str, passed: bool, severity: dg.AssetCheckSeverity, metadata: dict, description: str | None = None
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=CLEANED_TRIPS,
        check_name=name,
        passed=passed,
        severity=severity,
        metadata=metadata,
        description=description,
    )


NO_ZONE_TABLE = f"{FIRST_ZONE}..{LAST_ZONE} (no zone table loaded)"


def lake_zone_ids(lake: LakeResource) -> tuple[list[int] | None, str]:
    """The zone ids of the lake's zone table and where they came from, or (None, "1..265 (no
    zone table loaded)") when `taxi_zones` has not put one there yet."""
    path = lake.root() / ZONES_FILE
    if not path.exists():
        return None, NO_ZONE_TABLE
    return read_zone_file(path).ids, str(path)


def previous_published_rows(instance: dg.DagsterInstance, partition_key: str) -> int | None:
    """The `dagster/row_count` of the partition's latest `lake_trips_parquet` materialization (the
    month as last published), or None when it was never published."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=LAKE_TRIPS, asset_partitions=[partition_key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get("dagster/row_count")
    return None if value is None else int(value.value)


def row_drop_result(previous: int | None, rows: int, thresholds: RowDropThresholds) -> dg.AssetCheckResult:
    """`rows_near_previous_publication`: passes without a previous publication, warns or blocks
    (severity ERROR) on a drop or a growth above the thresholds."""
    share, growth = row_drop_share(previous, rows), row_growth_share(previous, rows)
    verdict = row_drop_verdict(share, thresholds, growth)
    severity = dg.AssetCheckSeverity.ERROR if verdict == "block" else dg.AssetCheckSeverity.WARN
    metadata = {
        "rows": rows,
        "previous_rows": previous if previous is not None else "never published",
        "drop_share": round(share, 6),
        "warn_above": thresholds.warn_share,
        "block_above": thresholds.block_share,
        "growth_share": round(growth, 6),
        "warn_growth_above": thresholds.warn_growth,
        "block_growth_above": thresholds.block_growth,
    }
    description = None
    if verdict != "pass" and growth:
        description = f"{rows:,} rows, {growth:.1%} more than the {previous:,} last published" + (
            "; every row twice? If the source really grew, raise TAXI_ROW_GROWTH_BLOCK" if verdict == "block" else ""
        )
    elif verdict != "pass":
        description = f"{rows:,} rows, {share:.1%} fewer than the {previous:,} last published" + (
            "; if the source really shrank, raise TAXI_ROW_DROP_BLOCK" if verdict == "block" else ""
        )
    return _result("rows_near_previous_publication", verdict == "pass", severity, metadata, description)


def _share(count: int, rows: int) -> float:
    return count / rows if rows else 0.0


def _parquet(f) -> pq.ParquetFile:
    # Buffered reads, not whole column chunks: a row group of the staged file can hold millions of rows.
    return pq.ParquetFile(f, buffer_size=AUDIT_READ_BUFFER_BYTES, pre_buffer=False)


def duplicates_result(measured: MonthMeasures, staged: UPath, color: str) -> dg.AssetCheckResult:
    """`rows_are_not_duplicated`: blocks when more than the service's `MAX_SHARE_DUPLICATE_ROWS`
    of the rows repeat an earlier row exactly. Whole rows are compared (a second read of
    `staged`) only when that many repeat an earlier row's key columns, as every exact duplicate does."""
    rows, keys, limit = measured.rows, measured.duplicate_keys, MAX_SHARE_DUPLICATE_ROWS[color]
    metadata = {"rows_repeating_key_columns": keys, "block_above": limit}
    duplicates = keys
    if _share(keys, rows) > limit:
        with staged.open("rb") as f:
            duplicates = metadata["duplicate_rows"] = duplicate_rows(_parquet(f).iter_batches(AUDIT_BATCH_ROWS))
    share = _share(duplicates, rows)
    passed = share <= limit
    description = None
    if not passed:
        description = (
            f"{duplicates:,} of {rows:,} rows ({share:.1%}) repeat an earlier row exactly, more than {limit:.0%}"
        )
    return _result("rows_are_not_duplicated", passed, dg.AssetCheckSeverity.ERROR, metadata, description)


def finite_floats_result(measured: MonthMeasures) -> dg.AssetCheckResult:
    """`floats_are_finite`: blocks on any NaN or infinity in a floating point column."""
    bad = {name: count for name, count in measured.non_finite.items() if count}
    description = None
    if bad:
        counts = ", ".join(f"{name} {count:,}" for name, count in bad.items())
        description = f"NaN or infinite values in {counts} of {measured.rows:,} rows"
    metadata = {"non_finite": dg.MetadataValue.json(measured.non_finite)}
    return _result("floats_are_finite", not bad, dg.AssetCheckSeverity.ERROR, metadata, description)


def _over_limits(counts: dict[str, int], rows: int, limits: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """The share of `rows` each count is, and the names whose share is above its limit."""
    shares = {name: _share(count, rows) for name, count in counts.items()}
    return shares, [name for name, share in shares.items() if share > limits[name]]


def required_columns_result(measured: MonthMeasures, color: str) -> dg.AssetCheckResult:
    """`required_columns_filled`: blocks when a column the service requires holds more nulls
    than `REQUIRED_COLUMNS` allows it (fhv: when no trip has a location id)."""
    limits, rows = REQUIRED_COLUMNS[color], measured.rows
    shares, over = _over_limits({name: measured.nulls[name] for name in limits}, rows, limits)
    description = None
    if over:
        description = "; ".join(
            f"{name} null in {measured.nulls[name]:,} of {rows:,} rows ({shares[name]:.1%}), "
            f"more than the {limits[name]:.1%} allowed for {color}"
            for name in over
        )
    metadata = {
        "null_rows": dg.MetadataValue.json({name: measured.nulls[name] for name in limits}),
        "max_null_share": dg.MetadataValue.json(limits),
    }
    return _result("required_columns_filled", not over, dg.AssetCheckSeverity.ERROR, metadata, description)


def possible_trips_result(measured: MonthMeasures) -> dg.AssetCheckResult:
    """`trips_are_possible`: blocks when more than `MAX_SHARE_IMPOSSIBLE` of the trips end
    before they start or carry a negative passenger count."""
    counts, rows = measured.impossible, measured.rows
    shares, over = _over_limits(counts, rows, MAX_SHARE_IMPOSSIBLE)
    description = None
    if over:
        description = "; ".join(
            f"{counts[name]:,} of {rows:,} trips ({shares[name]:.1%}) {IMPOSSIBLE_WORDS[name]}, "
            f"more than {MAX_SHARE_IMPOSSIBLE[name]:.0%}"
            for name in over
        )
    metadata = {
        **counts,
        **{f"share_{name}": round(share, 6) for name, share in shares.items()},
        "block_above": dg.MetadataValue.json(MAX_SHARE_IMPOSSIBLE),
    }
    return _result("trips_are_possible", not over, dg.AssetCheckSeverity.ERROR, metadata, description)


def audit_results(
    context: dg.AssetCheckExecutionContext,
    cleaned_trips: UPath,
    lake: LakeResource,
    row_drop: RowDropThresholds = DEFAULT_ROW_DROP,
):
    """The staged month's schema, rows, timestamps, zones, month and money, from one read of it,
    and its rows against the month's previous publication; the zone ids come from the lake's
    zone table (~12 KB) when there is one."""
    error, warn = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
    color, month = split_partition_key(context.partition_key)
    with cleaned_trips.open("rb") as f:
        schema = pq.read_schema(f)
    version, differences = schema_version(schema), schema_differences(schema)
    metadata = {"schema_version": version or "none", "differences": dg.MetadataValue.json(differences)}
    if version is not None and version < SCHEMA_VERSION:
        # A file staged by an older release: it still publishes and loads (the newer columns
        # read null), so it warns instead of blocking; re-materializing rewrites it.
        description = (
            f"schema version {version} of {SCHEMA_VERSION}: an older release wrote this file; "
            "materialize cleaned_trips again to rewrite it"
        )
        yield _result("schema_is_canonical", False, warn, metadata, description)
    else:
        description = f"the schema differs from the canonical one: {'; '.join(differences)}"
        yield _result("schema_is_canonical", not differences, error, metadata, description if differences else None)
    if version is None:  # the other checks need the canonical columns
        return

    zone_ids, zone_ids_from = lake_zone_ids(lake)
    with cleaned_trips.open("rb") as f:
        staged = _parquet(f)
        batches = staged.iter_batches(batch_size=AUDIT_BATCH_ROWS, columns=audit_columns(staged.metadata))
        measured = measure_month(batches, color, month, zone_ids)
    # The load runs next in this process: give back the batches' buffers Arrow's allocator keeps.
    pa.default_memory_pool().release_unused()
    empty = "0 rows: the file holds no trip" if not measured.rows else None
    yield _result("month_has_rows", measured.rows > 0, error, {"rows": measured.rows}, empty)
    previous = previous_published_rows(context.instance, context.partition_key)
    yield row_drop_result(previous, measured.rows, row_drop)
    yield duplicates_result(measured, cleaned_trips, color)

    missing = {name: count for name, count in measured.null_times.items() if count}
    yield _result(
        "pickup_and_dropoff_times_present",
        not missing,
        error,
        {f"null_{name}": count for name, count in measured.null_times.items()},
        "; ".join(f"{name} null in {n:,} of {measured.rows:,} rows" for name, n in missing.items())
        if missing
        else None,
    )

    problems = measured.location_problems
    found = [
        f"{name}: {counts['outside_zone_range']:,} ids no zone of {zone_ids_from}, {counts['null']:,} null"
        for name, counts in problems.items()
        if any(counts.values())
    ]
    yield _result(
        "location_ids_are_taxi_zones",
        not found,
        error,
        {"problems": dg.MetadataValue.json(problems), "zone_ids_from": zone_ids_from},
        "; ".join(found) if found else None,
    )
    yield finite_floats_result(measured)
    yield required_columns_result(measured, color)
    yield possible_trips_result(measured)

    share = measured.share_outside_month
    yield _result(
        "pickups_within_the_month",
        share <= MAX_SHARE_OUTSIDE_MONTH,
        error if share > BLOCK_SHARE_OUTSIDE_MONTH else warn,
        {
            "share_outside_month": round(share, 6),
            "threshold": MAX_SHARE_OUTSIDE_MONTH,
            "block_above": BLOCK_SHARE_OUTSIDE_MONTH,
        },
        (
            f"{share:.1%} of pickups fall outside {month:%Y-%m}: another month's file under this name?"
            if share > BLOCK_SHARE_OUTSIDE_MONTH
            else None
        ),
    )

    counts = measured.implausible
    shares = {name: count / measured.rows if measured.rows else 0.0 for name, count in counts.items()}
    yield _result(
        "fares_and_distances_plausible",
        all(shares[name] <= MAX_SHARE_IMPLAUSIBLE[name] for name in counts),
        warn,
        {
            **counts,
            **{f"share_{name}": round(share, 6) for name, share in shares.items()},
            "thresholds": dg.MetadataValue.json(MAX_SHARE_IMPLAUSIBLE),
        },
    )


def build_audit_checks(
    partitions_def: dg.PartitionsDefinition, row_drop: RowDropThresholds = DEFAULT_ROW_DROP
) -> dg.AssetChecksDefinition:
    """The audit of `cleaned_trips` as one check step over `partitions_def`, a month's rows held
    to `row_drop` against its previous publication."""

    @dg.multi_asset_check(specs=audit_check_specs(partitions_def))
    def audit_cleaned_trips(context: dg.AssetCheckExecutionContext, cleaned_trips: StagedFile, lake: LakeResource):
        """The staged month's schema, rows, timestamps, zones, month and money, from one read of
        it; the zone ids come from the lake's zone table (~12 KB) when there is one. Each result
        names the bytes it examined (`staged_sha256`), and the verdict is kept beside them for
        `lake_trips_parquet`; a blocked month fails the step with one line saying why."""
        results = [
            _with_metadata(result, {"staged_sha256": cleaned_trips.sha256})
            for result in audit_results(context, cleaned_trips.path, lake, row_drop)
        ]
        yield from results
        findings = record_verdict(cleaned_trips, context.partition_key, context.run.run_id, results, BLOCKING_CHECKS)
        if findings:
            line = not_published_line(context.partition_key, findings)
            context.log.error(line)
            raise dg.Failure(description=line, allow_retries=False)

    return audit_cleaned_trips


def _with_metadata(result: dg.AssetCheckResult, metadata: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        severity=result.severity,
        metadata={**result.metadata, **metadata},
        description=result.description,
    )
