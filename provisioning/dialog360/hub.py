"""The partner hub's Integrated Onboarding page: the launch URL and the redirect back (§1)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import DomainError
from ..partners import PartnerConfiguration

ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def permissions_url(
    config: PartnerConfiguration, *, state: str, partner_payload: str, email: str, name: str
) -> str:
    """``{hub}/dashboard/app/{partner_id}/permissions?...`` for one launch.

    Whether the hub echoes ``state`` on its redirect is not documented (fact sheet §1), so
    the launch's nonce also travels inside ``redirect_url``: the return always carries it.
    """
    query = {
        "redirect_url": with_state(config.value("redirect_url"), state),
        "state": state,
        "partner": partner_payload,
        "email": email,
        "name": name,
    }
    hub = config.value("hub_url").rstrip("/")
    return f"{hub}/dashboard/app/{config.value('partner_id')}/permissions?{urlencode(query)}"


def with_state(url: str, state: str) -> str:
    """``url`` with ``state=<nonce>`` added to its query."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("state", state)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def returned_state(values: list[str]) -> str | None:
    """The launch's nonce from the return's ``state`` values (the one inside
    ``redirect_url``, and the hub's echo when it sends one): exactly one distinct value."""
    distinct = set(values)
    if len(distinct) != 1:
        return None
    state = distinct.pop()
    return state or None


def parse_id_list(value: str | None) -> list[str]:
    """``[a,b]`` (bracketed, comma-separated, unquoted) -> ``["a", "b"]``."""
    if value is None or value.strip() == "":
        return []
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise DomainError("The channel list from 360dialog is not a [a,b] list.")
    items = [item.strip().strip("'\"") for item in text[1:-1].split(",") if item.strip()]
    if not all(ID.fullmatch(item) for item in items):
        raise DomainError("The channel list from 360dialog holds an invalid id.")
    return items


def parse_return(args: dict[str, str]) -> tuple[str, list[str], list[str]]:
    """(client id, permitted channels, revoked channels) from the redirect's query."""
    client = (args.get("client") or "").strip()
    if not ID.fullmatch(client):
        raise DomainError("360dialog sent no valid client id back.")
    channels = parse_id_list(args.get("channels"))
    revoked = parse_id_list(args.get("revoked"))
    if not channels and not revoked:
        raise DomainError("360dialog sent back no channel.")
    return client, channels, revoked
