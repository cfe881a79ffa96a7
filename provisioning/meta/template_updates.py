"""Meta's template webhooks, applied to the stored template at once (issue 16).

- ``message_template_status_update``: the template's new status (``event``), with the
  rejection ``reason``; REINSTATED means approved again. LOCKED, UNLOCKED and UNARCHIVED
  change what may be done with the template, not whether it sends: they are noted in its
  history and the next listing brings the rest.
- ``message_template_quality_update``: ``new_quality_score``.
- ``message_template_components_update``: the content after an edit.
- ``template_category_update``: the impending form (``correct_category``, the category it
  will move to, ``new_category``, its current one, and ``category_update_timestamp``, when)
  announces a change; the completed form (``previous_category``, ``new_category``) applies
  it (developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/
  template_category_update).

A template the platform has not listed yet (created elsewhere) is created from what the
event says; the next sync completes it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ..db import utcnow
from ..relay import epoch
from ..templates import core
from ..templates.models import MessageTemplate
from .models import MetaWhatsAppClient

FIELDS = frozenset(
    {
        "message_template_status_update",
        "message_template_quality_update",
        "message_template_components_update",
        "template_category_update",
    }
)
STATUS_OF_EVENT = {"REINSTATED": "APPROVED"}
NOTED_EVENTS = frozenset({"LOCKED", "UNLOCKED", "UNARCHIVED"})


def apply(
    session: Session,
    client: MetaWhatsAppClient,
    field: str,
    value: dict[str, Any],
    at: dt.datetime | None,
) -> None:
    name, language = value.get("message_template_name"), value.get("message_template_language")
    template_id = str(value.get("message_template_id") or "")
    if not isinstance(name, str) or not isinstance(language, str) or not template_id:
        return  # nothing names a template: stored with the event, nothing to apply
    account = core.ensure_account(session, client.company_id, "meta", client.waba_id, client.name)
    row = core.find(
        session, account, provider_template_id=template_id, name=name, language=language
    )
    if row is None:
        remote = core.RemoteTemplate(
            template_id,
            name,
            language,
            str(value.get("message_template_category") or value.get("new_category") or ""),
            "PENDING",
        )
        row = core.create(session, account, remote, source="webhook", at=at or utcnow())
        row.fingerprint = ""  # incomplete: the next listing fills it in
    match field:
        case "message_template_status_update":
            _status(session, row, value, at)
        case "message_template_quality_update":
            score = value.get("new_quality_score")
            if isinstance(score, str):
                core.update(session, row, source="webhook", at=at, quality_score=score)
        case "message_template_components_update":
            core.update(session, row, source="webhook", at=at, components=components_of(value))
        case "template_category_update":
            _category(session, row, value, at)


def _status(session: Session, row: MessageTemplate, value: dict[str, Any], at) -> None:
    event = str(value.get("event") or "")
    if not event:
        return
    if event in NOTED_EVENTS:
        detail = _other_info(value) or f"Meta: {event.lower()}."
        core.record(session, row, "webhook", "note", None, event, at=at or utcnow(), detail=detail)
        row.fingerprint = ""
        return
    reason = value.get("reason")
    reason = reason if isinstance(reason, str) and reason != "NONE" else _other_info(value)
    category = value.get("message_template_category")
    core.update(
        session,
        row,
        source="webhook",
        at=at,
        status=STATUS_OF_EVENT.get(event, event),
        reason=reason or None,
        category=category if isinstance(category, str) and category else None,
    )


def _category(session: Session, row: MessageTemplate, value: dict[str, Any], at) -> None:
    new = value.get("new_category")
    if isinstance(value.get("correct_category"), str):
        core.update(
            session,
            row,
            source="webhook",
            at=at,
            impending_category=value["correct_category"],
            impending_at=epoch(value.get("category_update_timestamp")),
        )
    elif isinstance(new, str) and new:
        core.update(session, row, source="webhook", at=at, category=new)


def _other_info(value: dict[str, Any]) -> str:
    info = value.get("other_info")
    if not isinstance(info, dict):
        return ""
    return " ".join(str(info[k]) for k in ("title", "description") if info.get(k))


def components_of(value: dict[str, Any]) -> list[dict[str, Any]]:
    """The components an update describes, in the listing's shape."""
    components: list[dict[str, Any]] = []
    if value.get("message_template_title"):
        components.append(
            {"type": "HEADER", "format": "TEXT", "text": value["message_template_title"]}
        )
    if value.get("message_template_element"):
        components.append({"type": "BODY", "text": value["message_template_element"]})
    if value.get("message_template_footer"):
        components.append({"type": "FOOTER", "text": value["message_template_footer"]})
    buttons = []
    for button in value.get("message_template_buttons") or []:
        if not isinstance(button, dict):
            continue
        entry = {
            "type": button.get("message_template_button_type"),
            "text": button.get("message_template_button_text"),
        }
        if button.get("message_template_button_url"):
            entry["url"] = button["message_template_button_url"]
        if button.get("message_template_button_phone_number"):
            entry["phone_number"] = button["message_template_button_phone_number"]
        buttons.append(entry)
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    return components
