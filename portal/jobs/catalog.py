"""Every job, registered here and nowhere else: name, function, queue, limits, retries.

Jobs take ids, reload what they need and are idempotent. Retries are for errors safe to
retry (``registry.RETRYABLE_ERRORS``); jobs with ``retries=0`` are retried by their own
pipeline (webhook events) or by the next tick of their schedule (the sweeps).
"""

from __future__ import annotations

from . import auth, coexistence, events, mail, measure, provisioning, sync, webhooks
from . import tollfree as tollfree_jobs
from .registry import Job, index

JOBS: dict[str, Job] = index(
    [
        # runs: every onboarding step (Meta's authorization code lives 30 s)
        Job("provisioning.execute_run", provisioning.execute_run, "runs", retries=3),
        # sweeps: short and periodic; a failure waits for the next tick
        Job("provisioning.resume_due_runs", provisioning.resume_due_runs, "sweeps",
            retries=0, time_limit=60),
        Job("webhooks.retry_failed", webhooks.retry_failed_events, "sweeps",
            retries=0, time_limit=60),
        Job("sync.meta_refreshes", sync.queue_meta_refreshes, "sweeps",
            retries=0, time_limit=60),
        Job("mail.send", mail.send_mail, "sweeps", time_limit=300),
        # platform events: each attempt is recorded; backoff is the outbox's own
        Job("events.deliver", events.deliver_events, "sweeps", retries=0, time_limit=300),
        Job("auth.purge", auth.purge, "sweeps", retries=0),
        Job("jobs.measure_queues", measure.measure_queues, "sweeps", retries=0, time_limit=60),
        Job("coexistence.window_warnings", coexistence.warn_closing_windows, "sweeps",
            retries=0, time_limit=60),
        Job("sync.tollfree", tollfree_jobs.poll_tollfree_verifications, "sweeps",
            retries=0, time_limit=300),
        # webhooks: bursts; the event pipeline retries a failed event with backoff
        Job("webhooks.apply_pending", webhooks.apply_pending_events, "webhooks", retries=0,
            time_limit=60),
        Job("webhooks.apply_meta", webhooks.apply_meta_event, "webhooks", retries=0),
        Job("webhooks.apply_dialog360", webhooks.apply_dialog360_event, "webhooks", retries=0),
        Job("webhooks.apply_twilio_events", webhooks.apply_twilio_events, "webhooks", retries=0),
        # sync: long passes paced by the providers (under the hourly interval)
        Job("sync.quality", sync.sync_quality, "sync", time_limit=3000),
        Job("sync.meta_wabas", sync.sync_meta_wabas, "sync"),
        Job("sync.templates", sync.sync_templates, "sync", time_limit=3000),
    ]
)  # fmt: skip
