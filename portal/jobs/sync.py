"""Quality sync jobs: the whole fleet (periodic, or on demand), and Meta WABAs on demand.

Meta's quality webhook says FLAGGED without a colour; the applier of a stored Meta event
asks for its WABA to be listed again (:func:`refresh_wabas_named_in`, in the event's
transaction). ``sync.meta_refreshes`` (after such an event, and every
``JOB_POLL_SECONDS``) hands each asked-for WABA out at most once per
``META_REFRESH_SECONDS``, and ``sync.meta_wabas`` lists them, a pass per company: a burst
of events on one WABA costs one listing.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app

from provisioning import sync
from provisioning.events import WebhookEvent
from provisioning.meta.sync import (
    claim_due_refreshes,
    clients_to_refresh,
    finish_refreshes,
    request_refreshes,
)
from provisioning.partners import Provider
from provisioning.templates import sync as template_sync

from ..extensions import db
from ..providers import provider_transport
from .provisioning import heartbeat_engine
from .runner import enqueue


def run_sync(
    providers: Iterable[Provider] | None = None,
    company_id: int | None = None,
    client_ids: list[int] | None = None,
) -> list[sync.SyncRun]:
    """A sync pass with the app's provider transport; it commits chunk by chunk."""
    transport = provider_transport()  # one connection pool for the pass, closed after it
    try:
        return sync.sync_quality(
            db.session,
            db.session.commit,
            providers=providers,
            company_id=company_id,
            client_ids=client_ids,
            transport=transport,
            heartbeat=heartbeat_engine(),
        )
    finally:
        transport.close()


def sync_quality(provider: str | None = None) -> list[int]:
    """Every provider's channels (or ``provider``'s); run again, it changes nothing."""
    providers = [Provider(provider)] if provider else None
    return [run.id for run in run_sync(providers)]


def queue_meta_refreshes() -> int:
    """Hand out the WABAs Meta webhooks asked to list again, each at most once per
    ``META_REFRESH_SECONDS``: one ``sync.meta_wabas`` per company."""
    claimed = claim_due_refreshes(db.session, current_app.config["META_REFRESH_SECONDS"])
    db.session.commit()
    for company_id, client_ids in claimed.items():
        enqueue("sync.meta_wabas", company_id, *client_ids)  # ids: hashable, JSON alike
    return sum(len(ids) for ids in claimed.values())


def sync_meta_wabas(company_id: int, *client_ids: int) -> int:
    """One pass (one ``quality_sync_runs`` row) listing these clients' WABAs, one call per
    page of numbers each; then their asks are done."""
    ids = list(client_ids)
    (run,) = run_sync([Provider.META], company_id=company_id, client_ids=ids)
    finish_refreshes(db.session, ids)
    db.session.commit()
    return run.id


def refresh_wabas_named_in(event: WebhookEvent) -> list[int]:
    """Ask, in the event's own transaction, for a listing of each WABA a stored Meta
    quality or account event names; the clients newly asked for (then queue
    ``sync.meta_refreshes`` after the commit)."""
    return request_refreshes(db.session, clients_to_refresh(db.session, event))


def sync_templates(company_id: int | None = None, account_keys: list[str] | None = None) -> dict:
    """Every template account (or a company's, or the named ones) listed to the end."""
    transport = provider_transport()
    try:
        summary = template_sync.sync_templates(
            db.session,
            db.session.commit,
            transport=transport,
            company_id=company_id,
            account_keys=account_keys,
        )
    finally:
        transport.close()
    return summary.as_dict()
