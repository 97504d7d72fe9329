from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from upath import UPath

from taxi_pipeline.defs.lake.files import StagedFile, atomic_writer, file_sha256, publish, publish_verified
from taxi_pipeline.defs.lake.io_managers import (
    RawFileIOManagerFactory,
    StagingIOManagerFactory,
    TripsParquetIOManagerFactory,
    to_canonical_table,
)
from taxi_pipeline.defs.lake.resources import LocalLake
from taxi_pipeline.errors import PermanentError
from taxi_pipeline.partitions import course_partitions
from taxi_pipeline.schema import CANONICAL_SCHEMA
from taxi_pipeline_tests.support.files import leftovers
from taxi_pipeline_tests.support.trips import cleaned_sample

TEMPLATE = "data/{color}/{color}_tripdata_{month}.parquet"


def test_parquet_io_manager_writes_the_course_layout_and_reads_back(tmp_path):
    seen = {}

    @dg.asset(partitions_def=course_partitions, io_manager_key="lake")
    def trips() -> pd.DataFrame:
        return cleaned_sample("fhv", "2019-01").to_pandas(types_mapper=pd.ArrowDtype)

    @dg.asset(partitions_def=course_partitions)
    def as_frame(trips: pd.DataFrame) -> None:
        seen["frame"] = trips

    @dg.asset(partitions_def=course_partitions)
    def as_path(trips: UPath) -> None:
        seen["path"] = trips

    io_manager = TripsParquetIOManagerFactory(lake=LocalLake(base_path=str(tmp_path)), path_template=TEMPLATE)
    result = dg.materialize([trips, as_frame, as_path], partition_key="fhv|2019-01-01", resources={"lake": io_manager})

    expected = tmp_path / "data/fhv/fhv_tripdata_2019-01.parquet"
    assert result.success
    assert pq.read_schema(expected).remove_metadata() == CANONICAL_SCHEMA
    assert pq.read_metadata(expected).row_group(0).column(0).compression == "ZSTD"
    assert len(seen["frame"]) == 18 and isinstance(seen["frame"]["pickup_datetime"].dtype, pd.ArrowDtype)
    assert Path(seen["path"].path) == expected
    metadata = result.asset_materializations_for_node("trips")[0].metadata
    assert metadata["bytes"].value == expected.stat().st_size
    assert metadata["path"].value == str(expected)
    assert leftovers(tmp_path) == []


def test_raw_file_io_manager_moves_the_local_file_into_the_raw_zone(tmp_path):
    download = tmp_path / "download.part"
    download.write_bytes(b"csv bytes")
    seen = {}

    @dg.asset(partitions_def=course_partitions, io_manager_key="raw")
    def raw() -> Path:
        return download

    @dg.asset(partitions_def=course_partitions)
    def reader(raw: UPath) -> None:
        seen["path"] = raw

    io_manager = RawFileIOManagerFactory(
        lake=LocalLake(base_path=str(tmp_path / "lake")), path_template="raw/{color}/{color}_tripdata_{month}.csv.gz"
    )
    assert dg.materialize([raw, reader], partition_key="green|2020-04-01", resources={"raw": io_manager}).success

    stored = tmp_path / "lake/raw/green/green_tripdata_2020-04.csv.gz"
    assert stored.read_bytes() == b"csv bytes"
    assert not download.exists()
    assert Path(seen["path"]) == stored


def test_atomic_writer_keeps_the_previous_file_when_the_write_fails(tmp_path):
    target = UPath(tmp_path / "data.parquet")
    target.write_bytes(b"previous complete file")

    with pytest.raises(RuntimeError, match="crash"):
        with atomic_writer(target) as f:
            f.write(b"half of a new fi")
            raise RuntimeError("crash mid-write")

    assert target.read_bytes() == b"previous complete file"
    assert leftovers(tmp_path) == []


def test_atomic_writer_leaves_no_file_when_there_was_none(tmp_path):
    target = UPath(tmp_path / "data.parquet")

    with pytest.raises(RuntimeError):
        with atomic_writer(target) as f:
            f.write(b"partial")
            raise RuntimeError("crash")

    assert list(tmp_path.iterdir()) == []


