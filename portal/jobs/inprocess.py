"""The default runner: threads in the portal process, and a poller for periodic jobs."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from flask import Flask

from . import metrics
from .catalog import JOBS
from .registry import QUEUES, Job
from .runner import JobKey, RetryLater, run_attempt
from .schedule import Ticker, periodic_schedule


class Timer(Protocol):
    def start(self) -> None: ...

    def cancel(self) -> None: ...


TimerFactory = Callable[[float, Callable[..., None], tuple[Any, ...]], Timer]


def daemon_timer(delay: float, function: Callable[..., None], args: tuple[Any, ...]) -> Timer:
    timer = threading.Timer(delay, function, args)
    timer.daemon = True
    return timer


class InProcessRunner:
    """Threads in this process, ``workers`` per queue (so a burst of webhooks never holds
    up a run or a sweep); retries wait on timers, never in a worker thread.

    ``start_poller()`` enqueues the periodic jobs at their intervals (``poll_seconds``
    overrides ``JOB_POLL_SECONDS``), so unfinished runs survive a restart. ``timer`` and
    ``clock`` are the retry timers and the poller's clock (tests replace them).
    """

    def __init__(
        self,
        app: Flask,
        workers: int = 2,
        poll_seconds: float | None = None,
        *,
        jobs: Mapping[str, Job] | None = None,
        timer: TimerFactory = daemon_timer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.jobs = JOBS if jobs is None else jobs
        self.pools = {
            queue: ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"job-{queue}")
            for queue in QUEUES
        }
        self.poll_seconds = poll_seconds or app.config.get("JOB_POLL_SECONDS") or 5.0
        self.timer, self.clock = timer, clock
        self._pending: set[JobKey] = set()
        self._timers: dict[JobKey, Timer] = {}
        self._waiting: Counter[str] = Counter()  # submitted, not started, per queue
        self._lock = threading.Condition()
        self._stop = threading.Event()
        metrics.report_depth(self.depth)

    @classmethod
    def install(
        cls, app: Flask, workers: int = 2, poll_seconds: float | None = None, **options: Any
    ) -> InProcessRunner:
        """Make a runner the app's runner: jobs enqueued by jobs land on it too."""
        runner = cls(app, workers, poll_seconds, **options)
        app.extensions["job_runner"] = runner
        return runner

    def enqueue(self, name: str, *args: Any) -> None:
        key = (name, args)
        with self._lock:
            if key in self._pending:
                return  # the same job is queued, running or waiting to retry: it will do
            self._pending.add(key)
        self._submit(key, 1, time.time())

    def depth(self, queue: str) -> int:
        """Jobs of ``queue`` waiting for a thread."""
        with self._lock:
            return self._waiting[queue]

    def idle(self) -> bool:
        """No job queued, running or waiting to retry."""
        with self._lock:
            return not self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Block until the runner is idle; False if it was not within ``timeout`` seconds."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._pending, timeout)

    def _submit(self, key: JobKey, attempt: int, enqueued_at: float | None = None) -> None:
        queue = self.jobs[key[0]].queue
        with self._lock:
            self._timers.pop(key, None)
            stopped = self._stop.is_set()
            if not stopped:
                self._waiting[queue] += 1
        if not stopped:
            try:
                self.pools[queue].submit(self._run, key, attempt, enqueued_at)
                return
            except RuntimeError:  # the pool shut down in the meantime
                with self._lock:
                    self._waiting[queue] -= 1
        self._done(key)

    def _run(self, key: JobKey, attempt: int, enqueued_at: float | None) -> None:
        spec = self.jobs[key[0]]
        with self._lock:
            self._waiting[spec.queue] -= 1
        try:
            run_attempt(self.app, spec, key[1], attempt, enqueued_at)
        except RetryLater as later:
            timer = self.timer(later.delay, self._submit, (key, attempt + 1))
            with self._lock:
                self._timers[key] = timer
            timer.start()
            return  # the job stays pending until its retry has run
        except Exception:  # noqa: S110 (logged and recorded in job_failures by run_attempt)
            pass
        self._done(key)

    def _done(self, key: JobKey) -> None:
        with self._lock:
            self._pending.discard(key)
            self._lock.notify_all()

    def start_poller(self) -> None:
        """Enqueue every periodic job now, then again each time its interval has passed."""
        config = {**self.app.config, "JOB_POLL_SECONDS": self.poll_seconds}
        schedule = periodic_schedule(config)
        if not schedule:
            return
        ticker = Ticker(schedule, self.clock())

        def poll() -> None:
            while True:
                for name in ticker.due(self.clock()):
                    self.enqueue(name)
                if self._stop.wait(ticker.seconds_to_next(self.clock())):
                    return

        threading.Thread(target=poll, name="job-poller", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()
        for pool in self.pools.values():
            pool.shutdown(wait=True)
