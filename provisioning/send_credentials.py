"""A channel's send credentials: what the platform's messaging service needs to send from
the number, read one channel at a time and put on record each time.

- Meta: the WABA's business token, the phone number id and the Graph API base URL.
- 360dialog: the channel's API key (``D360-API-KEY``) and the Messaging API base URL.
- Twilio: the subaccount's SID and auth token, and the sender (``whatsapp:+E164``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .channels import Channel
from .dialog360.models import Dialog360Channel
from .errors import DomainError
from .meta.models import MetaWhatsAppPhoneNumber
from .partners import PartnerConfiguration, Provider
from .twilio.models import TwilioSubaccount, TwilioWhatsAppSender

NOT_READY = "This channel has no send credentials yet: its onboarding has not finished."


def read(session: Session, actor: audit.Actor, channel: Channel) -> dict[str, Any]:
    """The channel's send credentials; the read is audited (never the values)."""
    credentials = _READERS[channel.provider](session, channel)
    if credentials is None:
        raise DomainError(NOT_READY)
    audit.record(
        session, actor, "channel.credentials_read", channel, label=channel.phone_number,
        provider=channel.provider.value,
    )  # fmt: skip
    return {"provider": channel.provider.value, **credentials}


def _setting(session: Session, config_id: int | None, name: str) -> str:
    config = session.get(PartnerConfiguration, config_id) if config_id else None
    return config.value(name) if config is not None else ""


def _meta(session: Session, channel: Channel) -> dict[str, Any] | None:
    phone = session.scalars(
        select(MetaWhatsAppPhoneNumber).where(MetaWhatsAppPhoneNumber.channel_id == channel.id)
    ).first()
    if phone is None or not phone.client.access_token:
        return None
    config_id = phone.client.partner_configuration_id
    base = _setting(session, config_id, "graph_base_url").rstrip("/")
    version = _setting(session, config_id, "graph_api_version")
    return {
        "access_token": phone.client.access_token,
        "phone_number_id": phone.phone_number_id,
        "waba_id": phone.client.waba_id,
        "api_base_url": f"{base}/{version}" if base and version else base,
    }


def _dialog360(session: Session, channel: Channel) -> dict[str, Any] | None:
    row = session.scalars(
        select(Dialog360Channel).where(Dialog360Channel.channel_id == channel.id)
    ).first()
    if row is None or not row.api_key:
        return None
    return {
        "api_key": row.api_key,
        "api_base_url": _setting(session, row.client.partner_configuration_id, "waba_base_url"),
    }


def _twilio(session: Session, channel: Channel) -> dict[str, Any] | None:
    sender = session.scalars(
        select(TwilioWhatsAppSender).where(TwilioWhatsAppSender.channel_id == channel.id)
    ).first()
    subaccount = session.get(TwilioSubaccount, sender.subaccount_id) if sender else None
    if sender is None or subaccount is None or not subaccount.auth_token:
        return None
    return {
        "account_sid": subaccount.account_sid,
        "auth_token": subaccount.auth_token,
        "from": sender.sender_id,
    }


_READERS = {Provider.META: _meta, Provider.DIALOG360: _dialog360, Provider.TWILIO: _twilio}
