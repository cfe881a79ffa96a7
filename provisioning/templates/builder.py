"""Submitting a template a person built: checked first, recorded before the provider is
asked, looked up after a lost answer, never created twice.

The row is written as a DRAFT and made durable before the call. A refusal removes it
(nothing half-written stays); an answer that never came leaves the draft, and the next
submit (or the sync) finds what the provider made before asking again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..db import utcnow
from ..errors import DomainError, ProviderError, Retryable, Unreachable
from . import core, rules
from .connections import Connection
from .models import MessageTemplate, TemplateAccount, TemplateChange

# Meta lets a WhatsApp account create at most 100 templates an hour (360dialog passes
# Meta's limit on); Twilio documents no hourly cap.
HOURLY_CAP = {"meta": 100, "dialog360": 100}


class InvalidTemplate(DomainError):
    """The draft breaks a provider's rule; ``problems`` maps form fields to messages."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        first = next(iter(problems.values()))[0]
        super().__init__(f"The template cannot be submitted: {first}")
        self.problems = problems


class Conflict(DomainError):
    """The template exists already, or the provider's hourly cap is reached."""


def created_last_hour(session: Session, account: TemplateAccount, now: dt.datetime) -> int:
    return int(
        session.scalar(
            select(func.count(TemplateChange.id))
            .join(MessageTemplate, MessageTemplate.id == TemplateChange.template_id)
            .where(
                MessageTemplate.account_id == account.id,
                TemplateChange.kind == "created",
                TemplateChange.source == "builder",
                TemplateChange.at > now - dt.timedelta(hours=1),
            )
        )
        or 0
    )


def submit(
    session: Session,
    durable: Callable[[], None],
    actor: audit.Actor,
    account: TemplateAccount,
    draft: rules.Draft,
    connection: Connection,
) -> MessageTemplate:
    """Check the draft, record it, submit it; the stored template as the provider answered."""
    problems = rules.problems(draft, account.provider)
    if problems:
        raise InvalidTemplate(problems)
    now = utcnow()
    row = core.find(session, account, name=draft.name, language=draft.language)
    if row is not None and row.status != "DRAFT":
        raise Conflict(
            f"A template named {draft.name} in {draft.language} exists already: edit it, or "
            "choose another name."
        )
    if row is None:
        cap = HOURLY_CAP.get(account.provider)
        if cap is not None and created_last_hour(session, account, now) >= cap:
            raise Conflict(
                f"The provider accepts at most {cap} new templates an hour for this account: "
                "try again later."
            )
        row = _record_draft(session, actor, account, draft, now)
        durable()
    else:  # an earlier submit lost its answer: the provider may hold it already
        found = _lookup(connection, draft)
        if found is not None:
            core.apply_remote(session, row, found, source="builder", at=now)
            return row
    payload = rules.payload(draft)
    try:
        remote = connection.submit(payload)
    except core.Malformed as exc:  # the provider cannot express this draft
        _forget(session, durable, row)
        raise InvalidTemplate({"template": [str(exc)]}) from exc
    except Retryable as exc:
        if not _may_have_acted(exc):
            _forget(session, durable, row)
            raise
        found = _lookup(connection, draft)
        if found is None:
            raise Unreachable(
                exc.provider,
                "The provider did not confirm the template. It is kept as a draft: submit it "
                "again, nothing will be created twice.",
                exc.http_status,
            ) from exc
        remote = found
    except ProviderError:
        _forget(session, durable, row)
        raise
    core.apply_remote(session, row, remote, source="builder", at=utcnow())
    return row


def _record_draft(session, actor, account, draft: rules.Draft, now) -> MessageTemplate:
    remote = core.RemoteTemplate(
        None,
        draft.name,
        draft.language,
        draft.category,
        "DRAFT",
        rules.components(draft),
        draft.parameter_format,
    )
    row = core.create(session, account, remote, source="builder", at=now)
    row.fingerprint = ""
    audit.record(
        session,
        actor,
        "template.submit",
        row,
        company_id=account.company_id,
        name=draft.name,
        language=draft.language,
        category=draft.category,
    )
    return row


def _may_have_acted(exc: Retryable) -> bool:
    """No answer, or a server error: the provider may have created it all the same. A
    throttle refused it."""
    return isinstance(exc, Unreachable) or (exc.http_status or 0) >= 500


def _forget(session: Session, durable: Callable[[], None], row: MessageTemplate) -> None:
    """The provider refused: the draft goes, nothing half-written stays."""
    session.delete(row)
    durable()


def _lookup(connection: Connection, draft: rules.Draft) -> core.RemoteTemplate | None:
    try:
        return connection.find(draft.name, draft.language)
    except ProviderError:
        return None
