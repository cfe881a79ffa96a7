"""Quality sync jobs: the whole fleet (periodic, or on demand), and one Meta WABA.

Meta's quality webhook says FLAGGED without a colour; the applier of a stored Meta event
calls :func:`refresh_wabas_named_in` after its commit, and ``sync.meta_waba`` lists that
WABA's numbers (one call) to read the exact rating.
"""

from __future__ import annotations

from collections.abc import Iterable

from provisioning import sync
from provisioning.events import WebhookEvent
from provisioning.meta.models import MetaWhatsAppClient
from provisioning.meta.sync import clients_to_refresh
from provisioning.partners import Provider

from .extensions import db
from .jobs import enqueue, heartbeat_engine, job
from .providers import provider_transport


def run_sync(
    providers: Iterable[Provider] | None = None,
    company_id: int | None = None,
    client_ids: list[int] | None = None,
) -> list[sync.SyncRun]:
    """A sync pass with the app's provider transport; it commits chunk by chunk."""
    return sync.sync_quality(
        db.session,
        db.session.commit,
        providers=providers,
        company_id=company_id,
        client_ids=client_ids,
        transport=provider_transport(),
        heartbeat=heartbeat_engine(),
    )


@job("sync.quality", queue="sync", time_limit=3000)  # under the hourly interval
def sync_quality(provider: str | None = None) -> list[int]:
    """Every provider's channels (or ``provider``'s); run again, it changes nothing."""
    providers = [Provider(provider)] if provider else None
    return [run.id for run in run_sync(providers)]


@job("sync.meta_waba", queue="sync")
def sync_meta_waba(client_id: int) -> int | None:
    """One Meta client's WABA: one listing of its numbers."""
    client = db.session.get(MetaWhatsAppClient, client_id)
    if client is None:
        return None
    (run,) = run_sync([Provider.META], company_id=client.company_id, client_ids=[client.id])
    return run.id


def refresh_wabas_named_in(event: WebhookEvent) -> list[int]:
    """Queue ``sync.meta_waba`` for each client a stored Meta quality or account event
    names (call it after the event's commit)."""
    client_ids = clients_to_refresh(db.session, event)
    for client_id in client_ids:
        enqueue("sync.meta_waba", client_id)
    return client_ids
