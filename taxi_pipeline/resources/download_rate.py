"""A floor under a download's rate: a source that sends a few bytes now and then never trips
the read timeout (it only covers silence), so the bytes of each window are counted instead."""

import time
from collections.abc import Callable


def describe_bytes(count: float) -> str:
    """A byte count for messages: `48 bytes`, `64 KiB`, `1.5 MiB`."""
    if count < 1 << 10:
        return f"{count:,.0f} bytes"
    if count < 1 << 20:
        return f"{count / (1 << 10):,.4g} KiB"
    return f"{count / (1 << 20):,.4g} MiB"


class TooSlowError(Exception):
    """Fewer than the floor's bytes arrived in one window: the source trickles."""


class RateFloor:
    """Counts a download's bytes in consecutive windows of `window_seconds`; `check` raises
    `TooSlowError` once a whole window went by with fewer than `min_bytes`."""

    def __init__(self, min_bytes: int, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.min_bytes = min_bytes
        self.window_seconds = window_seconds
        self._clock = clock
        self._window_start = clock()
        self._window_bytes = 0

    def check(self, received: int) -> None:
        """Count `received` more bytes; raise `TooSlowError` naming the rate and the window when
        the window that just ended held fewer than `min_bytes`."""
        self._window_bytes += received
        elapsed = self._clock() - self._window_start
        if elapsed < self.window_seconds:
            return
        if self._window_bytes < self.min_bytes:
            raise TooSlowError(
                f"the download is too slow: {describe_bytes(self._window_bytes)} in the last {elapsed:.0f} s "
                f"({self._window_bytes / elapsed:,.0f} bytes/s), under the floor of {describe_bytes(self.min_bytes)} "
                f"in {self.window_seconds:g} s (TAXI_SOURCE_MIN_BYTES, TAXI_SOURCE_RATE_WINDOW)"
            )
        self._window_start, self._window_bytes = self._clock(), 0
