"""Message templates, shared by waba-v2 ``/v1/configs/templates`` and the Partner API's
``waba_templates`` (fact sheet §3 and §4 "Templates"): creation, review on the sandbox
clock, the changes the controls make, and the webhooks each change sends.

Every change of a template sends 360dialog's partner event ``waba_template_status_changed``
(the Partners V2 API's "Template Status Changed" webhook, docs.360dialog.com/partner/
partner-api/api-reference/webhooks). Its body is not published in words; the simulator sends
``{"id", "event", "data": {"id": <waba_account_id>, "external_id", "partner_id",
"client_id", "template": <the waba_templates item> + old_status, new_status}}``, the shape
third-party receivers read. The sandbox also sends it when only the category or the quality
moved (whether 360dialog does is [unknown]). waba-v2 forwards Meta's own template webhooks
(message_template_status_update, template_category_update, message_template_quality_update)
to the number's webhook, unmodified.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .state import Template, Waba
from .webhooks import deliver_messaging
from .wire import fail

if TYPE_CHECKING:
    from .base import Dialog360Base

CATEGORIES = ("AUTHENTICATION", "MARKETING", "UTILITY")
NAME_RE = re.compile(r"^[a-z0-9_]+$")
QUALITY_SCORES = ("GREEN", "YELLOW", "RED", "UNKNOWN")
# Meta's rejection reasons (Template review, rejected status)
REJECTION_REASONS = ("ABUSIVE_CONTENT", "INCORRECT_CATEGORY", "INVALID_FORMAT", "PROMOTIONAL",
                     "SCAM", "TAG_CONTENT_MISMATCH")  # fmt: skip
STATUS_EVENT = "waba_template_status_changed"


def create(sim: Dialog360Base, waba: Waba, body: dict[str, Any]) -> Template:
    """Validate and store a template in status ``submitted``, decided after the review time;
    400 in the meta envelope."""
    name, language = body.get("name"), body.get("language")
    category, components = body.get("category"), body.get("components")
    details = []
    if not isinstance(name, str) or not name:
        details.append("name: required")
    elif len(name) > 512 or not NAME_RE.match(name):
        details.append("name: at most 512 lowercase letters, digits or underscores")
    if not isinstance(language, str) or not language:
        details.append("language: required")
    if category not in CATEGORIES:
        details.append(f"category: one of {', '.join(CATEGORIES)}")
    if not isinstance(components, list) or not components:
        details.append("components: a non-empty list")
        components = []
    else:
        for component in components:
            text = component.get("text") if isinstance(component, dict) else None
            if isinstance(text, str) and len(text) > 1024:
                details.append("components: text is limited to 1024 characters")
    if details:
        fail(400, "Wrong payload", details)
    if find(sim, waba.id, str(name), str(language)):
        fail(400, "Template already exists", [f"{name}/{language} exists on this WABA"])
    now = sim.clock.time()
    template = Template(
        id=sim.sandbox.ids.alnum(8) + "TP",
        waba_id=waba.id,
        name=str(name),  # validated above
        language=str(language),  # validated above
        category=str(category),  # validated above
        components=components,
        namespace=waba.namespace,
        created_at=now,
        external_id=sim.sandbox.ids.digits(16),
        allow_category_change=bool(body.get("allow_category_change", False)),
    )
    sim.store.templates[template.id] = template
    sim.store.template_reviews[template.id] = now + sim.template_review_seconds
    return template


def item(sim: Dialog360Base, template: Template) -> dict[str, Any]:
    """The template as both APIs list it."""
    return template.to_json(sim.store.wabas[template.waba_id].partner_id)


def of_waba(sim: Dialog360Base, waba: Waba) -> list[dict[str, Any]]:
    return [item(sim, t) for t in sim.store.templates.values() if t.waba_id == waba.id]


def search_text(item: dict[str, Any]) -> str:
    return f"{item.get('name', '')} {item.get('language', '')} {item.get('category', '')}"


def find(sim: Dialog360Base, waba_id: str, name: str, language: str | None = None) -> list:
    """The WABA's templates of this name (in this language, when given)."""
    return [
        t
        for t in sim.store.templates.values()
        if t.waba_id == waba_id and t.name == name and language in (None, t.language)
    ]


def remove(sim: Dialog360Base, template: Template) -> None:
    sim.store.templates.pop(template.id, None)
    sim.store.template_reviews.pop(template.id, None)


# -- the review timeline and changes -------------------------------------------------------
def review_due(sim: Dialog360Base) -> None:
    """Decide every review that is due, oldest first: approved, or rejected with the reason
    a control queued for the name. Sending a webhook lets go of the sandbox lock, so each
    review is taken out before it is acted on."""
    now = sim.clock.time()
    reviews = sim.store.template_reviews
    for at, template_id in sorted((at, t) for t, at in reviews.items()):
        if at > now:
            break
        if reviews.pop(template_id, None) is None:
            continue
        template = sim.store.templates.get(template_id)
        if template is None or template.status != "submitted":
            continue
        reason = sim.store.template_rejections.pop(template.name, None)
        if reason:
            change(sim, template, status="rejected", reason=reason)
        else:
            change(sim, template, status="approved")


