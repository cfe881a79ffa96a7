"""What the hub's permissions page does on consent (fact sheet "Simulator checklist")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from . import lifecycle
from .state import Channel, Client, Partner, Waba

if TYPE_CHECKING:
    from .base import Dialog360Base

PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{6,20}$")


class OnboardingError(ValueError):
    """A problem the client sees on the hub page (bad input, no redirect URL...)."""


@dataclass
class Grant:
    """One consent: who, which new numbers, which existing channels stay or go."""

    partner: Partner
    email: str
    name: str
    partner_payload: str | None = None
    client_id: str | None = None  # reuse (login, connect_client_user)
    password: str | None = None
    numbers: list[tuple[str, str]] = field(default_factory=list)  # (number, display name)
    keep: list[str] | None = None  # existing channel ids still granted; None: all
    api_key_permission: bool = True
    redirect_url: str | None = None
    state: str | None = None


@dataclass
class Outcome:
    client: Client
    channels: list[Channel]
    revoked: list[Channel]
    location: str


def normalize_number(raw: str) -> str:
    if not PHONE_RE.match(raw.strip()):
        raise OnboardingError(f"{raw!r} is not a phone number")
    digits = re.sub(r"\D", "", raw)
    return "+" + digits


def redirect_target(partner: Partner, redirect_url: str | None) -> str:
    target = redirect_url or partner.partner_redirect_url
    if not target:
        # Without a redirect URL the permission cannot be shared (fact sheet §1 settings)
        raise OnboardingError(
            "This partner has no redirect URL configured, so the permission cannot be shared."
        )
    return target


def complete(sim: Dialog360Base, grant: Grant) -> Outcome:
    """Create or reuse the client, create channels (status ``created``), revoke un-granted
    ones, send the webhooks and build the redirect."""
    store, partner = sim.store, grant.partner
    target = redirect_target(partner, grant.redirect_url)
    numbers = [(normalize_number(n), name) for n, name in grant.numbers]
    client = store.clients.get(grant.client_id) if grant.client_id else None
    if client is not None and client.partner_id != partner.id:
        raise OnboardingError("Unknown client")
    if client is None:
        client = store.client_by_email(partner.id, grant.email)
    existing = store.channels_of(client.id) if client else []
    for number, _ in numbers:
        other = store.channel_by_number(partner.id, number)
        if (
            other is not None
            and not other.revoked
            and (client is None or other.client_id != client.id)
        ):
            raise OnboardingError(f"{number} is already connected to another account")
    existing_numbers = {c.phone_number: c for c in existing}
    new_numbers = [(n, name) for n, name in numbers if n not in existing_numbers]
    keep_ids = {c.id for c in existing} if grant.keep is None else set(grant.keep)
    keep_ids |= {existing_numbers[n].id for n, _ in numbers if n in existing_numbers}
    if not new_numbers and not keep_ids:
        raise OnboardingError("Add at least one phone number")

    created_client = client is None
    if client is None:
        client = Client(
            id=sim.sandbox.ids.alnum(8) + "CL",
            partner_id=partner.id,
            name=grant.name or grant.email,
            email=grant.email,
            created_at=sim.clock.time(),
            partner_payload=grant.partner_payload,
            password=grant.password,
        )
        store.clients[client.id] = client
    elif grant.partner_payload is not None:
        client.partner_payload = grant.partner_payload
    if created_client:
        sim.partner_webhooks.emit(partner.id, "client_created", client.to_json())

    kept = [c for c in existing if c.id in keep_ids]
    revoked = [c for c in existing if c.id not in keep_ids]
    for channel in revoked:
        sim.revoke(channel)
    for channel in kept:
        channel.api_key_permission = channel.api_key_permission or grant.api_key_permission
    fresh = [
        sim.new_channel(client, number, name, api_key_permission=grant.api_key_permission)
        for number, name in new_numbers
    ]
    for channel in fresh:
        sim.partner_webhooks.channel_event(channel, "channel_created")
        lifecycle.schedule(sim, channel)
    granted = kept + fresh
    location = build_redirect(target, client.id, granted, revoked, partner, grant.state)
    return Outcome(client, granted, revoked, location)


def build_redirect(
    target: str,
    client_id: str,
    channels: list[Channel],
    revoked: list[Channel],
    partner: Partner,
    state: str | None,
) -> str:
    """``?client=<id>&channels=[id1,id2]`` bracketed and unquoted, ``&revoked=[...]`` when
    any (fact sheet §1 "Redirect back"). ``state`` is echoed when the partner's
    ``echo_state`` switch is on: upstream behaviour is [unknown], the default is on."""
    query = f"client={client_id}&channels=[{','.join(c.id for c in channels)}]"
    if revoked:
        query += f"&revoked=[{','.join(c.id for c in revoked)}]"
    if state is not None and partner.echo_state:
        query += f"&state={quote(state, safe='')}"
    separator = "&" if "?" in target else "?"
    return f"{target}{separator}{query}"


def waba_for(sim: Dialog360Base, client: Client) -> Waba:
    """The client's WABA (one per client in the sandbox), created on first use."""
    for waba in sim.store.wabas.values():
        if waba.client_id == client.id:
            return waba
    ids = sim.sandbox.ids
    waba = Waba(
        id=ids.alnum(8) + "WA",
        external_id=ids.digits(15),
        client_id=client.id,
        partner_id=client.partner_id,
        name=client.name,
        namespace=f"{ids.hex(8)}_{ids.hex(4)}_{ids.hex(4)}_{ids.hex(4)}_{ids.hex(12)}",
        fb_business_id=ids.digits(15),
    )
    sim.store.wabas[waba.id] = waba
    return waba
