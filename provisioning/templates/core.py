"""What every provider's templates come down to: a listing reconciled with the stored
rows, and single changes told by webhooks, each recorded in the template's history.

Providers parse their own shapes into :class:`RemoteTemplate` (Meta's vocabulary);
a template their parser cannot read raises :class:`Malformed` and is kept in the
account's ``skipped`` list, never stopping the others. A change that needs a person
(rejected, paused, disabled, re-categorised) raises one alert for the company's admins;
every change is announced to the platform as ``template.updated``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import health, platform_events
from ..db import utcnow
from .models import ALERTING, MessageTemplate, TemplateAccount, TemplateChange
from .reasons import category_change_text, rejection_text

# Meta announces a re-categorisation a day before it applies it (template_category_update).
RECATEGORISE_AFTER = dt.timedelta(hours=24)
SKIPPED_KEPT = 50


class Malformed(ValueError):
    """A provider's template this code cannot read (the message says why)."""


@dataclass(frozen=True)
class RemoteTemplate:
    """One template as a provider lists it, in Meta's vocabulary."""

    provider_template_id: str | None
    name: str
    language: str
    category: str
    status: str
    components: list[Any] = field(default_factory=list)
    parameter_format: str = "POSITIONAL"
    rejected_reason: str | None = None
    quality_score: str | None = None
    previous_category: str | None = None
    impending_category: str | None = None
    library_template_name: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.name, self.language

    def fingerprint(self) -> str:
        """A digest of every field, in declaration order (``asdict`` would deep-copy the
        components first, five times slower on a sync pass where nothing changed)."""
        values = [getattr(self, f.name) for f in FIELDS]
        text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


FIELDS = fields(RemoteTemplate)


@dataclass
class Listing:
    """A provider's whole listing of one account: what it could read, and what not."""

    templates: list[RemoteTemplate] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def add(self, raw: Any, parse) -> None:
        """Parse one raw template; one the parser cannot read (whatever the reason, a
        parser's own bug included) is recorded and skipped, never stopping the others."""
        try:
            self.templates.append(parse(raw))
        except Exception as exc:
            raw = raw if isinstance(raw, dict) else {}
            self.skipped.append(
                {
                    "id": str(raw.get("id") or raw.get("sid") or "")[:64],
                    "name": str(raw.get("name") or raw.get("friendly_name") or "")[:200],
                    "problem": (str(exc) or type(exc).__name__)[:300],
                }
            )


@dataclass
class Reconciled:
    created: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0

    def __iadd__(self, other: Reconciled) -> Reconciled:
        for name in ("created", "changed", "deleted", "unchanged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def ensure_account(
    session: Session, company_id: int, provider: str, account_key: str, label: str = ""
) -> TemplateAccount:
    """The company's template account for this provider account (created once)."""
    account = session.scalars(
        select(TemplateAccount).where(
            TemplateAccount.provider == provider, TemplateAccount.account_key == account_key
        )
    ).one_or_none()
    if account is None:
        account = TemplateAccount(
            company_id=company_id, provider=provider, account_key=account_key, label=label
        )
        session.add(account)
        session.flush()
    elif label and account.label != label:
        account.label = label
    return account


def find(
    session: Session,
    account: TemplateAccount,
    *,
    provider_template_id: str | None = None,
    name: str | None = None,
    language: str | None = None,
) -> MessageTemplate | None:
    """A template of the account by the provider's id, else by name and language."""
    base = select(MessageTemplate).where(MessageTemplate.account_id == account.id)
    if provider_template_id:
        found = session.scalars(
            base.where(MessageTemplate.provider_template_id == provider_template_id)
        ).first()
        if found is not None:
            return found
    if name and language:
        return session.scalars(
            base.where(MessageTemplate.name == name, MessageTemplate.language == language)
        ).one_or_none()
    return None


