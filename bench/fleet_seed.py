"""A fleet of connected numbers in bulk, for the quality sync's tests and benchmark.

:func:`seed_fleet` creates WABAs with numbers, 360dialog clients with channels and Twilio
subaccounts with senders straight in the sandbox's state (no popups, no webhooks), and
returns plain descriptions. :func:`record_fleet` then writes the platform's side, as if
every company had finished onboarding: clients, provider rows and unified channels, in
bulk inserts. The recorded health is left unknown: a first sync reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from provisioning.channels import Channel
from provisioning.db import Base
from provisioning.dialog360.models import Dialog360Channel, Dialog360Client
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.partners import Provider
from provisioning.twilio.models import TwilioSubaccount, TwilioWhatsAppSender

if TYPE_CHECKING:
    from provisioning.sandbox import Sandbox


@dataclass
class FleetWaba:
    waba_id: str
    phone_number_ids: list[str]
    numbers: list[str]  # digits, no "+"
    token: str = field(repr=False)


@dataclass
class FleetClient:
    client_id: str
    channel_ids: list[str]
    numbers: list[str]  # E.164


@dataclass
class FleetSubaccount:
    account_sid: str
    sender_sids: list[str]
    sender_ids: list[str]  # whatsapp:+E164
    auth_token: str = field(repr=False)


@dataclass
class Fleet:
    meta: list[FleetWaba] = field(default_factory=list)
    dialog360: list[FleetClient] = field(default_factory=list)
    twilio: list[FleetSubaccount] = field(default_factory=list)

    def channels(self) -> dict[Provider, int]:
        return {
            Provider.META: sum(len(w.phone_number_ids) for w in self.meta),
            Provider.DIALOG360: sum(len(c.channel_ids) for c in self.dialog360),
            Provider.TWILIO: sum(len(s.sender_sids) for s in self.twilio),
        }


def seed_fleet(
    sandbox: Sandbox,
    *,
    meta_app_id: str | None = None,
    wabas: int = 0,
    numbers_per_waba: int = 1,
    dialog360_clients: int = 0,
    channels_per_client: int = 1,
    twilio_subaccounts: int = 0,
    senders_per_subaccount: int = 1,
) -> Fleet:
    """Create the fleet in the sandbox: registered numbers, running channels, online
    senders (the partner app, partner hub and master account must be seeded first)."""
    fleet = Fleet()
    if wabas:
        if meta_app_id is None:
            raise ValueError("WABAs are shared with the partner app: give meta_app_id")
        fleet.meta = [_seed_waba(sandbox, meta_app_id, numbers_per_waba) for _ in range(wabas)]
    for _ in range(dialog360_clients):
        seeded = sandbox.dialog360.control_seed_channels(count=channels_per_client)
        fleet.dialog360.append(
            FleetClient(seeded["client_id"], seeded["channel_ids"], seeded["phone_numbers"])
        )
    if twilio_subaccounts:
        seeded_subs = sandbox.twilio.control_seed_subaccounts(
            count=twilio_subaccounts, senders_per_account=senders_per_subaccount
        )
        for sub in seeded_subs:
            sender_ids = [sandbox.twilio.senders[sid]["sender_id"] for sid in sub["senders"]]
            fleet.twilio.append(
                FleetSubaccount(sub["account_sid"], sub["senders"], sender_ids, sub["auth_token"])
            )
    return fleet


def _seed_waba(sandbox: Sandbox, app_id: str, numbers: int) -> FleetWaba:
    seeded = sandbox.meta.control_seed_waba(
        app_id=app_id, numbers=numbers, status="CONNECTED", subscribe=True
    )
    return FleetWaba(
        seeded["waba_id"],
        seeded["phone_number_ids"],
        seeded["display_phone_numbers"],
        seeded["access_token"],
    )


def record_fleet(
    session: Session,
    fleet: Fleet,
    company_ids: Sequence[int],
    configuration_ids: dict[Provider, int],
) -> None:
    """Write the platform's rows for ``fleet``; WABA, client and subaccount ``i`` belong
    to ``company_ids[i % len(company_ids)]`` (a company has at most one subaccount, so
    there must be as many companies as subaccounts)."""
    if len(fleet.twilio) > len(company_ids):
        raise ValueError("a company holds one Twilio subaccount: give more companies")

    def company(i: int) -> int:
        return company_ids[i % len(company_ids)]

    if fleet.meta:
        _record_meta(session, fleet.meta, company, configuration_ids[Provider.META])
    if fleet.dialog360:
        _record_dialog360(session, fleet.dialog360, company, configuration_ids[Provider.DIALOG360])
    if fleet.twilio:
        _record_twilio(session, fleet.twilio, company, configuration_ids[Provider.TWILIO])
    session.flush()


def _insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert; the new ids in the order of ``rows``."""
    if not rows:
        return []
    stmt = insert(model).returning(model.__table__.c.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, rows))


