"""Wrong settings and arguments: one line naming what to fix, read from the settings in process
and through the real command line where the process is what is tested."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxi_pipeline.cli import one_line_error
from taxi_pipeline.errors import SettingError
from taxi_pipeline.settings import Settings
from taxi_pipeline_tests.support.runs import cli_env, materialize_command, run_cli

pytestmark = [pytest.mark.faults]

HINT = (
    "Months run 2019-01..2021-07 for yellow, green, fhv (TAXI_SOURCE=course); "
    "the form is color|YYYY-MM-01, e.g. yellow|2021-07-01."
)


def assert_ends_with_one_clear_line(done, line: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1
    assert lines[-1] == line
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    # What else is printed is dagster's own start-up notices (a deprecation of the command, no
    # dagster.yaml), a handful of lines, never a traceback.
    assert len(lines) <= 8, done.stderr


@pytest.mark.parametrize(
    "setting, value, line",
    [
        (
            "TAXI_PIPELINE_TARGET",
            "mainframe",
            "taxi_pipeline: TAXI_PIPELINE_TARGET='mainframe' is not a known target; use one of: local, gcp",
        ),
        (
            "TAXI_SOURCE_URL",
            "ftp://example.org/releases",
            "taxi_pipeline: TAXI_SOURCE_URL must start with http://, https:// or file://, got 'ftp://example.org/releases'",
        ),
        (
            "TAXI_SOURCE_RETRY_DELAY",
            "soon",
            "taxi_pipeline: TAXI_SOURCE_RETRY_DELAY='soon' is not a number of seconds between 0 and 3600",
        ),
        (
            "TAXI_SOURCE_RATE_WINDOW",
            "0",
            "taxi_pipeline: TAXI_SOURCE_RATE_WINDOW='0' is not a number of seconds above 0 and at most 86400",
        ),
        (
            "TAXI_SOURCE_MIN_BYTES",
            "64KiB",
            "taxi_pipeline: TAXI_SOURCE_MIN_BYTES='64KiB' is not a number of bytes between 0 and 1073741824",
        ),
        (
            "TAXI_SOURCE",
            "nyc-open-data",
            "taxi_pipeline: TAXI_SOURCE='nyc-open-data' is not a known source; use one of: course, tlc",
        ),
        (
            "TAXI_DUCKDB_LOCK_WAIT",
            "forever",
            "taxi_pipeline: TAXI_DUCKDB_LOCK_WAIT='forever' is not a number of seconds between 0 and 86400",
        ),
        (
            "TAXI_FIRST_MONTH",
            "2019-01",
            "taxi_pipeline: TAXI_FIRST_MONTH applies to TAXI_SOURCE=tlc; the course's CSV mirror "
            "(TAXI_SOURCE=course) holds exactly 2019-01 to 2021-07: unset TAXI_FIRST_MONTH",
        ),
        (
            "TAXI_DUCKDB_PATH",
            " data/warehouse.duckdb",
            "taxi_pipeline: TAXI_DUCKDB_PATH has spaces or line breaks around its value: remove them",
        ),
    ],
    ids=[
        "unknown-target",
        "source-scheme",
        "retry-delay",
        "rate-window",
        "min-bytes",
        "unknown-source",
        "duckdb-lock-wait",
        "first-month-of-the-course",
        "spaces-around-a-value-passed-by-name",
    ],
)
def test_a_wrong_setting_is_refused_in_one_line_naming_it(setting, value, line, tmp_path, release_url):
    environ = {"TAXI_LAKE_DIR": str(tmp_path / "lake"), "TAXI_SOURCE_URL": release_url, setting: value}
    with pytest.raises(SettingError) as refused:
        Settings.from_environment(environ)

    assert one_line_error(refused.value) == line
    assert not (tmp_path / "lake").exists()


@pytest.mark.cli
def test_a_wrong_setting_ends_the_cli_with_one_line_naming_it(tmp_path, release_url):
    done = run_cli(
        materialize_command("fhv|2019-01-01"), cli_env(tmp_path, release_url, TAXI_PIPELINE_TARGET="mainframe")
    )

    assert_ends_with_one_clear_line(
        done, "taxi_pipeline: TAXI_PIPELINE_TARGET='mainframe' is not a known target; use one of: local, gcp"
    )
    assert not (tmp_path / "lake").exists() and not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.parametrize("setting", ["TAXI_LAKE_DIR", "TAXI_DUCKDB_PATH"])
def test_a_lake_or_warehouse_path_under_a_file_is_refused_naming_the_setting(setting, tmp_path, release_url):
    # A real mechanism that denies the write even to root: a parent that is a regular file.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    value = str(blocker / "lake") if setting == "TAXI_LAKE_DIR" else str(blocker / "warehouse.duckdb")
    environ = {"TAXI_LAKE_DIR": str(tmp_path / "lake"), "TAXI_SOURCE_URL": release_url, setting: value}

    with pytest.raises(SettingError) as refused:
        Settings.from_environment(environ)

    assert one_line_error(refused.value) == (
        f"taxi_pipeline: {setting}={value!r} cannot be created: {blocker} is a file, not a folder"
    )


@pytest.mark.cli
@pytest.mark.parametrize(
    "key, why",
    [
        ("purple|2020-04-01", "purple is not one of the colors"),
        ("green|2020-04-01/../../etc", "it is not of the form color|YYYY-MM-01"),
    ],
)
def test_a_bad_partition_key_names_why_and_the_key_format(key, why, tmp_path, release_url):
    done = run_cli(materialize_command(key), cli_env(tmp_path, release_url))

    assert_ends_with_one_clear_line(done, f"Error: {key!r} is not a partition of the trip assets: {why}. {HINT}")


@pytest.mark.parametrize(
    ("make_file", "kind"),
    [
        (lambda path: pq.write_table(pa.table({"fare_amount": [5.5]}), path), "a parquet file"),
        (lambda path: path.write_text("VendorID,fare_amount\n2,5.5\n"), "not a DuckDB database"),
        (lambda path: path.touch(), "an empty file"),
    ],
    ids=["parquet", "csv", "empty"],
)
def test_a_duckdb_path_naming_another_kind_of_file_is_refused_and_left_alone(make_file, kind, tmp_path):
    duckdb_path = tmp_path / "warehouse.duckdb"
    make_file(duckdb_path)
    before = duckdb_path.read_bytes()

    with pytest.raises(SettingError, match=f"^TAXI_DUCKDB_PATH={str(duckdb_path)!r} is {kind}") as refused:
        Settings.from_environment({"TAXI_DUCKDB_PATH": str(duckdb_path), "TAXI_LAKE_DIR": str(tmp_path / "lake")})

    assert "\n" not in str(refused.value)
    assert duckdb_path.read_bytes() == before


def test_an_existing_duckdb_file_is_accepted(tmp_path):
    duckdb_path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(duckdb_path)).close()
    settings = Settings.from_environment({"TAXI_DUCKDB_PATH": str(duckdb_path), "TAXI_LAKE_DIR": str(tmp_path)})
    assert settings.duckdb_path == str(duckdb_path)