def reconcile(
    session: Session, account: TemplateAccount, listing: Listing, at: dt.datetime | None = None
) -> Reconciled:
    """Make the account's rows what the listing says: new ones created, changed ones
    updated with their history, templates gone from a complete listing marked deleted.
    An unchanged template (same fingerprint) writes nothing."""
    at = at or utcnow()
    result = Reconciled()
    rows = {
        (row.name, row.language): row
        for row in session.scalars(
            select(MessageTemplate).where(MessageTemplate.account_id == account.id)
        )
    }
    seen: set[tuple[str, str]] = set()
    for remote in listing.templates:
        seen.add(remote.key)
        row = rows.get(remote.key)
        if row is None:
            create(session, account, remote, source="sync", at=at)
            result.created += 1
        elif row.fingerprint == remote.fingerprint():
            result.unchanged += 1
        else:
            apply_remote(session, row, remote, source="sync", at=at)
            result.changed += 1
    skipped = {(s["name"]) for s in listing.skipped}
    for key, row in rows.items():
        gone = key not in seen and row.name not in skipped and row.provider_template_id
        if gone and row.status not in ("DELETED", "DRAFT"):
            _set(session, row, "status", "DELETED", source="sync", at=at, kind="deleted")
            _announce(session, row)
            result.deleted += 1
    if account.skipped != listing.skipped[:SKIPPED_KEPT]:
        account.skipped = listing.skipped[:SKIPPED_KEPT]
    return result


def create(
    session: Session, account: TemplateAccount, remote: RemoteTemplate, *, source: str, at
) -> MessageTemplate:
    row = MessageTemplate(
        company_id=account.company_id,
        account_id=account.id,
        name=remote.name,
        language=remote.language,
        category=remote.category,
        status=remote.status,
    )
    _copy(row, remote)
    session.add(row)
    session.flush()
    record(session, row, source, "created", None, remote.status, at=at)
    if remote.status != "DRAFT":  # a draft is announced once the provider has it
        _announce(session, row)
    if remote.status in ALERTING:
        _alert_status(session, row)
    return row


def apply_remote(
    session: Session, row: MessageTemplate, remote: RemoteTemplate, *, source: str, at
) -> None:
    """Take the provider's view of a known template, recording each difference."""
    before = (row.status, row.category, row.quality_score)
    _set(
        session,
        row,
        "status",
        remote.status,
        source=source,
        at=at,
        detail=rejection_text(remote.rejected_reason) if remote.status == "REJECTED" else "",
    )
    _set(session, row, "quality_score", remote.quality_score, source=source, at=at, kind="quality")
    if remote.category != row.category:
        _set(
            session,
            row,
            "category",
            remote.category,
            source=source,
            at=at,
            detail=category_change_text(row.category, remote.category),
        )
        row.previous_category = remote.previous_category or before[1]
        row.impending_category, row.category_change_at = None, None
    if remote.components != row.components:
        record(
            session,
            row,
            source,
            "components",
            None,
            None,
            at=at,
            detail="The provider changed the template's content.",
        )
    _copy(row, remote)
    if before != (row.status, row.category, row.quality_score):
        _announce(session, row)
    _alerts_for(session, row, before)


def update(
    session: Session,
    row: MessageTemplate,
    *,
    source: str,
    at: dt.datetime | None,
    status: str | None = None,
    reason: str | None = None,
    quality_score: str | None = None,
    category: str | None = None,
    impending_category: str | None = None,
    impending_at: dt.datetime | None = None,
    components: list[Any] | None = None,
) -> bool:
    """Apply one change a provider told (a webhook); an older one than the newest applied
    changes nothing. Returns whether it was applied."""
    if at is not None and row.observed_at is not None and at < row.observed_at:
        return False
    if at is not None:
        row.observed_at = at
    when = at or utcnow()
    before = (row.status, row.category, row.quality_score)
    if status is not None:
        detail = rejection_text(reason) if status == "REJECTED" else (reason or "")
        _set(session, row, "status", status, source=source, at=when, detail=detail)
        row.rejected_reason = reason if status == "REJECTED" else None
    if quality_score is not None:
        _set(session, row, "quality_score", quality_score, source=source, at=when, kind="quality")
    if impending_category not in (None, row.category, row.impending_category):
        row.impending_category = impending_category
        row.category_change_at = impending_at or when + RECATEGORISE_AFTER
        text = category_change_text(row.category, impending_category, impending=True)
        record(
            session,
            row,
            source,
            "category_impending",
            row.category,
            impending_category,
            at=when,
            detail=text,
        )
        _alert(session, row, f"{_label(row)}: {text}")
        _announce(session, row)
    if category is not None and category != row.category:
        text = category_change_text(row.category, category)
        row.previous_category = row.category
        _set(session, row, "category", category, source=source, at=when, detail=text)
        row.impending_category, row.category_change_at = None, None
    if components is not None and components != row.components:
        row.components = components
        record(
            session,
            row,
            source,
            "components",
            None,
            None,
            at=when,
            detail="The provider changed the template's content.",
        )
    row.fingerprint = ""  # the next listing compares afresh
    if before != (row.status, row.category, row.quality_score):
        _announce(session, row)
    _alerts_for(session, row, before)
    return True


