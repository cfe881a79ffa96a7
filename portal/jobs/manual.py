"""The tests' runner: jobs wait until the test runs them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import metrics
from .catalog import JOBS
from .registry import Job
from .runner import JobKey, RetryLater, run_attempt


class ManualRunner:
    """Jobs wait in a list until ``drain()`` runs them, in order.

    A retry runs at once (the test controls time); its delay is kept in ``retries``.
    """

    def __init__(self, app: Flask, jobs: Mapping[str, Job] | None = None) -> None:
        self.app = app
        self.jobs = JOBS if jobs is None else jobs
        self.queue: list[JobKey] = []
        self.retries: list[tuple[str, tuple[Any, ...], float]] = []
        metrics.report_depth(self.depth)

    def enqueue(self, name: str, *args: Any) -> None:
        self.queue.append((name, args))

    def depth(self, queue: str) -> int:
        return Counter(self.jobs[name].queue for name, _ in self.queue)[queue]

    def start_poller(self) -> None:
        """Nothing to start: tests enqueue periodic jobs themselves."""

    def drain(self) -> list[Any]:
        results = []
        while self.queue:
            name, args = self.queue.pop(0)
            results.append(self._run(self.jobs[name], args))
        return results

    def _run(self, spec: Job, args: tuple[Any, ...]) -> Any:
        attempt = 1
        while True:
            try:
                return run_attempt(self.app, spec, args, attempt)
            except RetryLater as later:
                self.retries.append((spec.name, args, later.delay))
                attempt += 1
