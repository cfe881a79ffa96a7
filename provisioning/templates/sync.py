"""The template sync: every template account listed to the end, at one listing per page.

Targets are Meta WABAs (their business token), 360dialog WABAs (the Partner API) and
Twilio subaccounts (the Content API, with the subaccount's own credentials). Fetches run
on the quality sync's thread pool (:func:`provisioning.sync.fetch_concurrently`: bounded,
retrying throttles with backoff); this thread alone writes. A listing that equals what is
stored writes nothing but the accounts' sync stamp (one UPDATE per batch); one account
that fails is recorded on its row and the others sync on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import clients
from ..db import utcnow
from ..dialog360.models import Dialog360Channel, Dialog360Client
from ..http import redact_url
from ..meta.models import MetaWhatsAppClient
from ..partners import PartnerConfiguration, unusable_reason
from ..sync import SyncPolicy, batches, fetch_concurrently
from ..twilio.models import TwilioSubaccount
from .connections import Connection, Dialog360Connection, MetaConnection, TwilioConnection
from .core import Reconciled, ensure_account, reconcile
from .models import TemplateAccount

PROVIDERS = ("meta", "dialog360", "twilio")


@dataclass
class Target:
    """One account to list; ``fetch`` runs on a worker thread and touches no session."""

    company_id: int
    provider: str
    account_key: str
    label: str
    connection: Connection = field(repr=False)

    def __str__(self) -> str:
        return f"{self.provider} {self.account_key}"


@dataclass
class Summary:
    accounts: int = 0
    failed: int = 0
    skipped_templates: int = 0
    templates: Reconciled = field(default_factory=Reconciled)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "failed": self.failed,
            "skipped_templates": self.skipped_templates,
            **vars(self.templates),
            "errors": self.errors[:20],
        }


def sync_templates(
    session: Session,
    commit: Callable[[], None],
    *,
    transport: Any = None,
    company_id: int | None = None,
    providers: tuple[str, ...] = PROVIDERS,
    account_keys: list[str] | None = None,
    policy: SyncPolicy | None = None,
) -> Summary:
    """List the chosen accounts' templates and reconcile them; commits per batch."""
    policy = policy or SyncPolicy()
    summary = Summary()
    targets = _targets(session, transport, company_id, providers, account_keys, summary)
    outcomes = fetch_concurrently(targets, lambda target: target.connection.list(), policy)
    for batch in batches(
        outcomes, lambda o: len(o.result.templates) if o.result else 1, policy.chunk_size
    ):
        synced: list[int] = []
        for outcome in batch:
            target = outcome.target
            account = ensure_account(
                session, target.company_id, target.provider, target.account_key, target.label
            )
            summary.accounts += 1
            if outcome.error is not None:
                _failed(account, summary, target, outcome.error)
                continue
            summary.templates += reconcile(session, account, outcome.result)
            summary.skipped_templates += len(outcome.result.skipped)
            if account.last_error is not None:
                account.last_error = None
            synced.append(account.id)
        _stamp(session, synced)
        commit()
    return summary


def _stamp(session: Session, account_ids: list[int]) -> None:
    if account_ids:
        session.execute(
            update(TemplateAccount)
            .where(TemplateAccount.id.in_(account_ids))
            .values(last_synced_at=utcnow())
        )


def _failed(account: TemplateAccount, summary: Summary, target: Target, exc: Exception) -> None:
    message = redact_url(str(exc))[:500]
    summary.failed += 1
    summary.errors.append(f"{target}: {message}")
    if account.last_error != message:
        account.last_error = message


def _targets(session, transport, company_id, providers, account_keys, summary) -> Iterator[Target]:
    configs: dict[int | None, PartnerConfiguration | None] = {}

    def config(config_id: int | None, what: str) -> PartnerConfiguration | None:
        if config_id not in configs:
            found = session.get(PartnerConfiguration, config_id) if config_id else None
            reason = unusable_reason(found)
            if reason:
                summary.errors.append(f"{what}: skipped, {reason}")
            configs[config_id] = None if reason else found
        return configs[config_id]

    if "meta" in providers:
        yield from _meta(session, transport, company_id, account_keys, config)
    if "dialog360" in providers:
        yield from _dialog360(session, transport, company_id, account_keys, config)
    if "twilio" in providers:
        yield from _twilio(session, transport, company_id, account_keys, config)


def _meta(session, transport, company_id, account_keys, config) -> Iterator[Target]:
    stmt = select(MetaWhatsAppClient).order_by(MetaWhatsAppClient.id)
    if company_id is not None:
        stmt = stmt.where(MetaWhatsAppClient.company_id == company_id)
    if account_keys is not None:
        stmt = stmt.where(MetaWhatsAppClient.waba_id.in_(account_keys))
    # Read up front: the sync commits between targets, which would expire (and reload one
    # by one) clients still held by a lazy loop.
    rows = [
        (c.company_id, c.waba_id, c.name, c.partner_configuration_id, c.access_token)
        for c in session.scalars(stmt)
        if c.readable
    ]
    graphs: dict[int, Any] = {}
    for company, waba_id, name, configuration_id, token in rows:
        configuration = config(configuration_id, f"WABA {waba_id}")
        if configuration is None:
            continue
        graph = graphs.get(configuration.id) or graphs.setdefault(
            configuration.id, clients.meta_graph(configuration, transport, max_attempts=1)
        )
        connection = MetaConnection(graph, waba_id, token or "")
        yield Target(company, "meta", waba_id, name, connection)


def _dialog360(session, transport, company_id, account_keys, config) -> Iterator[Target]:
    stmt = (
        select(
            Dialog360Channel.company_id,
            Dialog360Channel.waba_account_id,
            Dialog360Client.partner_configuration_id,
            Dialog360Client.name,
        )
        .join(Dialog360Client, Dialog360Client.id == Dialog360Channel.client_id)
        .where(Dialog360Channel.waba_account_id.is_not(None))
        .distinct()
        .order_by(Dialog360Channel.waba_account_id)
    )
    if company_id is not None:
        stmt = stmt.where(Dialog360Channel.company_id == company_id)
    if account_keys is not None:
        stmt = stmt.where(Dialog360Channel.waba_account_id.in_(account_keys))
    partners: dict[int, Any] = {}
    for row in session.execute(stmt).all():
        configuration = config(row.partner_configuration_id, f"WABA {row.waba_account_id}")
        if configuration is None:
            continue
        partner = partners.get(configuration.id) or partners.setdefault(
            configuration.id, clients.dialog360_partner(configuration, transport, max_attempts=1)
        )
        connection = Dialog360Connection(partner, row.waba_account_id)
        yield Target(row.company_id, "dialog360", row.waba_account_id, row.name, connection)


def _twilio(session, transport, company_id, account_keys, config) -> Iterator[Target]:
    stmt = select(TwilioSubaccount).where(
        TwilioSubaccount.account_sid.is_not(None),
        TwilioSubaccount.auth_token.is_not(None),
        TwilioSubaccount.status == "active",
    )
    if company_id is not None:
        stmt = stmt.where(TwilioSubaccount.company_id == company_id)
    if account_keys is not None:
        stmt = stmt.where(TwilioSubaccount.account_sid.in_(account_keys))
    for sub in session.scalars(stmt.order_by(TwilioSubaccount.id)):
        configuration = config(sub.partner_configuration_id, f"subaccount {sub.account_sid}")
        if configuration is None:
            continue
        api = clients.twilio_subaccount(configuration, sub.account_sid, sub.auth_token, transport)
        connection = TwilioConnection(api)
        yield Target(sub.company_id, "twilio", sub.account_sid, sub.friendly_name, connection)