def change(
    sim: Dialog360Base,
    template: Template,
    *,
    status: str | None = None,
    reason: str | None = None,
    category: str | None = None,
    quality: str | None = None,
) -> dict[str, Any]:
    """Change a template now and send the webhooks that tell it; returns the partner event's
    data. ``status`` is 360dialog's lowercase word (an open set)."""
    old_status, old_category, old_quality = (
        template.status,
        template.category,
        template.quality_score,
    )
    if status is not None:
        template.status = status
        template.rejected_reason = (reason or "INVALID_FORMAT") if status == "rejected" else None
        sim.store.template_reviews.pop(template.id, None)
    if category is not None and category != template.category:
        template.previous_category, template.category = template.category, category
    if quality is not None:
        template.quality_score = quality
    template.modified_at = sim.clock.time()
    if template.quality_score != old_quality:
        _forward_quality(sim, template, old_quality)
    if template.category != old_category:
        _forward_category(sim, template, old_category)
    if template.status != old_status:
        _forward_status(sim, template, reason)
    return _partner_event(sim, template, old_status)


def _partner_event(sim: Dialog360Base, template: Template, old_status: str) -> dict[str, Any]:
    waba = sim.store.wabas[template.waba_id]
    data = {
        "id": waba.id,
        "external_id": waba.external_id,
        "partner_id": waba.partner_id,
        "client_id": waba.client_id,
        "template": {**item(sim, template), "old_status": old_status,
                     "new_status": template.status},
    }  # fmt: skip
    sim.partner_webhooks.emit(waba.partner_id, STATUS_EVENT, data)
    return data


def _forward_status(sim: Dialog360Base, template: Template, reason: str | None) -> None:
    value = {
        "event": template.status.upper(),
        "reason": template.rejected_reason or reason or "NONE",
        "message_template_category": template.category,
    }
    _forward(sim, template, "message_template_status_update", value)


def _forward_category(sim: Dialog360Base, template: Template, before: str) -> None:
    value = {"previous_category": before, "new_category": template.category}
    _forward(sim, template, "template_category_update", value)


def _forward_quality(sim: Dialog360Base, template: Template, before: str) -> None:
    value = {"previous_quality_score": before, "new_quality_score": template.quality_score}
    _forward(sim, template, "message_template_quality_update", value)


def _forward(sim: Dialog360Base, template: Template, field: str, value: dict[str, Any]) -> None:
    """Meta's WABA webhook, as waba-v2 forwards it to the number's webhook."""
    waba = sim.store.wabas[template.waba_id]
    channel = next((c for c in sim.store.channels.values() if c.waba_id == waba.id), None)
    if channel is None or not template.external_id.isdigit():
        return
    value = {
        "message_template_id": int(template.external_id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        **value,
    }
    entry = {"id": waba.external_id, "time": int(sim.clock.time()),
             "changes": [{"field": field, "value": value}]}  # fmt: skip
    deliver_messaging(sim, channel, {"object": "whatsapp_business_account", "entry": [entry]})


# -- seeding -------------------------------------------------------------------------------
def seed(
    sim: Dialog360Base,
    waba: Waba,
    count: int,
    *,
    status: str = "approved",
    category: str = "UTILITY",
    language: str = "en_US",
    prefix: str = "seeded",
) -> list[str]:
    """Add ``count`` templates directly, without webhooks (cheap: benchmarks). Submitted ones
    are reviewed on the clock like created ones."""
    now, ids = sim.clock.time(), sim.sandbox.ids
    block_id, block_meta = ids.alnum(4), ids.digits(11)  # drawn once: seeding stays cheap
    first = sum(1 for t in sim.store.templates.values() if t.waba_id == waba.id)
    example = {"body_text": [["Ana"]]}  # shared: components are replaced, never edited
    made = []
    for i in range(first, first + count):
        body = {"type": "BODY", "text": f"Hello {{{{1}}}}, update {i}.", "example": example}
        template = Template(
            id=f"{block_id}{i:06d}TP", waba_id=waba.id, name=f"{prefix}_{i:05d}",
            language=language, category=category, components=[body],
            namespace=waba.namespace, created_at=now, external_id=f"{block_meta}{i:05d}",
            status=status, quality_score="GREEN" if status == "approved" else "UNKNOWN",
        )  # fmt: skip
        sim.store.templates[template.id] = template
        if status == "submitted":
            sim.store.template_reviews[template.id] = now + sim.template_review_seconds
        made.append(template.id)
    return made


def add_malformed(sim: Dialog360Base, waba: Waba, raw: dict[str, Any] | None = None) -> Template:
    """A listing item served as it is (default: no language, no category, components not a
    list), for tests of what a client skips."""
    template_id = sim.sandbox.ids.alnum(8) + "TP"
    raw = raw or {"id": template_id, "name": "malformed_template", "status": "approved",
                  "components": "BODY", "waba_account_id": waba.id}  # fmt: skip
    template = Template(
        id=template_id, waba_id=waba.id, name=str(raw.get("name") or ""), language="",
        category="", components=[], namespace=waba.namespace, created_at=sim.clock.time(),
        raw=raw,
    )  # fmt: skip
    sim.store.templates[template.id] = template
    return template
