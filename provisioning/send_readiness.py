"""Whether a channel can send now, and if not, why: :func:`assess` is a pure function over
the channel and its provider rows (:class:`Details`, loaded for many channels at once by
:func:`details_of`).

A channel is ready when its status is the provider's sending status (Meta ``CONNECTED``,
360dialog ``running``/``live``, Twilio ``ONLINE``), it needs no new authorization, and its
provider rows show nothing that stops it: a Meta number not registered for the Cloud API,
its display name not approved or Meta's ``health_status`` saying it cannot send; a
360dialog channel revoked, without its API key or with template messaging disabled; a
Twilio sender offline or its subaccount closed.

The channel events (:mod:`provisioning.platform_events`) carry it: this module registers
itself there, as it reads every provider's rows and the events module may not import them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from . import platform_events
from .channels import Channel
from .dialog360.models import Dialog360Channel
from .meta.models import MetaWhatsAppPhoneNumber
from .meta.onboarding import NAME_READY, send_readiness_drop
from .partners import Provider
from .twilio.models import TwilioSubaccount, TwilioWhatsAppSender
from .twilio.senders import offline_reason_text

SENDING = {
    Provider.META: ("CONNECTED",),
    Provider.DIALOG360: ("RUNNING", "LIVE"),
    Provider.TWILIO: ("ONLINE", "ONLINE:UPDATING"),
}
REAUTHORIZE = "the provider refused the platform's access: a company admin must connect again"


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Details:
    """A channel's provider rows (None: not on record)."""

    meta_number: MetaWhatsAppPhoneNumber | None = None  # its client loaded
    dialog_channel: Dialog360Channel | None = None
    twilio_sender: TwilioWhatsAppSender | None = None
    twilio_subaccount: TwilioSubaccount | None = None


def assess(channel: Channel, details: Details, *, status: str | None = None) -> Readiness:
    """Whether ``channel`` can send now and why not; ``status`` stands in for the
    channel's own (what it was before a change)."""
    status = (channel.status if status is None else status) or "UNKNOWN"
    reasons: list[str] = []
    expected = SENDING[channel.provider]
    if status.upper() not in expected:
        reasons.append(f"its status is {status} (it sends when {' or '.join(expected)})")
    if channel.needs_reauthorization:
        reasons.append(REAUTHORIZE)
    reasons += _PROVIDER_REASONS[channel.provider](details)
    return Readiness(not reasons, tuple(reasons))


def _meta(details: Details) -> list[str]:
    number = details.meta_number
    if number is None:
        return ["its Meta number is not on record yet: onboarding has not finished"]
    reasons = []
    if not number.client.access_token:
        reasons.append("its WhatsApp Business account has no access token yet")
    registered = number.status == "CONNECTED" or number.platform_type == "CLOUD_API"
    if not (registered or number.is_on_biz_app):
        reasons.append("the number is not registered for the Cloud API")
    if number.name_status and number.name_status not in NAME_READY:
        reasons.append(f"its display name is {number.name_status}, not approved")
    return reasons + send_readiness_drop({}, number.health_status)


def _dialog360(details: Details) -> list[str]:
    row = details.dialog_channel
    if row is None:
        return ["its 360dialog channel is not on record yet: onboarding has not finished"]
    reasons = []
    if row.revoked_at is not None:
        reasons.append("its 360dialog API key was revoked")
    elif not row.api_key:
        reasons.append("it has no 360dialog API key yet")
    if row.template_messaging is False:
        reasons.append("360dialog disabled template messaging: business-initiated messages fail")
    return reasons


def _twilio(details: Details) -> list[str]:
    sender, subaccount = details.twilio_sender, details.twilio_subaccount
    if sender is None:
        return ["its Twilio sender is not on record yet: onboarding has not finished"]
    reasons = []
    if (sender.status or "").upper() == "OFFLINE":
        reasons += [
            f"Twilio: {offline_reason_text(r)}"
            for r in sender.offline_reasons
            if isinstance(r, dict)
        ]
    if subaccount is None or not subaccount.auth_token:
        reasons.append("its Twilio subaccount has no credentials")
    elif subaccount.status != "active":
        reasons.append(f"its Twilio subaccount is {subaccount.status}")
    return reasons


_PROVIDER_REASONS = {Provider.META: _meta, Provider.DIALOG360: _dialog360, Provider.TWILIO: _twilio}


def details_of(session: Session, channels: Iterable[Channel]) -> dict[int, Details]:
    """The provider rows of ``channels`` (by channel id): one query per provider. Rows are
    found by the channel's provider id, so a channel published a moment ago has them."""
    channels = list(channels)
    refs = {(c.provider, c.provider_ref): c for c in channels}
    found: dict[int, dict[str, Any]] = {c.id: {} for c in channels}

    def wanted(provider: Provider) -> list[str]:
        return [ref for (p, ref) in refs if p is provider]

    def keep(provider: Provider, ref: str | None, company_id: int, **rows: Any) -> None:
        channel = refs.get((provider, ref or ""))
        if channel is not None and channel.company_id == company_id:
            found[channel.id].update(rows)

    if meta := wanted(Provider.META):
        for number in session.scalars(
            select(MetaWhatsAppPhoneNumber)
            .where(MetaWhatsAppPhoneNumber.phone_number_id.in_(meta))
            .options(selectinload(MetaWhatsAppPhoneNumber.client))
        ):
            keep(Provider.META, number.phone_number_id, number.company_id, meta_number=number)
    if dialog := wanted(Provider.DIALOG360):
        for row in session.scalars(
            select(Dialog360Channel).where(Dialog360Channel.dialog_channel_id.in_(dialog))
        ):
            keep(Provider.DIALOG360, row.dialog_channel_id, row.company_id, dialog_channel=row)
    if twilio := wanted(Provider.TWILIO):
        senders = session.scalars(
            select(TwilioWhatsAppSender).where(TwilioWhatsAppSender.sender_sid.in_(twilio))
        ).all()
        subaccounts = {
            s.id: s
            for s in session.scalars(
                select(TwilioSubaccount).where(
                    TwilioSubaccount.id.in_({s.subaccount_id for s in senders})
                )
            )
        }
        for sender in senders:
            subaccount = subaccounts.get(sender.subaccount_id)
            keep(Provider.TWILIO, sender.sender_sid, sender.company_id, twilio_sender=sender,
                 twilio_subaccount=subaccount)  # fmt: skip
    return {channel_id: Details(**rows) for channel_id, rows in found.items()}


def of_channels(session: Session, channels: Iterable[Channel]) -> dict[int, Readiness]:
    """The readiness of each of ``channels``, by channel id."""
    channels = list(channels)
    details = details_of(session, channels)
    return {c.id: assess(c, details[c.id]) for c in channels}


def before_and_after(session: Session, channel: Channel, status_before: str) -> tuple[dict, dict]:
    """The channel's readiness with its status before a change, and now (for its event)."""
    details = details_of(session, [channel])[channel.id]
    before = assess(channel, details, status=status_before or None)
    return before.as_dict(), assess(channel, details).as_dict()


platform_events.register_readiness(before_and_after)
