"""A heartbeat: keeps a claim in the database alive while the work it covers runs.

Provisioning runs (a lease) and quality sync passes (an owner) claim their work in the
database, and the work can block for long: a provider call, a paced listing. A thread
renews the claim every ``interval`` seconds with ``beat()``, which runs on a connection
of its own and returns False once the claim is no longer ours; the heartbeat then stops
and sets ``lost``. A beat that fails (the database is away) is logged and tried again at
the next tick: if the outage outlasts the claim, another worker may take the work over,
and the work's own fenced writes are what stop it then.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session

log = logging.getLogger("provisioning.heartbeat")


class Heartbeat:
    """Calls ``beat()`` every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(self, beat: Callable[[], bool], interval: float, name: str) -> None:
        self.beat, self.interval, self.name = beat, interval, name
        self.lost = threading.Event()
        self.beats = 0  # successful renewals
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {name}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating. A beat in flight is not waited for: it may wait on a row lock that
        the caller's own transaction holds, and renews nothing once the claim is released."""
        self._stop.set()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                alive = self.beat()
            except Exception as exc:  # the database is away: try again at the next tick
                log.warning("heartbeat of %s failed (%s); trying again", self.name, exc)
                continue
            if not alive:
                log.warning("%s is no longer ours: another worker took it over", self.name)
                self.lost.set()
                return
            self.beats += 1


def on_own_connection(engine: Engine, renew: Callable[[Session], bool]) -> Callable[[], bool]:
    """A ``beat`` that runs ``renew(session)`` in a short transaction of its own."""

    def beat() -> bool:
        with Session(engine) as session, session.begin():
            return renew(session)

    return beat
