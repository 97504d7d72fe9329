"""`python -m taxi_pipeline.defs.report --year`: a year's months and a total per color, read from a
real DuckDB warehouse loaded with the bundled months."""

import os
import sys
from datetime import date

import pytest
from dagster_duckdb import DuckDBResource

from taxi_pipeline.defs.report.__main__ import main
from taxi_pipeline.defs.warehouse.duckdb import DuckDBWarehouse
from taxi_pipeline_tests.support.files import write_parquet
from taxi_pipeline_tests.support.png import png_size
from taxi_pipeline_tests.support.runs import cli_env, run_cli
from taxi_pipeline_tests.support.samples import SAMPLE_ROWS
from taxi_pipeline_tests.support.trips import cleaned_sample

GREEN_2020_04 = SAMPLE_ROWS["green|2020-04-01"]  # 35,612: the whole published month
YELLOW_2021_01 = SAMPLE_ROWS["yellow|2021-01-01"]  # 22,792
FHV_2019_01 = SAMPLE_ROWS["fhv|2019-01-01"]  # 18
FHV_2020_01 = SAMPLE_ROWS["fhv|2020-01-01"]  # 16


@pytest.fixture
def environment(tmp_path, monkeypatch) -> dict[str, str]:
    """The local target's settings, the lake and the DuckDB file in tmp, as the command reads them."""
    for name in [n for n in os.environ if n.startswith("TAXI_")]:
        monkeypatch.delenv(name)
    env = {"TAXI_LAKE_DIR": str(tmp_path / "lake"), "TAXI_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def loaded(environment, tmp_path) -> None:
    """The bundled months loaded into the DuckDB file, and fhv 2019-01's head once more as fhv
    2020-02, so that one color of 2020 has two months to add up."""
    warehouse = DuckDBWarehouse(duckdb_resource=DuckDBResource(database=environment["TAXI_DUCKDB_PATH"]))
    for color, sample, month in (
        ("green", "2020-04", date(2020, 4, 1)),
        ("yellow", "2021-01", date(2021, 1, 1)),
        ("fhv", "2019-01", date(2019, 1, 1)),
        ("fhv", "2020-01", date(2020, 1, 1)),
        ("fhv", "2019-01", date(2020, 2, 1)),
    ):
        lake = write_parquet(cleaned_sample(color, sample, month), tmp_path / f"{color}-{month:%Y-%m}.parquet")
        warehouse.load_slice(lake, color, month)


def report(capsys, *argv: str) -> list[str]:
    main(list(argv))
    return capsys.readouterr().out.splitlines()


def test_a_year_prints_its_months_and_a_total_per_color(loaded, capsys):
    assert report(capsys, "--year", "2020") == [
        "color    month            rows",
        "fhv      2020-01            16",
        "fhv      2020-02            18",
        "fhv      total              34  (2 months of 2020)",
        "green    2020-04        35,612",
        "green    total          35,612  (1 month of 2020)",
        f"total 2020        {FHV_2020_01 + FHV_2019_01 + GREEN_2020_04:>12,}",
    ]
    assert report(capsys, "--year", "2021") == [
        "color    month            rows",
        "yellow   2021-01        22,792",
        "yellow   total          22,792  (1 month of 2021)",
        f"total 2021        {YELLOW_2021_01:>12,}",
    ]


def test_without_a_year_every_slice_is_printed_as_before(loaded, capsys):
    assert report(capsys) == [
        "color    month            rows",
        "fhv      2019-01            18",
        "fhv      2020-01            16",
        "fhv      2020-02            18",
        "green    2020-04        35,612",
        "yellow   2021-01        22,792",
        f"total             {FHV_2019_01 + FHV_2020_01 + FHV_2019_01 + GREEN_2020_04 + YELLOW_2021_01:>12,}",
    ]


def test_a_year_with_nothing_loaded_totals_zero(loaded, capsys):
    assert report(capsys, "--year", "2018") == ["color    month            rows", "total 2018                   0"]


def test_the_chart_of_a_year_is_written(loaded, capsys, tmp_path):
    chart = tmp_path / "2020.png"

    lines = report(capsys, "--year", "2020", "--chart", str(chart))

    assert lines[-2:] == [f"total 2020        {34 + GREEN_2020_04:>12,}", f"chart written to {chart}"]
    assert png_size(chart.read_bytes()) == (900, 450)


@pytest.mark.parametrize("year", ["20x0", "202", "2020-01", ""])
def test_a_year_that_is_not_yyyy_fails_in_one_line(environment, capsys, year):
    with pytest.raises(SystemExit) as ended:
        main(["--year", year])

    assert ended.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"taxi_pipeline: argument --year: {year!r} is not a year; write it as YYYY, e.g. 2020 (see --help)"
    ]


@pytest.mark.cli
def test_the_command_line_prints_a_years_totals(loaded, environment, tmp_path, release_url):
    env = cli_env(tmp_path, release_url, **environment)

    done = run_cli([sys.executable, "-m", "taxi_pipeline.defs.report", "--year", "2020"], env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == [
        "green    2020-04        35,612",
        "green    total          35,612  (1 month of 2020)",
        "total 2020              35,646",
    ]
