"""Run one command and report, as JSON, its wall time, CPU time and peak RSS from the OS.

A fresh process per measurement, so getrusage(RUSAGE_CHILDREN) covers exactly that command and
its descendants (ru_maxrss: the largest resident set of any of them).
"""

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

MEASURES = ("wall_seconds", "cpu_seconds", "peak_rss_mib")
PROJECT = Path(__file__).resolve().parents[1]


def main() -> None:
    command = sys.argv[1:]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "returncode": done.returncode,
                "wall_seconds": wall,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024,
                "stderr_tail": done.stderr.decode(errors="replace")[-2000:] if done.returncode else "",
            }
        )
    )


def measured(command: list[str], env: dict | None = None, cwd: Path = PROJECT) -> dict:
    """Run `command` from `cwd` (the project folder) under this module in a fresh process; its
    measures, or an error with the end of its stderr when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    if result["returncode"] != 0:
        raise RuntimeError(f"{command} failed:\n{result['stderr_tail']}")
    return result


def medians(results: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Per variant, the median of each measure over the rounds."""
    return {v: {k: statistics.median(r[k] for r in runs) for k in MEASURES} for v, runs in results.items()}


def machine_cpu_seconds() -> float:
    """CPU seconds the machine spent busy since boot (user, nice, system, irq, softirq; Linux's
    /proc/stat): counts processes no rusage of ours does, such as the run workers of `dagster dev`."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table: the first column left-aligned, the others (figures) right-aligned."""
    lines = [header, ["---", *["---:"] * (len(header) - 1)], *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def machine_line(repeats: int) -> str:
    """The machine, Python, date and rounds, for the head of a results table."""
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{date.today()}; median of {repeats} interleaved rounds."
    )


if __name__ == "__main__":
    main()
