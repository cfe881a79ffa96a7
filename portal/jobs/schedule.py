"""The periodic jobs and their intervals; the in-process poller and ``celery beat`` both
schedule from :data:`PERIODIC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Periodic job -> the setting holding its interval in seconds (0: never).
PERIODIC: dict[str, str] = {
    "provisioning.resume_due_runs": "JOB_POLL_SECONDS",
    "webhooks.retry_failed": "JOB_POLL_SECONDS",
    "webhooks.apply_pending": "JOB_POLL_SECONDS",
    "mail.send": "JOB_POLL_SECONDS",
    "events.deliver": "JOB_POLL_SECONDS",
    "auth.purge": "AUTH_PURGE_SECONDS",
    "sync.meta_refreshes": "JOB_POLL_SECONDS",
    "sync.quality": "QUALITY_SYNC_INTERVAL_SECONDS",
    "sync.templates": "TEMPLATE_SYNC_INTERVAL_SECONDS",
    "jobs.measure_queues": "JOB_POLL_SECONDS",
    "coexistence.window_warnings": "JOB_POLL_SECONDS",
    "sync.tollfree": "TOLLFREE_POLL_SECONDS",
}


def periodic_schedule(config: Mapping[str, Any]) -> dict[str, float]:
    """Periodic job name -> seconds between runs; disabled (0) jobs are left out."""
    schedule = {}
    for name, setting in PERIODIC.items():
        seconds = float(config.get(setting) or 0)
        if seconds > 0:
            schedule[name] = seconds
    return schedule


class Ticker:
    """When each periodic job is due: all at the start, then each at its interval.

    Time is whatever clock the caller reads (seconds), so the poller and the tests
    share the same arithmetic."""

    def __init__(self, schedule: Mapping[str, float], start: float) -> None:
        self.intervals = dict(schedule)
        self.next_at = dict.fromkeys(schedule, start)

    def due(self, now: float) -> list[str]:
        """The jobs due at ``now``; each is due next one interval later."""
        names = [name for name, at in self.next_at.items() if at <= now]
        for name in names:
            self.next_at[name] = now + self.intervals[name]
        return names

    def seconds_to_next(self, now: float) -> float:
        return max(0.0, min(self.next_at.values(), default=now) - now)
