"""A re-run of a month the source has not changed: the bytes `raw_trips` transfers and its step's
seconds, downloading the month and then asking again conditionally, from a local HTTP server that
sends Last-Modified and answers If-Modified-Since with 304 (Python's own `http.server`).

    .venv/bin/python -m benchmarks.rerun [--rows 3000000]

Months: the bundled real green 2020-04 (the whole published file) and a generated yellow month of
`--rows` rows, kept in benchmarks/out/ for the next run.
"""

import argparse
import http.server
import shutil
import tempfile
import threading
from datetime import date
from functools import partial
from pathlib import Path

import dagster as dg

from benchmarks.generate_trips import generated_mirror
from benchmarks.measure import PROJECT, markdown_table
from taxi_pipeline.definitions import build_trip_assets, lake_io_managers
from taxi_pipeline.defs.lake.resources import LocalLake
from taxi_pipeline.defs.source.resources import TripSourceResource

BUNDLED = PROJECT / "taxi_pipeline_tests" / "data" / "release"


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Python's file server, counting the body bytes it sends (`sent`, shared by the server)."""

    sent = [0]

    def log_message(self, format, *args):
        """Log nothing."""

    def copyfile(self, source, outputfile):
        before = source.tell()
        super().copyfile(source, outputfile)
        self.sent[0] += source.tell() - before


def raw_trips_seconds(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> float:
    [stats] = instance.get_run_step_stats(result.run_id, step_keys=["raw_trips"])
    return stats.end_time - stats.start_time


def rerun(mirror: Path, key: str, work: Path) -> list[str]:
    """The first and second run of `raw_trips` for `key` from `mirror`: a row of the table."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(CountingHandler, directory=str(mirror)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    lake = LocalLake(base_path=str(work / "lake"))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    resources = {"source": TripSourceResource(base_url=url), "lake": lake, **lake_io_managers(lake)}
    [raw_trips] = [a for a in build_trip_assets().assets if a.key == dg.AssetKey("raw_trips")]
    instance = dg.DagsterInstance.ephemeral()
    measured = []
    try:
        for _ in range(2):
            CountingHandler.sent[0] = 0
            result = dg.materialize([raw_trips], partition_key=key, resources=resources, instance=instance)
            measured.append((CountingHandler.sent[0], raw_trips_seconds(instance, result)))
    finally:
        server.shutdown()
        server.server_close()
    (first_bytes, first_seconds), (second_bytes, second_seconds) = measured
    return [
        key,
        f"{first_bytes:,}",
        f"{first_seconds:.2f}",
        f"{second_bytes:,}",
        f"{second_seconds:.2f}",
        f"{first_seconds - second_seconds:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000, help="rows of the generated yellow month")
    args = parser.parse_args()
    generated = generated_mirror(PROJECT / "benchmarks" / "out" / "mirror", "yellow", {date(2020, 1, 1): args.rows})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows.append(rerun(BUNDLED, "green|2020-04-01", work / "green"))
        rows.append(rerun(generated, "yellow|2020-01-01", work / "yellow"))
        shutil.rmtree(work, ignore_errors=True)
    header = ["month", "1st run: bytes", "raw_trips s", "2nd run: bytes", "raw_trips s", "saved s"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
