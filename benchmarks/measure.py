"""Run one command and report, as JSON, its wall time, CPU time and peak RSS from the OS.

A fresh process per measurement, so getrusage(RUSAGE_CHILDREN) covers exactly that command and
its descendants (ru_maxrss: the largest resident set of any of them).
"""

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    command = sys.argv[1:]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "returncode": done.returncode,
        "wall_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "stderr_tail": done.stderr.decode(errors="replace")[-2000:] if done.returncode else "",
    }))


if __name__ == "__main__":
    main()
