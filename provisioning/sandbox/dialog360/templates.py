"""Message templates, shared by waba-v2 ``/v1/configs/templates`` and the Partner API's
``waba_templates`` (fact sheet §3 and §4 "Templates")."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .state import Template, Waba
from .wire import fail

if TYPE_CHECKING:
    from .base import Dialog360Base

CATEGORIES = ("AUTHENTICATION", "MARKETING", "UTILITY")
NAME_RE = re.compile(r"^[a-z0-9_]+$")


def create(sim: Dialog360Base, waba: Waba, body: dict[str, Any]) -> Template:
    """Validate and store a template in status ``submitted``; 400 in the meta envelope."""
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
    for template in sim.store.templates.values():
        if (template.waba_id, template.name, template.language) == (waba.id, name, language):
            fail(400, "Template already exists", [f"{name}/{language} exists on this WABA"])
    template = Template(
        id=sim.sandbox.ids.alnum(8) + "TP",
        waba_id=waba.id,
        name=str(name),  # validated above
        language=str(language),  # validated above
        category=str(category),  # validated above
        components=components,
        namespace=waba.namespace,
        created_at=sim.clock.time(),
        allow_category_change=bool(body.get("allow_category_change", False)),
        review_at=sim.clock.time() + sim.template_review_seconds,
    )
    sim.store.templates[template.id] = template
    return template


def of_waba(sim: Dialog360Base, waba: Waba) -> list[dict[str, Any]]:
    return [
        t.to_json(waba.external_id, waba.partner_id)
        for t in sim.store.templates.values()
        if t.waba_id == waba.id
    ]


def search_text(item: dict[str, Any]) -> str:
    return f"{item.get('name', '')} {item.get('language', '')} {item.get('category', '')}"
