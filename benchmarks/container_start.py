"""What a container per run costs: the same backfill of three bundled months through `dagster
dev` with deploy/dagster.yaml (each run a process of the code server) and through
deploy/docker-compose.yaml (each run a container started by the DockerRunLauncher), side by
side. Per run, from the run's events: launch to start (the run's process or container comes up
and loads the code location) and start to end (the steps).

    python -m benchmarks.container_start [--repeats 2]     (as root: it may start dockerd)
"""

import argparse
import statistics
import tempfile
from functools import partial
from pathlib import Path

from benchmarks.measure import machine_line
from taxi_pipeline_tests.support.dagster_server import DagsterWebserver, start_dagster_dev, stop_dagster_dev
from taxi_pipeline_tests.support.docker_deployment import compose_deployment
from taxi_pipeline_tests.support.docker_engine import (
    debian_base_image,
    docker_engine,
    postgres_standin_image,
    project_image,
)
from taxi_pipeline_tests.support.http_server import QuietHandler, serving
from taxi_pipeline_tests.support.runs import deployed_env
from taxi_pipeline_tests.support.samples import RELEASE_DIR

PARTITIONS = ["green|2020-04-01", "yellow|2021-01-01", "fhv|2019-01-01"]


def run_timings(webserver: DagsterWebserver, title: str) -> list[tuple[float, float]]:
    """One backfill of PARTITIONS; per run (launch to start, start to end) in seconds."""
    launched = webserver.launch_backfill(PARTITIONS, title)
    runs = webserver.wait_for_runs(("dagster/backfill", launched["backfillId"]), count=len(PARTITIONS))
    timings = []
    for run in runs:
        assert run["status"] == "SUCCESS", run
        at = {e["__typename"]: float(e["timestamp"]) / 1000 for e in webserver.run_events(run["runId"])}
        timings.append((at["RunStartEvent"] - at["RunStartingEvent"], at["RunSuccessEvent"] - at["RunStartEvent"]))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"process (dagster dev)": [], "container (docker)": []}
    with tempfile.TemporaryDirectory() as temp, docker_engine(Path(temp) / "dockerd.log"):
        base = debian_base_image(Path(temp))
        image, build_seconds = project_image(base, Path(temp) / "build.log")
        print(f"{image}: {build_seconds:.0f} s to build or find")
        for round_ in range(args.repeats):
            with serving(partial(QuietHandler, directory=str(RELEASE_DIR))) as url:
                (local := Path(temp) / f"local{round_}").mkdir()
                env = deployed_env(local, url)
                server = start_dagster_dev(env, Path(temp) / f"dev{round_}.log")
                try:
                    results["process (dagster dev)"] += run_timings(server, "bench")
                finally:
                    stop_dagster_dev(server)
            log = Path(temp) / f"compose{round_}.log"
            with compose_deployment(image, postgres_standin_image(base), log) as deployment:
                results["container (docker)"] += run_timings(deployment.webserver, "bench")
    print(machine_line(args.repeats))
    print("| run launcher | runs | launch to start s (median) | start to end s (median) |")
    print("|---|---|---|---|")
    medians = {}
    for name, timings in results.items():
        medians[name] = [statistics.median(t[i] for t in timings) for i in (0, 1)]
        print(f"| {name} | {len(timings)} | {medians[name][0]:.1f} | {medians[name][1]:.1f} |")
    local, container = medians["process (dagster dev)"], medians["container (docker)"]
    ratios = [c / p for c, p in zip(container, local, strict=True)]
    print(f"container / process: launch to start {ratios[0]:.2f}, start to end {ratios[1]:.2f}")


if __name__ == "__main__":
    main()
