"""What a job is: a named function, its queue, its time limit and its retry policy."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError

from provisioning.backoff import exponential
from provisioning.errors import Retryable

# Safe to retry: the provider said "later" (timeouts, 5xx, throttling, no answer; the
# ``Unreachable`` subclass included) or the database connection dropped.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (Retryable, OperationalError)
MAX_BACKOFF_SECONDS = 600.0
JITTER = 0.5  # a retry waits between half and all of its backoff

# One queue per kind of work, so that none waits behind another: a burst of webhooks
# never delays a provisioning run (Meta's authorization code lives 30 s) nor starves the
# periodic sweeps, and a long quality sync holds up neither.
QUEUES = (
    "runs",  # provisioning runs: the code exchange and every onboarding step
    "sweeps",  # the short periodic jobs: due runs, failed or lost events, emails, refreshes
    "webhooks",  # applying stored webhook events (bursts)
    "sync",  # the quality sync passes (long)
)


@dataclass(frozen=True)
class Job:
    """A job: its function, queue, time limit (seconds; Celery stops an attempt that
    outlasts it) and retry policy (``retries`` after the first try, ``backoff`` seconds
    doubling from the first retry)."""

    name: str
    function: Callable[..., Any]
    queue: str
    retries: int = 3
    backoff: float = 5.0
    time_limit: float = 600.0

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(
                f"job {self.name!r}: unknown queue {self.queue!r} (one of {', '.join(QUEUES)})"
            )

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    def retry_delay(self, attempt: int, exc: BaseException) -> float | None:
        """Seconds to wait after failed attempt ``attempt``; None when there is no retry."""
        if attempt > self.retries or not isinstance(exc, RETRYABLE_ERRORS):
            return None
        retry_after = getattr(exc, "retry_after", None)  # the provider's Retry-After
        return exponential(
            attempt, self.backoff, MAX_BACKOFF_SECONDS, retry_after=retry_after, jitter=JITTER
        )


def index(jobs: Iterable[Job]) -> dict[str, Job]:
    """Jobs by name; a name given twice is a mistake."""
    by_name: dict[str, Job] = {}
    for spec in jobs:
        if spec.name in by_name:
            raise ValueError(f"job {spec.name!r} is defined twice")
        by_name[spec.name] = spec
    return by_name
