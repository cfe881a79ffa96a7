"""One way to reach each provider's templates: list, submit, and find after a lost answer.

A connection holds a built client and the credentials of one account (plain values: the
sync's worker threads use it without a session).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clients
from ..dialog360 import templates as dialog360_templates
from ..dialog360.models import Dialog360Channel, Dialog360Client
from ..errors import DomainError, ProviderError
from ..meta import templates as meta_templates
from ..meta.models import MetaWhatsAppClient
from ..partners import PartnerConfiguration, unusable_reason
from ..twilio import templates as twilio_templates
from ..twilio.models import TwilioSubaccount
from .core import Listing, RemoteTemplate
from .models import TemplateAccount


class Connection(Protocol):
    def list(self) -> Listing: ...
    def submit(self, payload: dict[str, Any]) -> RemoteTemplate: ...
    def find(self, name: str, language: str) -> RemoteTemplate | None: ...


@dataclass
class MetaConnection:
    graph: Any = field(repr=False)
    waba_id: str
    token: str = field(repr=False)

    def list(self) -> Listing:
        return meta_templates.list_templates(self.graph, self.waba_id, self.token)

    def submit(self, payload: dict[str, Any]) -> RemoteTemplate:
        answer = meta_templates.submit(self.graph, self.waba_id, self.token, payload)
        remote = RemoteTemplate(
            str(answer["id"]),
            payload["name"],
            payload["language"],
            str(answer.get("category") or payload["category"]),
            str(answer.get("status") or "PENDING"),
            payload.get("components", []),
            payload.get("parameter_format", "POSITIONAL"),
            library_template_name=payload.get("library_template_name"),
        )
        if remote.library_template_name:  # the library wrote the content: read it back
            try:
                return self.find(remote.name, remote.language) or remote
            except ProviderError:
                return remote  # the sync reads it later
        return remote

    def find(self, name: str, language: str) -> RemoteTemplate | None:
        return meta_templates.find(self.graph, self.waba_id, self.token, name, language)

    def library(self, search: str, language: str) -> builtins.list[dict[str, Any]]:
        """Meta's Template Library items matching ``search`` in ``language`` (any if empty)."""
        return meta_templates.library(
            self.graph, self.token, search=search or None, language=language or None
        )


@dataclass
class Dialog360Connection:
    partner: Any = field(repr=False)
    waba_account_id: str

    def list(self) -> Listing:
        return dialog360_templates.list_templates(self.partner, self.waba_account_id)

    def submit(self, payload: dict[str, Any]) -> RemoteTemplate:
        return dialog360_templates.submit(self.partner, self.waba_account_id, payload)

    def find(self, name: str, language: str) -> RemoteTemplate | None:
        return dialog360_templates.find(self.partner, self.waba_account_id, name, language)


@dataclass
class TwilioConnection:
    api: Any = field(repr=False)

    def list(self) -> Listing:
        return twilio_templates.list_templates(self.api)

    def submit(self, payload: dict[str, Any]) -> RemoteTemplate:
        """Resumes: a content item an earlier, unanswered submit made is found by its name
        and only its WhatsApp approval is asked for."""
        return twilio_templates.submit(self.api, payload, resume=True)

    def find(self, name: str, language: str) -> RemoteTemplate | None:
        """The submitted template; an item whose approval was never asked for is not."""
        listing = twilio_templates.list_templates(self.api)
        found = next((t for t in listing.templates if t.key == (name, language)), None)
        return None if found is None or found.status == "DRAFT" else found


class NoConnection(DomainError):
    """The account's credentials or partner configuration cannot be used now."""


def connect(session: Session, account: TemplateAccount, transport: Any) -> Connection:
    """The connection of a stored account, or :class:`NoConnection` saying why not."""
    match account.provider:
        case "meta":
            client = session.scalars(
                select(MetaWhatsAppClient).where(MetaWhatsAppClient.waba_id == account.account_key)
            ).one_or_none()
            if client is None or not client.readable:
                raise NoConnection(
                    "The platform can no longer read this WhatsApp account: a company admin "
                    "must connect it again."
                )
            config = _usable(session, client.partner_configuration_id)
            return MetaConnection(
                clients.meta_graph(config, transport), client.waba_id, client.access_token or ""
            )
        case "dialog360":
            config_id = session.scalar(
                select(Dialog360Client.partner_configuration_id)
                .join(Dialog360Channel, Dialog360Channel.client_id == Dialog360Client.id)
                .where(Dialog360Channel.waba_account_id == account.account_key)
                .limit(1)
            )
            config = _usable(session, config_id)
            return Dialog360Connection(
                clients.dialog360_partner(config, transport), account.account_key
            )
        case "twilio":
            sub = session.scalars(
                select(TwilioSubaccount).where(TwilioSubaccount.account_sid == account.account_key)
            ).one_or_none()
            if sub is None or not sub.auth_token or sub.status != "active":
                raise NoConnection("This Twilio subaccount is closed or still being created.")
            config = _usable(session, sub.partner_configuration_id)
            return TwilioConnection(
                clients.twilio_subaccount(config, sub.account_sid or "", sub.auth_token, transport)
            )
    raise NoConnection(f"Templates of {account.provider} are not supported.")


def library(
    session: Session, account: TemplateAccount, transport: Any, search: str, language: str
) -> list[dict[str, Any]]:
    """Meta's Template Library as a Meta account sees it (other providers have none)."""
    connection = connect(session, account, transport)
    if not isinstance(connection, MetaConnection):
        raise NoConnection("The Template Library is Meta's: choose a Meta account.")
    return connection.library(search, language)


def _usable(session: Session, config_id: int | None) -> PartnerConfiguration:
    config = session.get(PartnerConfiguration, config_id) if config_id else None
    reason = unusable_reason(config)
    if reason or config is None:
        raise NoConnection(f"Templates cannot be reached now: {reason}.")
    return config
