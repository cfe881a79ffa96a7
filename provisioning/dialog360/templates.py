"""360dialog's message templates through the Partner API: a WABA's whole listing, a
creation, the lookup that finds what a creation made after its answer was lost, and what a
``waba_template_status_changed`` partner event says.

360dialog speaks Meta's template model with its own words: statuses are lowercase and
include its own steps before Meta's review (``created``, ``submitted``), the template id is
360dialog's (``id``; Meta's is ``external_id``), and a template belongs to a WABA account
(``waba_account_id``, ending in ``WA``). Everything is turned into the shared
:class:`~provisioning.templates.core.RemoteTemplate`; an item this code cannot read is kept in
the listing's ``skipped`` list without stopping the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from ..relay import epoch
from ..templates.core import Listing, Malformed, RemoteTemplate
from ..templates.models import CATEGORIES
from .api import PartnerClient

log = logging.getLogger(__name__)

ITEMS = "waba_templates"
REQUIRED = ("name", "language", "status", "category")
# 360dialog's lowercase statuses (fact sheet §3 enums; NET TemplateStatus) and Meta's own,
# which 360dialog passes through, in Meta's vocabulary.
STATUSES = {
    "draft": "DRAFT",
    "created": "PENDING",
    "submitted": "PENDING",
    "pending": "PENDING",
    "approved": "APPROVED",
    "reinstated": "APPROVED",
    "rejected": "REJECTED",
    "paused": "PAUSED",
    "disabled": "DISABLED",
    "in_appeal": "IN_APPEAL",
    "flagged": "FLAGGED",
    "archived": "ARCHIVED",
    "limit_exceeded": "LIMIT_EXCEEDED",
    "pending_deletion": "PENDING_DELETION",
    "deleted": "DELETED",
}
QUALITY = {
    "GREEN": "GREEN", "HIGH": "GREEN",
    "YELLOW": "YELLOW", "MEDIUM": "YELLOW",
    "RED": "RED", "LOW": "RED",
}  # fmt: skip


def parse(raw: dict[str, Any]) -> RemoteTemplate:
    """One ``waba_templates`` item in the shared vocabulary."""
    if not isinstance(raw, dict):
        raise Malformed("the template is not a JSON object")
    for key in REQUIRED:
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise Malformed(f"the template's {key} is missing or not a string")
    components = raw.get("components")
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise Malformed("the template's components are not a list of objects")
    status = STATUSES.get(raw["status"].lower())
    if status is None:
        raise Malformed(f"the template's status {raw['status']!r} is unknown")
    category = raw["category"].upper()
    if category not in CATEGORIES:
        raise Malformed(f"the template's category {raw['category']!r} is unknown")
    reason = _text(raw.get("rejected_reason"))
    return RemoteTemplate(
        provider_template_id=_text(raw.get("id")),
        name=raw["name"],
        language=raw["language"],
        category=category,
        status=status,
        components=components,
        parameter_format=_text(raw.get("parameter_format")) or "POSITIONAL",
        rejected_reason=None if reason in (None, "NONE") else reason,
        quality_score=quality(raw.get("quality_score")),
        previous_category=_category(raw.get("previous_category")),
        impending_category=_category(raw.get("correct_category")),
        library_template_name=_text(raw.get("library_template_name")),
    )


def list_templates(
    partner: PartnerClient, waba_account_id: str, *, page_size: int = 1000
) -> Listing:
    """Every template of the WABA account, every page to the end. A listing whose ``total``
    moved while it was paged (a template created or deleted meanwhile shifts the offsets)
    is read once more, so a template is never taken for deleted because it slid between
    two pages; a template listed twice is kept once, as last read."""
    listing, totals = _read(partner, waba_account_id, page_size)
    if len(totals) > 1:
        log.info("templates of %s changed while listed: listing again", waba_account_id)
        listing, _ = _read(partner, waba_account_id, page_size)
    return listing


def submit(partner: PartnerClient, waba_account_id: str, payload: dict[str, Any]) -> RemoteTemplate:
    """Create a template (Meta's shape: ``name, language, category, components`` and
    optionally ``allow_category_change``, ``parameter_format``...); answers what 360dialog
    created. Never retried here: after a lost answer the caller uses :func:`find`."""
    body = {key: value for key, value in payload.items() if value is not None}
    return parse(partner.create_waba_template(waba_account_id, body))


def find(
    partner: PartnerClient, waba_account_id: str, name: str, language: str
) -> RemoteTemplate | None:
    """The WABA's template of this name and language, or None (also when 360dialog lists it
    in a shape this code cannot read). Filtered by ``language``, a filter key the Partner API
    documents, and matched on the name here."""
    for page in partner.waba_template_pages(waba_account_id, filters={"language": language}):
        for raw in page.get(ITEMS) or []:
            if isinstance(raw, dict) and (raw.get("name"), raw.get("language")) == (name, language):
                return _parsed_or_none(raw)
    return None


# -- the partner event -----------------------------------------------------------------------
@dataclass(frozen=True)
class StatusChange:
    """What a ``waba_template_status_changed`` event says, in the shared vocabulary; None
    where it says nothing."""

    waba_account_id: str
    template_id: str | None
    name: str | None
    language: str | None
    status: str | None
    reason: str | None
    category: str | None
    quality_score: str | None
    impending_category: str | None
    components: list[Any] | None
    at: dt.datetime | None

    def remote(self) -> RemoteTemplate:
        """The template as far as the event describes it (to create an unknown one)."""
        return RemoteTemplate(
            provider_template_id=self.template_id,
            name=self.name or "",
            language=self.language or "",
            category=self.category or "",
            status=self.status or "PENDING",
            components=self.components or [],
            rejected_reason=self.reason if self.status == "REJECTED" else None,
            quality_score=self.quality_score,
        )


def status_change(data: dict[str, Any]) -> StatusChange | None:
    """Read an event's ``data``: ``{"id": <waba_account_id>, "template": {...}}`` with the
    template as the listing shows it plus ``new_status``, or the template object itself.
    None when it names no WABA account."""
    nested = data.get("template")
    template = nested if isinstance(nested, dict) else data
    waba = data.get("waba_account")
    account = _first_text(
        template.get("waba_account_id"),
        data.get("waba_account_id"),
        waba.get("id") if isinstance(waba, dict) else None,
        data.get("id") if nested is template else None,
    )
    if account is None:
        return None
    word = _text(template.get("new_status")) or _text(template.get("status"))
    status = STATUSES.get(word.lower()) if word else None
    reason = _text(template.get("rejected_reason"))
    components = template.get("components")
    return StatusChange(
        waba_account_id=account,
        template_id=_text(template.get("id")),
        name=_text(template.get("name")),
        language=_text(template.get("language")),
        status=status,
        reason=None if reason == "NONE" else reason,
        category=_category(template.get("category")),
        quality_score=quality(template.get("quality_score")),
        impending_category=_category(template.get("correct_category")),
        components=components if isinstance(components, list) else None,
        at=_moment(template.get("modified_at")),
    )


# -- helpers ---------------------------------------------------------------------------------
def quality(value: Any) -> str | None:
    """GREEN, YELLOW, RED or UNKNOWN, from a word or Meta's ``{"score": ...}``."""
    if isinstance(value, dict):
        value = value.get("score")
    word = _text(value)
    return QUALITY.get(word.upper(), "UNKNOWN") if word else None


