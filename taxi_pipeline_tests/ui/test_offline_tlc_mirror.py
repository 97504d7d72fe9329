"""`make dev-tlc-demo` offline: a real `dagster dev` with TAXI_SOURCE=tlc on the TLC's offline
mirror (trip-data/ beside misc/, deploy/mirror.py) runs a GraphQL backfill of three months of two
services across the TLC's type switch (2023-02): the bundled real green 2023-02 lands exactly its
rows as `tlc`, the generated months the rows of their files as `tlc (generated)`."""

import pyarrow.parquet as pq
import pytest

from deploy.mirror import build_mirror
from taxi_pipeline_tests.support.dagster_server import start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.runs import deployed_env
from taxi_pipeline_tests.support.warehouse_rows import loaded_slices, warehouse_rows

pytestmark = pytest.mark.ui

RANGE = [f"{service}|{month}" for service in ("fhvhv", "green") for month in ("2023-01-01", "2023-02-01", "2023-03-01")]
REAL = ("green", "2023-02")
REAL_ROWS = 64_809  # the whole green 2023-02 file (data/tlc/README.md)


@pytest.fixture(scope="module")
def offline_tlc_ui(tmp_path_factory):
    """`dagster dev` with deploy/dagster.yaml, TAXI_SOURCE=tlc and the TLC's offline mirror (its
    whole range, from the default first month, as `make dev-tlc-demo` makes it)."""
    base = tmp_path_factory.mktemp("offline-tlc")
    mirror = build_mirror("tlc", base / "mirror")
    env = {**deployed_env(base, mirror.source_url), "TAXI_SOURCE": "tlc"}
    server = start_dagster_dev(env, base / "dagster-dev.log")
    try:
        yield server, env, base / "mirror" / "trip-data"
    finally:
        stop_dagster_dev(server)


def test_a_tlc_backfill_of_three_months_of_two_services_succeeds_offline_flagging_the_generated_ones(offline_tlc_ui):
    server, env, trip_data = offline_tlc_ui

    runs = server.backfill(RANGE, "offline tlc range")

    assert [r["status"] for r in runs] == ["SUCCESS"] * len(RANGE)
    expected = {}
    for key in RANGE:
        service, month = key.split("|")[0], key.split("|")[1][:7]
        rows = pq.read_metadata(trip_data / f"{service}_tripdata_{month}.parquet").num_rows
        expected[service, month] = (rows, "tlc" if (service, month) == REAL else "tlc (generated)")
    assert expected[REAL] == (REAL_ROWS, "tlc")
    assert warehouse_rows(env["TAXI_DUCKDB_PATH"]) == {slice_: rows for slice_, (rows, _) in expected.items()}
    assert loaded_slices(env["TAXI_DUCKDB_PATH"]) == expected
