"""Meta's message templates through the Graph API: the whole listing of a WABA, a creation,
the lookup that finds what a creation made after its answer was lost, and Meta's Template
Library (pre-written utility and authentication templates a business creates from).

Graph's ``GET /{waba}/message_templates`` is cursor-paged (``GraphClient.pages``); its items
are parsed into the shared :class:`~provisioning.templates.core.RemoteTemplate`, and an item
this code cannot read is kept in the listing's ``skipped`` list without stopping the others.
A cursor Graph refuses mid-listing (code 100, e.g. the template it pointed at was deleted
meanwhile) restarts the listing once from the first page.

The library (developers.facebook.com/documentation/business-messaging/whatsapp/templates/
template-library/) is browsed with ``GET /message_template_library``; a template is created
from it by the same ``POST /{waba}/message_templates`` with ``library_template_name``
instead of ``components``.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import Rejected
from ..templates.core import Listing, Malformed, RemoteTemplate
from .api import GraphClient, bearer

log = logging.getLogger(__name__)

FIELDS = (
    "id,name,language,status,category,components,parameter_format,rejected_reason,"
    "quality_score,previous_category,correct_category,library_template_name"
)
REQUIRED = ("id", "name", "language", "status", "category")
INVALID_PARAMETER = "100"


class CursorRefused(Rejected):
    """Graph refused the ``after`` cursor of a page after the first (code 100)."""


def parse(raw: dict[str, Any]) -> RemoteTemplate:
    """One item of Graph's listing (asked with :data:`FIELDS`) in the shared vocabulary."""
    if not isinstance(raw, dict):
        raise Malformed("the template is not a JSON object")
    for key in REQUIRED:
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise Malformed(f"the template's {key} is missing or not a string")
    components = raw.get("components")
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise Malformed("the template's components are not a list of objects")
    reason = _text(raw.get("rejected_reason"))
    return RemoteTemplate(
        provider_template_id=raw["id"],
        name=raw["name"],
        language=raw["language"],
        category=raw["category"],
        status=raw["status"],
        components=components,
        parameter_format=_text(raw.get("parameter_format")) or "POSITIONAL",
        rejected_reason=None if reason == "NONE" else reason,
        quality_score=_quality(raw.get("quality_score")),
        previous_category=_text(raw.get("previous_category")),
        impending_category=_text(raw.get("correct_category")),
        library_template_name=_text(raw.get("library_template_name")),
    )


def list_templates(
    graph: GraphClient, waba_id: str, token: str, *, page_size: int = 250
) -> Listing:
    """Every template of the WABA, every page to the end; a template listed twice (a page
    boundary that moved) is kept once, as last read."""
    try:
        return _read(graph, waba_id, token, page_size)
    except CursorRefused:
        log.info("Graph refused the template cursor of WABA %s: listing again", waba_id)
    return _read(graph, waba_id, token, page_size)


def submit(graph: GraphClient, waba_id: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Create a template (``name, language, category, components`` and optionally
    ``parameter_format``, ``allow_category_change``), or one from the Template Library
    (``name, language, category, library_template_name`` and optionally
    ``library_template_button_inputs``, ``library_template_body_inputs``; no components):
    Graph answers ``{id, status, category}``, the category being the library item's for a
    library template. Never retried here: after a lost answer the caller uses :func:`find`."""
    body = {key: value for key, value in payload.items() if value is not None}
    response = graph.request(
        "POST",
        f"/{waba_id}/message_templates",
        headers=bearer(token),
        json=body,
        idempotent=False,
    )
    return response.json()


def library(
    graph: GraphClient,
    token: str,
    *,
    search: str | None = None,
    language: str | None = None,
    topic: str | None = None,
    usecase: str | None = None,
    industry: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The first page of Meta's Template Library for these filters, Meta's items as they
    are (``name, language, category, topic, usecase, industry, header, body, body_params,
    body_param_types, buttons, id``). ``search`` is a substring of the name or the content;
    the other filters are Meta's values (e.g. ``topic="ORDER_MANAGEMENT"``, ``language=
    "en_US"``). An item that is not an object is left out."""
    filters = {"search": search, "language": language, "topic": topic, "usecase": usecase,
               "industry": industry}  # fmt: skip
    params = {key: value for key, value in filters.items() if value}
    page = graph.get("/message_template_library", token, limit=limit, **params)
    return [item for item in page.get("data") or [] if isinstance(item, dict)]


def find(
    graph: GraphClient, waba_id: str, token: str, name: str, language: str
) -> RemoteTemplate | None:
    """The WABA's template of this name and language, or None (also when Graph lists it in
    a shape this code cannot read). Graph's ``name`` filter is not an exact match, so each
    answer is checked here."""
    params = {"fields": FIELDS, "name": name, "language": language, "limit": 100}
    for page, _ in graph.pages(f"/{waba_id}/message_templates", token, **params):
        for raw in page.get("data") or []:
            if isinstance(raw, dict) and (raw.get("name"), raw.get("language")) == (name, language):
                return _parsed_or_none(raw)
    return None


def _parsed_or_none(raw: dict[str, Any]) -> RemoteTemplate | None:
    try:
        return parse(raw)
    except Malformed as exc:
        log.warning("template %s of Meta is unreadable: %s", raw.get("id"), exc)
        return None


def _read(graph: GraphClient, waba_id: str, token: str, page_size: int) -> Listing:
    """One pass over the pages."""
    listing, pages = Listing(), 0
    try:
        for page, _ in graph.pages(
            f"/{waba_id}/message_templates", token, fields=FIELDS, limit=page_size
        ):
            pages += 1
            for raw in page.get("data") or []:
                listing.add(raw, parse)
    except Rejected as exc:
        if pages > 0 and exc.code == INVALID_PARAMETER:  # a page asked with ``after=``
            raise CursorRefused(
                exc.provider, exc.message, exc.http_status, exc.code, exc.subcode, exc.trace_id
            ) from exc
        raise
    return _collapsed(listing)


def _collapsed(listing: Listing) -> Listing:
    templates = {template.key: template for template in listing.templates}
    skipped = {(item["id"], item["name"]): item for item in listing.skipped}
    return Listing(templates=list(templates.values()), skipped=list(skipped.values()))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _quality(value: Any) -> str | None:
    """``quality_score`` is ``{"score": "GREEN", "date": <epoch>}`` in the listing."""
    if isinstance(value, dict):
        return _text(value.get("score"))
    return _text(value)