def record(
    session: Session,
    row: MessageTemplate,
    source: str,
    kind: str,
    before: str | None,
    after: str | None,
    *,
    at: dt.datetime,
    detail: str = "",
) -> TemplateChange:
    change = TemplateChange(
        company_id=row.company_id,
        template_id=row.id,
        at=at,
        source=source,
        kind=kind,
        before=before,
        after=after,
        detail=detail[:2000],
    )
    session.add(change)
    return change


def history(session: Session, row: MessageTemplate, limit: int = 200) -> list[TemplateChange]:
    """The template's newest ``limit`` changes, newest first."""
    return list(
        session.scalars(
            select(TemplateChange)
            .where(TemplateChange.template_id == row.id)
            .order_by(TemplateChange.id.desc())
            .limit(limit)
        )
    )


def counts_by_status(rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    return {status: count for status, count in rows}


def _copy(row: MessageTemplate, remote: RemoteTemplate) -> None:
    row.provider_template_id = remote.provider_template_id or row.provider_template_id
    row.category = remote.category
    row.status = remote.status
    row.components = remote.components
    row.parameter_format = remote.parameter_format
    row.rejected_reason = remote.rejected_reason
    row.quality_score = remote.quality_score
    row.previous_category = remote.previous_category or row.previous_category
    row.library_template_name = remote.library_template_name
    if remote.impending_category and remote.impending_category != row.impending_category:
        row.impending_category = remote.impending_category
        row.category_change_at = row.category_change_at or utcnow() + RECATEGORISE_AFTER
    elif not remote.impending_category:
        row.impending_category, row.category_change_at = None, None
    row.fingerprint = remote.fingerprint()


def _set(
    session, row, attr: str, value, *, source: str, at, kind: str | None = None, detail: str = ""
) -> None:
    old = getattr(row, attr)
    if old == value:
        return
    setattr(row, attr, value)
    record(session, row, source, kind or attr, old, value, at=at, detail=detail)


def _alerts_for(session: Session, row: MessageTemplate, before: tuple) -> None:
    status, category, _ = before
    if row.status != status and row.status in ALERTING:
        _alert_status(session, row)
    if row.category != category and status != "DRAFT":  # a draft's category is its own
        _alert(session, row, f"{_label(row)}: {category_change_text(category, row.category)}")


def _alert_status(session: Session, row: MessageTemplate) -> None:
    words = {
        "REJECTED": "was rejected",
        "PAUSED": "was paused by Meta for low quality: it cannot be sent for now",
        "DISABLED": "was disabled: it can no longer be sent",
    }[row.status]
    reason = rejection_text(row.rejected_reason) if row.status == "REJECTED" else ""
    _alert(session, row, f"{_label(row)} {words}." + (f" {reason}" if reason else ""))


def _alert(session: Session, row: MessageTemplate, message: str) -> None:
    health.raise_template_alert(session, row.company_id, row.id, message)


def _label(row: MessageTemplate) -> str:
    return f"Template {row.name} ({row.language})"


def _announce(session: Session, row: MessageTemplate) -> None:
    session.flush()
    platform_events.emit(
        session,
        "template.updated",
        row.company_id,
        f"template:{row.id}",
        {"template": describe(row)},
    )


def describe(row: MessageTemplate) -> dict[str, Any]:
    """The template as the API and its events show it."""
    return {
        "id": row.id,
        "provider": row.account.provider,
        "account": row.account.account_key,
        "provider_template_id": row.provider_template_id,
        "name": row.name,
        "language": row.language,
        "category": row.category,
        "status": row.status,
        "rejected_reason": row.rejected_reason,
        "quality_score": row.quality_score,
        "previous_category": row.previous_category,
        "impending_category": row.impending_category,
        "category_change_at": row.category_change_at.isoformat()
        if row.category_change_at
        else None,
        "components": row.components,
    }