def _read(partner: PartnerClient, waba_account_id: str, page_size: int) -> tuple[Listing, set]:
    """One pass over the pages, and every ``total`` they gave."""
    listing, totals = Listing(), set()
    for page in partner.waba_template_pages(waba_account_id, limit=page_size):
        totals.add(page.get("total"))
        for raw in page.get(ITEMS) or []:
            listing.add(raw, parse)
    return _collapsed(listing), totals


def _collapsed(listing: Listing) -> Listing:
    templates = {template.key: template for template in listing.templates}
    skipped = {(item["id"], item["name"]): item for item in listing.skipped}
    return Listing(templates=list(templates.values()), skipped=list(skipped.values()))


def _parsed_or_none(raw: dict[str, Any]) -> RemoteTemplate | None:
    try:
        return parse(raw)
    except Malformed as exc:
        log.warning("template %s of 360dialog is unreadable: %s", raw.get("id"), exc)
        return None


def _moment(value: Any) -> dt.datetime | None:
    """``modified_at`` as the Partner API prints it (ISO 8601, ``Z``) or Unix seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return epoch(value)
    text = _text(value)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return epoch(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _category(value: Any) -> str | None:
    word = _text(value)
    return word.upper() if word and word.upper() in CATEGORIES else None


def _first_text(*values: Any) -> str | None:
    return next((v for v in values if isinstance(v, str) and v), None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
