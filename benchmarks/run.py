"""Times the course's pandas flow against the project's paths on generated yellow months.

For each size, in the same invocation and interleaved round by round:
  floor      gzip -dc of the file (decompression alone cannot go faster)
  reference  benchmarks.reference_flow: the course's pd.read_csv -> to_datetime -> gzip parquet
  library    benchmarks.project_path: the project's transforms CSV.gz -> cleaned -> lake parquet
  dagster    `dagster asset materialize` of the four assets for one partition, from a local HTTP
             server into a DuckDB warehouse (Dagster start-up included)
Median wall and CPU seconds, peak RSS from the OS (getrusage of a fresh process per command),
rows per second and ratios to the reference; a markdown table to stdout and benchmarks/out/results.md.

    python -m benchmarks.run --rows 1369765 7000000 --repeats 3
"""

import argparse
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

from benchmarks.measure import PROJECT, machine_line, measured, medians
from taxi_pipeline_tests.support.http_server import QuietHandler, serve, stop_server
from taxi_pipeline_tests.support.runs import MONTHLY_CHAIN, materialize_command

OUT = Path(__file__).resolve().parent / "out"
MONTH = "2021-01"
VARIANTS = ("floor", "reference", "library", "dagster")


def generated_file(rows: int) -> Path:
    """The generated yellow month of `rows` rows in a release mirror folder (made once, cached in out/)."""
    path = OUT / f"mirror_{rows}" / "yellow" / f"yellow_tripdata_{MONTH}.csv.gz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {rows:,} yellow rows -> {path}", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "benchmarks.generate_trips", "yellow", str(rows), MONTH, str(path)],
            cwd=PROJECT,
            check=True,
        )
    return path


def commands(variant: str, source: Path, source_url: str, work: Path) -> tuple[list[str], dict]:
    env = dict(os.environ)
    if variant == "floor":
        return ["sh", "-c", f"gzip -dc '{source}' > /dev/null"], env
    if variant == "reference":
        return [
            sys.executable,
            "-m",
            "benchmarks.reference_flow",
            "yellow",
            str(source),
            str(work / "reference.parquet"),
        ], env
    if variant == "library":
        return [
            sys.executable,
            "-m",
            "benchmarks.project_path",
            "yellow",
            MONTH,
            str(source),
            str(work / "library.parquet"),
        ], env
    env = {k: v for k, v in env.items() if not k.startswith(("TAXI_", "DAGSTER_HOME"))}
    env.update(
        TAXI_SOURCE_URL=source_url, TAXI_LAKE_DIR=str(work / "lake"), TAXI_DUCKDB_PATH=str(work / "warehouse.duckdb")
    )
    return materialize_command(f"yellow|{MONTH}-01", select=MONTHLY_CHAIN), env


def bench_size(rows: int, repeats: int) -> dict[str, list[dict]]:
    source = generated_file(rows)
    server, url = serve(partial(QuietHandler, directory=str(source.parent.parent)))
    work = OUT / f"work_{rows}"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    try:
        for round_number in range(repeats):
            for variant in VARIANTS:
                command, env = commands(variant, source, url, work)
                results[variant].append(measured(command, env))
                print(
                    f"{rows:,} round {round_number + 1} {variant}: {results[variant][-1]['wall_seconds']:.1f} s",
                    file=sys.stderr,
                )
    finally:
        stop_server(server)
    return results


def table(all_results: dict[int, dict[str, list[dict]]], repeats: int) -> str:
    lines = [
        machine_line(repeats),
        "",
        "| rows | path | wall s | CPU s | peak RSS MiB | rows/s "
        "| wall / reference | RSS / reference | wall / gzip floor |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows, results in all_results.items():
        med = medians(results)
        ref, floor = med["reference"], med["floor"]
        for v in VARIANTS:
            m = med[v]
            lines.append(
                f"| {rows:,} | {v} | {m['wall_seconds']:.1f} | {m['cpu_seconds']:.1f} | {m['peak_rss_mib']:.0f} | "
                f"{rows / m['wall_seconds']:,.0f} | {m['wall_seconds'] / ref['wall_seconds']:.2f} | "
                f"{m['peak_rss_mib'] / ref['peak_rss_mib']:.2f} | {m['wall_seconds'] / floor['wall_seconds']:.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the pipeline against the course's pandas flow")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_369_765, 7_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    results = {rows: bench_size(rows, args.repeats) for rows in args.rows}
    markdown = table(results, args.repeats)
    (OUT / "results.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