def test_publish_by_move_replaces_the_file_whole(tmp_path):
    (tmp_path / "raw").mkdir()
    target = UPath(tmp_path / "raw" / "f.csv.gz")
    target.write_bytes(b"old")
    new = tmp_path / "new"
    new.write_bytes(b"new contents")

    publish(new, target)

    assert target.read_bytes() == b"new contents"
    assert leftovers(tmp_path) == []


def test_to_canonical_table_names_a_missing_column():
    table = cleaned_sample("fhv", "2019-01").drop_columns(["sr_flag"])

    with pytest.raises(PermanentError, match="sr_flag"):
        to_canonical_table(table)


def test_to_canonical_table_names_a_column_of_the_wrong_type():
    table = cleaned_sample("fhv", "2019-01")
    table = table.set_column(table.schema.get_field_index("sr_flag"), "sr_flag", table["sr_flag"].cast(pa.int64()))

    with pytest.raises(PermanentError, match="'sr_flag' is int64, expected int32"):
        to_canonical_table(table)


def test_to_canonical_table_orders_columns_canonically():
    table = cleaned_sample("fhv", "2019-01")
    shuffled = table.select(list(reversed(table.column_names)))

    assert to_canonical_table(shuffled).equals(table)


def test_a_verified_publication_keeps_the_source_and_shares_its_bytes(tmp_path):
    staged = tmp_path / "staging" / "f.parquet"
    staged.parent.mkdir()
    pq.write_table(cleaned_sample("fhv", "2019-01"), staged)
    target = UPath(tmp_path / "data" / "f.parquet")
    target.parent.mkdir()

    publish_verified(UPath(staged), target, file_sha256(staged))

    assert target.read_bytes() == staged.read_bytes()
    assert staged.stat().st_ino == Path(target.path).stat().st_ino  # a hard link: no second copy on disk
    assert leftovers(tmp_path) == []


def test_a_republished_staging_file_leaves_the_published_one_as_it_was(tmp_path):
    # Staging files are replaced by rename, never rewritten in place, so a hard-linked lake
    # file keeps its bytes when the month is staged again.
    staged = tmp_path / "f.staged"
    staged.write_bytes(b"first")
    target = UPath(tmp_path / "f.published")
    publish_verified(UPath(staged), target, file_sha256(staged))

    again = tmp_path / "again"
    again.write_bytes(b"second")
    publish(again, UPath(staged))

    assert staged.read_bytes() == b"second" and target.read_bytes() == b"first"


def staged_sample(tmp_path, table=None) -> StagedFile:
    """A staged file of fhv 2019-01 (or `table`), as `cleaned_trips` hands it to its IO manager."""
    path = tmp_path / "staged.parquet"
    pq.write_table(cleaned_sample("fhv", "2019-01") if table is None else table, path)
    return StagedFile(UPath(path), file_sha256(path), "course")


def test_a_parquet_of_another_schema_is_refused_naming_the_difference(tmp_path):
    staged = staged_sample(tmp_path, cleaned_sample("fhv", "2019-01").drop_columns(["sr_flag"]))

    @dg.asset(partitions_def=course_partitions, io_manager_key="staging")
    def cleaned() -> StagedFile:
        return staged

    io_manager = StagingIOManagerFactory(lake=LocalLake(base_path=str(tmp_path / "lake")), path_template=TEMPLATE)
    with pytest.raises(PermanentError, match=r"staged\.parquet is not a canonical trip file: missing column sr_flag"):
        dg.materialize([cleaned], partition_key="fhv|2019-01-01", resources={"staging": io_manager})


def test_the_parquet_io_manager_publishes_a_staged_file_keeping_it(tmp_path):
    staged = staged_sample(tmp_path)

    @dg.asset(partitions_def=course_partitions, io_manager_key="lake")
    def published() -> StagedFile:
        return staged

    io_manager = TripsParquetIOManagerFactory(lake=LocalLake(base_path=str(tmp_path / "lake")), path_template=TEMPLATE)
    assert dg.materialize([published], partition_key="fhv|2019-01-01", resources={"lake": io_manager}).success

    assert pq.read_table(tmp_path / "lake/data/fhv/fhv_tripdata_2019-01.parquet").num_rows == 18
    assert staged.path.exists()


