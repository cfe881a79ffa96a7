"""A clock the sandbox reads and tests advance."""

from __future__ import annotations

import datetime as dt
import threading
import time


class SimClock:
    """Wall time plus an offset; frozen at ``start`` (epoch seconds) when one is given.

    Tests freeze it and ``advance`` it; the demo server lets it follow real time and
    still lets an admin skip ahead (a 360dialog channel that takes days to go live).
    """

    def __init__(self, start: float | None = None) -> None:
        self._frozen = start
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            base = self._frozen if self._frozen is not None else time.time()
            return base + self._offset

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), dt.UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
