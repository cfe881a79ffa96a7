"""A registered number's settings: its two-step verification PIN, its registration calls,
and deregistration (issue 17 items 1 and 2).

The PIN is kept encrypted on the number's row. A new PIN is recorded (``pin_pending``) and
made durable before Meta is asked, so an answer lost after Meta applied it loses no PIN:
setting the same PIN again is harmless, and the page offers it. Meta's ``security``
webhook (PIN changed or reset elsewhere) marks the stored PIN stale instead of trusting it.

Meta allows 10 register and deregister calls per number in 72 hours and does not say how
many are left; the platform counts its own (``register_calls``) and shows the rest before
each try. Registration: developers.facebook.com/documentation/business-messaging/whatsapp/
business-phone-numbers/registration; two-step verification: .../two-step-verification.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from .. import audit, clients
from ..db import utcnow
from ..errors import DomainError, ProviderError, Retryable, Unreachable
from ..partners import PartnerConfiguration, unusable_reason
from ..tenancy import tenant_get, tenant_select
from . import numbers as graph_numbers
from .models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber

PIN_RE = re.compile(r"^[0-9]{6}$")
REGISTER_LIMIT = 10
REGISTER_WINDOW = dt.timedelta(hours=72)


@dataclass
class NumberAccess:
    """A built Graph client and the business token for one number's WABA."""

    graph: Any
    token: str
    phone_id: str


def access(session: Session, number: MetaWhatsAppPhoneNumber, transport: Any) -> NumberAccess:
    """Graph for this number, or a DomainError saying why it cannot be reached now."""
    client: MetaWhatsAppClient = number.client
    if not client.readable or not client.access_token:
        raise DomainError(
            "The platform can no longer read this WhatsApp account: a company admin must "
            "connect it again."
        )
    config_id = client.partner_configuration_id
    config = session.get(PartnerConfiguration, config_id) if config_id else None
    reason = unusable_reason(config)
    if reason or config is None:
        raise DomainError(f"Meta cannot be reached now: {reason}.")
    return NumberAccess(
        clients.meta_graph(config, transport), client.access_token, number.phone_number_id
    )


def registration_calls_left(number: MetaWhatsAppPhoneNumber, now: dt.datetime | None = None) -> int:
    """Meta's register and deregister calls this number has left in the 72-hour window,
    as far as the platform's own calls tell."""
    return max(0, REGISTER_LIMIT - len(_recent_calls(number, now or utcnow())))


def count_registration_call(
    number: MetaWhatsAppPhoneNumber, now: dt.datetime | None = None
) -> None:
    """Record a register or deregister call (before it is made), keeping the window's."""
    now = now or utcnow()
    number.register_calls = [t.isoformat() for t in [*_recent_calls(number, now), now]]


def _recent_calls(number: MetaWhatsAppPhoneNumber, now: dt.datetime) -> list[dt.datetime]:
    """The calls made within the 72-hour window before ``now``."""
    return [t for t in _calls(number) if t > now - REGISTER_WINDOW]


def _calls(number: MetaWhatsAppPhoneNumber) -> list[dt.datetime]:
    found = []
    for text in number.register_calls or []:
        try:
            when = dt.datetime.fromisoformat(text)
        except (TypeError, ValueError):
            continue
        found.append(when if when.tzinfo else when.replace(tzinfo=dt.UTC))
    return found


def set_pin(
    session: Session,
    durable: Callable[[], None],
    actor: audit.Actor,
    number: MetaWhatsAppPhoneNumber,
    pin: str,
    reach: NumberAccess,
) -> None:
    """Set or change the number's two-step verification PIN at Meta and keep it."""
    if not PIN_RE.match(pin or ""):
        raise DomainError("A two-step verification PIN is six digits.")
    number.pin_pending = pin
    durable()
    try:
        with reach.graph:
            graph_numbers.set_pin(reach.graph, reach.phone_id, reach.token, pin)
    except Retryable as exc:
        raise Unreachable(
            "meta",
            "Meta did not confirm the new PIN. It is kept as pending: set it again (the same "
            "PIN is sent, which is harmless).",
            exc.http_status,
        ) from exc
    except ProviderError:
        number.pin_pending = None
        durable()
        raise
    number.pin, number.pin_pending, number.pin_stale_at = pin, None, None
    audit.record(session, actor, "number.pin_set", number, company_id=number.company_id)


def mark_pin_stale(number: MetaWhatsAppPhoneNumber, at: dt.datetime | None) -> None:
    """Meta says the PIN changed elsewhere: keep it, but no longer trust it."""
    number.pin_stale_at = at or utcnow()


def deregister(
    session: Session,
    durable: Callable[[], None],
    actor: audit.Actor,
    number: MetaWhatsAppPhoneNumber,
    reach: NumberAccess,
) -> None:
    """Take the number off Cloud API (it stops sending and receiving until registered
    again); counted against Meta's 10 calls per 72 hours, so refused when none is left."""
    if registration_calls_left(number) == 0:
        raise DomainError(
            "Meta allows 10 register and deregister calls per number in 72 hours, and this "
            "number has used them: try again later."
        )
    count_registration_call(number)
    durable()
    with reach.graph:
        graph_numbers.deregister(reach.graph, reach.phone_id, reach.token)
    number.registered_at = None
    number.status = "DISCONNECTED"
    audit.record(session, actor, "number.deregister", number, company_id=number.company_id)


def numbers_of(session: Session, company_id: int) -> list[MetaWhatsAppPhoneNumber]:
    """The company's Meta numbers, by WhatsApp account then number."""
    return list(
        session.scalars(
            tenant_select(MetaWhatsAppPhoneNumber, company_id).order_by(
                MetaWhatsAppPhoneNumber.client_id, MetaWhatsAppPhoneNumber.display_phone_number
            )
        )
    )


def accounts_of(session: Session, company_id: int) -> list[MetaWhatsAppClient]:
    """The company's Meta WhatsApp accounts a number can be added to."""
    return list(
        session.scalars(
            tenant_select(MetaWhatsAppClient, company_id)
            .where(MetaWhatsAppClient.status.not_in(("disconnected", "offboarded")))
            .order_by(MetaWhatsAppClient.id)
        )
    )


def account_of(session: Session, company_id: int, client_id: int) -> MetaWhatsAppClient:
    return tenant_get(session, MetaWhatsAppClient, company_id, client_id)


def number_of(session: Session, company_id: int, number_id: int) -> MetaWhatsAppPhoneNumber:
    return tenant_get(session, MetaWhatsAppPhoneNumber, company_id, number_id)