def test_the_staging_io_manager_moves_a_staged_file_in_under_its_sha256(tmp_path):
    staged = staged_sample(tmp_path)

    @dg.asset(partitions_def=course_partitions, io_manager_key="staging")
    def cleaned() -> StagedFile:
        return staged

    folder = "staging/{color}/{color}_tripdata_{month}"
    io_manager = StagingIOManagerFactory(lake=LocalLake(base_path=str(tmp_path / "lake")), path_template=folder)
    assert dg.materialize([cleaned], partition_key="fhv|2019-01-01", resources={"staging": io_manager}).success

    stored = tmp_path / f"lake/staging/fhv/fhv_tripdata_2019-01/{staged.sha256}.parquet"
    assert pq.read_table(stored).num_rows == 18
    assert not staged.path.exists()


def test_a_file_of_another_schema_never_reaches_the_lake(tmp_path):
    staged = staged_sample(tmp_path, cleaned_sample("fhv", "2019-01").drop_columns(["sr_flag"]))

    @dg.asset(partitions_def=course_partitions, io_manager_key="staging")
    def cleaned() -> StagedFile:
        return staged

    folder = "staging/{color}/{color}_tripdata_{month}"
    io_manager = StagingIOManagerFactory(lake=LocalLake(base_path=str(tmp_path / "lake")), path_template=folder)
    result = dg.materialize(
        [cleaned], partition_key="fhv|2019-01-01", resources={"staging": io_manager}, raise_on_error=False
    )

    assert not result.success
    assert not (tmp_path / "lake/staging/fhv").exists() or not any((tmp_path / "lake/staging/fhv").rglob("*"))
    assert staged.path.exists()


def test_a_downstream_asset_loads_several_partitions_each_from_its_own_file(tmp_path):
    """`get_path_for_partition` places the partition it is given, not the run's: an unpartitioned
    reader of two months gets each month's own file."""
    months = {"fhv|2019-01-01": date(2019, 1, 1), "fhv|2019-02-01": date(2019, 2, 1)}

    @dg.asset(partitions_def=course_partitions, io_manager_key="lake")
    def trips(context: dg.AssetExecutionContext) -> pa.Table:
        return cleaned_sample("fhv", "2019-01", as_month=months[context.partition_key])

    seen = {}

    @dg.asset(
        ins={"trips": dg.AssetIn(partition_mapping=dg.SpecificPartitionsPartitionMapping(list(months)))},
        io_manager_key="mem",
    )
    def both_months(trips: dict[str, UPath]) -> None:
        seen.update(trips)

    io_manager = TripsParquetIOManagerFactory(lake=LocalLake(base_path=str(tmp_path)), path_template=TEMPLATE)
    resources = {"lake": io_manager, "mem": dg.InMemoryIOManager()}
    for key in months:
        assert dg.materialize([trips], partition_key=key, resources=resources).success
    assert dg.materialize([trips, both_months], selection=[both_months], resources=resources).success

    assert {key: Path(path.path).name for key, path in seen.items()} == {
        "fhv|2019-01-01": "fhv_tripdata_2019-01.parquet",
        "fhv|2019-02-01": "fhv_tripdata_2019-02.parquet",
    }
    assert {key: pq.read_table(Path(path.path))["source_month"][0].as_py() for key, path in seen.items()} == months


def test_a_relative_lake_folder_gives_absolute_paths_in_the_metadata(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    download = tmp_path / "download.part"
    download.write_bytes(b"csv bytes")

    @dg.asset(partitions_def=course_partitions, io_manager_key="raw")
    def raw() -> Path:
        return download

    io_manager = RawFileIOManagerFactory(
        lake=LocalLake(base_path="data/lake"), path_template="raw/{color}/{color}_tripdata_{month}.csv.gz"
    )
    result = dg.materialize([raw], partition_key="green|2020-04-01", resources={"raw": io_manager})

    [materialization] = result.asset_materializations_for_node("raw")
    assert materialization.metadata["path"].value == str(tmp_path / "data/lake/raw/green/green_tripdata_2020-04.csv.gz")
