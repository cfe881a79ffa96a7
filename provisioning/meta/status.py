"""What the portal shows about a Meta number beside its channel's health: its business
portfolio's shared limit, its own throughput, whether Meta lets it send (and what to do
if not), and what Meta told about its account."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..channels import Channel
from ..partners import Provider
from .models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from .onboarding import health_errors

# M-tput: 80 messages/s by default, 1,000 after an automatic upgrade, 20 for a number
# also used in the WhatsApp Business app (coexistence).
THROUGHPUT = {"STANDARD": "80 messages/s", "HIGH": "1,000 messages/s (upgraded)"}
COEXISTENCE_THROUGHPUT = "20 messages/s (WhatsApp Business app number)"
READINESS = {
    "AVAILABLE": "Can send messages",
    "LIMITED": "Can send, with limits",
    "BLOCKED": "Cannot send messages",
}


@dataclass(frozen=True)
class MetaNumberStatus:
    waba_id: str
    client_status: str
    reauthorization_reason: str | None
    portfolio_name: str
    portfolio_business_id: str | None
    portfolio_limit: str | None
    portfolio_numbers: int
    verification_status: str | None
    throughput: str
    can_send: str | None
    readiness: str
    problems: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)


def number_status(session: Session, channel: Channel) -> MetaNumberStatus | None:
    """The Meta side of a channel, or None for another provider's channel."""
    if channel.provider is not Provider.META:
        return None
    number = session.scalars(
        select(MetaWhatsAppPhoneNumber)
        .where(
            MetaWhatsAppPhoneNumber.channel_id == channel.id,
            MetaWhatsAppPhoneNumber.company_id == channel.company_id,
        )
        .options(selectinload(MetaWhatsAppPhoneNumber.client).selectinload(
            MetaWhatsAppClient.portfolio
        ))
    ).one_or_none()  # fmt: skip
    if number is None:
        return None
    client, portfolio = number.client, number.client.portfolio
    health = number.health_status or {}
    can_send = health.get("can_send_message")
    if number.is_on_biz_app:
        throughput = COEXISTENCE_THROUGHPUT
    else:
        throughput = THROUGHPUT.get(number.throughput_level or "", number.throughput_level or "—")
    return MetaNumberStatus(
        waba_id=client.waba_id,
        client_status=client.status,
        reauthorization_reason=client.reauthorization_reason,
        portfolio_name=(portfolio.name if portfolio else "") or "",
        portfolio_business_id=portfolio.business_id if portfolio else client.business_id,
        portfolio_limit=portfolio.messaging_limit if portfolio else number.messaging_limit,
        portfolio_numbers=len(portfolio.phone_numbers) if portfolio else 1,
        verification_status=portfolio.verification_status if portfolio else None,
        throughput=throughput,
        can_send=can_send,
        readiness=READINESS.get(can_send or "", "Not read yet"),
        problems=health_errors(health),
        notices=list(reversed(client.notices or []))[:10],
    )
