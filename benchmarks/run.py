"""Times the course's pandas flow against the project's paths on generated yellow months.

For each size, in the same invocation and interleaved round by round:
  floor      gzip -dc of the file (decompression alone cannot go faster)
  reference  benchmarks/reference_flow.py: the course's pd.read_csv -> to_datetime -> gzip parquet
  library    benchmarks/project_path.py: the project's transforms CSV.gz -> cleaned -> lake parquet
  dagster    `dagster asset materialize` of the four assets for one partition, from a local HTTP
             server into a DuckDB warehouse (Dagster start-up included)
Median wall and CPU seconds, peak RSS from the OS (getrusage of a fresh process per command),
rows per second and ratios to the reference; a markdown table to stdout and benchmarks/out/results.md.

    python benchmarks/run.py --rows 1369765 7000000 --repeats 3
"""

import argparse
import http.server
import os
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

from measure import machine_line, measured, medians

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
OUT = HERE / "out"
BIN = Path(sys.executable).parent
MONTH = "2021-01"
VARIANTS = ("floor", "reference", "library", "dagster")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def generated_file(rows: int) -> Path:
    path = OUT / f"mirror_{rows}" / "yellow" / f"yellow_tripdata_{MONTH}.csv.gz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {rows:,} yellow rows -> {path}", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "generate_trips.py"), "yellow", str(rows), MONTH, str(path)], check=True)
    return path


def commands(variant: str, source: Path, source_url: str, work: Path) -> tuple[list[str], dict]:
    env = dict(os.environ)
    if variant == "floor":
        return ["sh", "-c", f"gzip -dc '{source}' > /dev/null"], env
    if variant == "reference":
        return [sys.executable, str(HERE / "reference_flow.py"), "yellow", str(source), str(work / "reference.parquet")], env
    if variant == "library":
        return [sys.executable, str(HERE / "project_path.py"), "yellow", MONTH, str(source), str(work / "library.parquet")], env
    env = {k: v for k, v in env.items() if not k.startswith(("TAXI_", "DAGSTER_HOME"))}
    env.update(TAXI_SOURCE_URL=source_url, TAXI_LAKE_DIR=str(work / "lake"), TAXI_DUCKDB_PATH=str(work / "warehouse.duckdb"))
    return [str(BIN / "dagster"), "asset", "materialize", "-m", "taxi_pipeline.definitions",
            "--select", "*", "--partition", f"yellow|{MONTH}-01"], env


def bench_size(rows: int, repeats: int) -> dict[str, list[dict]]:
    source = generated_file(rows)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(source.parent.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    work = OUT / f"work_{rows}"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    try:
        for round_number in range(repeats):
            for variant in VARIANTS:
                command, env = commands(variant, source, url, work)
                results[variant].append(measured(command, env, cwd=PROJECT))
                print(f"{rows:,} round {round_number + 1} {variant}: {results[variant][-1]['wall_seconds']:.1f} s", file=sys.stderr)
    finally:
        server.shutdown()
    return results


def table(all_results: dict[int, dict[str, list[dict]]], repeats: int) -> str:
    lines = [
        machine_line(repeats),
        "",
        "| rows | path | wall s | CPU s | peak RSS MiB | rows/s | wall / reference | RSS / reference | wall / gzip floor |",
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