def _channels(session: Session, provider: Provider, refs: list[tuple[int, str, str]]) -> list[int]:
    """One unified channel per (company, provider ref, E.164 number), health unknown."""
    rows = [
        {"company_id": c, "provider": provider, "provider_ref": ref, "phone_number": number}
        for c, ref, number in refs
    ]
    return _insert(session, Channel, rows)


def _record_meta(session: Session, wabas: list[FleetWaba], company, config_id: int) -> None:
    client_ids = _insert(
        session,
        MetaWhatsAppClient,
        [
            {
                "company_id": company(i),
                "partner_configuration_id": config_id,
                "waba_id": waba.waba_id,
                "name": f"WABA {waba.waba_id}",
                "access_token": waba.token,
                "status": "active",
            }
            for i, waba in enumerate(wabas)
        ],
    )
    numbers = [
        (company(i), client_id, phone_id, digits)
        for i, (waba, client_id) in enumerate(zip(wabas, client_ids, strict=True))
        for phone_id, digits in zip(waba.phone_number_ids, waba.numbers, strict=True)
    ]
    channel_ids = _channels(
        session, Provider.META, [(c, phone_id, f"+{digits}") for c, _, phone_id, digits in numbers]
    )
    _insert(
        session,
        MetaWhatsAppPhoneNumber,
        [
            {
                "company_id": c,
                "client_id": client_id,
                "channel_id": channel_id,
                "phone_number_id": phone_id,
                "display_phone_number": digits,
            }
            for (c, client_id, phone_id, digits), channel_id in zip(
                numbers, channel_ids, strict=True
            )
        ],
    )


def _record_dialog360(
    session: Session, clients: list[FleetClient], company, config_id: int
) -> None:
    client_ids = _insert(
        session,
        Dialog360Client,
        [
            {
                "company_id": company(i),
                "partner_configuration_id": config_id,
                "client_id": client.client_id,
                "name": f"Client {client.client_id}",
            }
            for i, client in enumerate(clients)
        ],
    )
    channels = [
        (company(i), row_id, channel_id, number)
        for i, (client, row_id) in enumerate(zip(clients, client_ids, strict=True))
        for channel_id, number in zip(client.channel_ids, client.numbers, strict=True)
    ]
    channel_ids = _channels(
        session, Provider.DIALOG360, [(c, ch, number) for c, _, ch, number in channels]
    )
    _insert(
        session,
        Dialog360Channel,
        [
            {
                "company_id": c,
                "client_id": row_id,
                "channel_id": channel_id,
                "dialog_channel_id": ch,
                "phone_number": number,
                "api_key": f"fleet-key-{ch}",
            }
            for (c, row_id, ch, number), channel_id in zip(channels, channel_ids, strict=True)
        ],
    )


def _record_twilio(session: Session, subs: list[FleetSubaccount], company, config_id: int) -> None:
    sub_ids = _insert(
        session,
        TwilioSubaccount,
        [
            {
                "company_id": company(i),
                "partner_configuration_id": config_id,
                "account_sid": sub.account_sid,
                "auth_token": sub.auth_token,
                "friendly_name": f"Fleet {sub.account_sid}",
                "status": "active",
            }
            for i, sub in enumerate(subs)
        ],
    )
    senders = [
        (company(i), sub_id, sid, sender_id)
        for i, (sub, sub_id) in enumerate(zip(subs, sub_ids, strict=True))
        for sid, sender_id in zip(sub.sender_sids, sub.sender_ids, strict=True)
    ]
    channel_ids = _channels(
        session,
        Provider.TWILIO,
        [(c, sid, sender_id.removeprefix("whatsapp:")) for c, _, sid, sender_id in senders],
    )
    _insert(
        session,
        TwilioWhatsAppSender,
        [
            {
                "company_id": c,
                "subaccount_id": sub_id,
                "channel_id": channel_id,
                "sender_id": sender_id,
                "sender_sid": sid,
                "waba_id": "fleet",
                "profile_name": f"Fleet {sid[-6:]}",
                "status": "REQUESTED",
            }
            for (c, sub_id, sid, sender_id), channel_id in zip(senders, channel_ids, strict=True)
        ],
    )
