"""Server processes the tests start (emulators, `dagster dev`): waiting until one answers, and
the end of its log for the error when it does not."""

import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def log_tail(log: Path, chars: int = 3000) -> str:
    """The last `chars` characters of a log file ("" when there is none)."""
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def wait_until_ready(
    proc: subprocess.Popen,
    name: str,
    log: Path,
    ready: Callable[[], bool],
    timeout: float,
    interval: float,
    not_yet: tuple[type[BaseException], ...] = (OSError,),
) -> bool:
    """Call `ready()` every `interval` seconds until it is true (True) or `timeout` passes
    (False); an exception in `not_yet` counts as not ready yet. RuntimeError with the end of the
    log when the process `name` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_tail(log)}")
        try:
            if ready():
                return True
        except not_yet:
            pass
        time.sleep(interval)
    return False
