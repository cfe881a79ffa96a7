"""content.twilio.com v1: Content items and their WhatsApp approval (templates).

Shapes follow twilio-oai ``twilio_content_v1.json`` (vendored in ``tests/specs``):

- ``POST /v1/Content`` takes JSON (``friendly_name``, ``language``, ``variables``,
  ``types``); the SDK sends every content type key, unused ones as ``null``, and the
  simulator drops them (and null fields inside a type) before storing;
- ``GET /v1/Content``, ``GET /v1/ContentAndApprovals``: product-API pages, list key
  ``contents``; an item of the second carries ``approval_requests`` (the flat WhatsApp
  approval, as the spec's examples show it);
- ``POST /v1/Content/{sid}/ApprovalRequests/whatsapp`` (JSON ``name``, ``category``)
  answers the approval request; ``GET /v1/Content/{sid}/ApprovalRequests`` answers it
  under ``whatsapp`` with ``"type": "whatsapp"`` and ``"flows": null`` (Twilio changelog,
  "New flows parameter in Content API approval response", 2024-08-12).

Review on the sandbox clock: a submitted item is ``received``, ``pending`` from the next
tick, and decided ``template_review_seconds`` after submission (default 30; None: only by
control): ``approved``, unless ``control_reject_content`` queued a rejection with its
reason. Pauses and disables are controls too. Statuses are Twilio's lowercase ones:
unsubmitted, received, pending, approved, rejected, paused, disabled.

Like every product API, an item is reachable only with the credentials of the account
that made it (a parent's token gets 404 for its subaccount's content). Error codes are
not documented for the Content API: refusals use the generic 20001.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .accounts import Principal
from .base import TwilioBase
from .errors import TwilioError, invalid, missing, not_found
from .paging import page_v1
from .wire import iso

C = "/content/v1"
RULES = [
    Rule(f"{C}/Content", endpoint="contents_route", methods=["GET", "POST"]),
    Rule(f"{C}/Content/<sid>", endpoint="content_item", methods=["GET", "DELETE"]),
    Rule(f"{C}/Content/<sid>/ApprovalRequests", endpoint="content_approval", methods=["GET"]),
    Rule(
        f"{C}/Content/<sid>/ApprovalRequests/whatsapp",
        endpoint="content_approval_create",
        methods=["POST"],
    ),
    Rule(f"{C}/ContentAndApprovals", endpoint="contents_and_approvals", methods=["GET"]),
]
# Each content type and the fields the spec requires of it.
TYPES: dict[str, tuple[str, ...]] = {
    "twilio/text": ("body",),
    "twilio/media": ("media",),
    "twilio/location": ("latitude", "longitude"),
    "twilio/list-picker": ("body", "button", "items"),
    "twilio/call-to-action": ("body", "actions"),
    "twilio/quick-reply": ("body", "actions"),
    "twilio/card": ("title",),  # docs: "a title and at least one additional field"
    "twilio/catalog": ("body",),
    "twilio/carousel": ("body", "cards"),
    "twilio/flows": ("body", "button_text", "pages", "type"),
    "twilio/schedule": ("id", "title"),
    "whatsapp/card": ("body",),
    "whatsapp/authentication": ("actions",),
    "whatsapp/flows": ("body", "button_text", "flow_id"),
}
# What WhatsApp reviews when an item holds several types, richest first. Location, list
# pickers and schedules are session-only ("Content types overview": not supported outside
# a customer's 24-hour session), so they are never submitted.
APPROVABLE = (
    "whatsapp/authentication",
    "whatsapp/flows",
    "whatsapp/card",
    "twilio/flows",
    "twilio/carousel",
    "twilio/catalog",
    "twilio/card",
    "twilio/call-to-action",
    "twilio/quick-reply",
    "twilio/media",
    "twilio/text",
)
CATEGORIES = ("UTILITY", "MARKETING", "AUTHENTICATION")
STATUSES = ("unsubmitted", "received", "pending", "approved", "rejected", "paused", "disabled")
UNDER_REVIEW = ("received", "pending")
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
Render = Callable[[dict[str, Any]], dict[str, Any]]
UNSUBMITTED = {
    "name": "",
    "category": "",
    "content_type": "",
    "status": "unsubmitted",
    "rejection_reason": "",
    "allow_category_change": True,
}


def _compact(value: Any) -> Any:
    """The value without null object members (the SDK sends every optional field)."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


class ContentMixin(TwilioBase):
    """Content items, their WhatsApp approval and its review; the content controls."""

    def content_url(self, sid: str) -> str:
        return f"{self.base_url('content')}/v1/Content/{sid}"

    def _own_content(self, request: Request, principal: Principal, sid: str) -> dict[str, Any]:
        item = self.contents.get(sid)
        if item is None or item["account_sid"] != principal.sid:
            raise not_found(request.path.removeprefix("/content"))
        return item

    # -- routes ------------------------------------------------------------------------------
    def contents_route(self, request: Request, principal: Principal) -> Response:
        if request.method == "GET":
            return self._page(request, principal, "/v1/Content", self.content_json)
        item = self.new_content(principal.sid, _json_object(request))
        return json_response(self.content_json(item), 201)

    def content_item(self, request: Request, principal: Principal, sid: str) -> Response:
        item = self._own_content(request, principal, sid)
        if request.method == "DELETE":
            self.delete_content(item)
            return Response(status=204)
        return json_response(self.content_json(item))

    def contents_and_approvals(self, request: Request, principal: Principal) -> Response:
        path = "/v1/ContentAndApprovals"
        return self._page(request, principal, path, self.content_and_approvals_json)

    def _page(self, request: Request, principal: Principal, path: str, render: Render) -> Response:
        """One page of the caller's items (only the page's items are rendered)."""
        url = f"{self.base_url('content')}{path}"
        page = page_v1(request, self._contents_of(principal.sid), "contents", url)
        page["contents"] = [render(item) for item in page["contents"]]
        return json_response(page)

    def content_approval(self, request: Request, principal: Principal, sid: str) -> Response:
        item = self._own_content(request, principal, sid)
        whatsapp = {"type": "whatsapp", **self.approval_json(item), "flows": None}
        body = {
            "sid": sid,
            "account_sid": item["account_sid"],
            "whatsapp": whatsapp,
            "url": f"{self.content_url(sid)}/ApprovalRequests",
        }
        return json_response(body)

    def content_approval_create(self, request: Request, principal: Principal, sid: str) -> Response:
        item = self._own_content(request, principal, sid)
        body = _json_object(request)
        name, category = body.get("name"), body.get("category")
        if not name:
            raise missing("name")
        if not isinstance(name, str) or not TEMPLATE_NAME.match(name):
            raise invalid("name", "use lowercase letters, digits and underscores")
        if category not in CATEGORIES:
            raise invalid("category", f"one of {', '.join(CATEGORIES)}")
        self.submit_content(item, name, str(category))
        return json_response(self.approval_json(item), 201)

    # -- state ---------------------------------------------------------------------------------
    def _contents_of(self, account_sid: str) -> list[dict[str, Any]]:
        return list(self.account_contents.get(account_sid, {}).values())

    def new_content(self, account_sid: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate and store a Content item (400 in Twilio's envelope when invalid)."""
        language = body.get("language")
        if not language:
            raise missing("language")
        if not isinstance(language, str):
            raise invalid("language")
        types = _types(body.get("types"))
        variables = _compact(body.get("variables")) or {}
        if not isinstance(variables, dict) or not all(
            isinstance(v, str) for v in variables.values()
        ):
            raise invalid("variables", "an object of strings")
        friendly_name = body.get("friendly_name") or ""
        return self.store_content(account_sid, str(friendly_name), language, types, variables)

    def store_content(
        self,
        account_sid: str,
        friendly_name: str,
        language: str,
        types: dict[str, Any],
        variables: dict[str, str],
    ) -> dict[str, Any]:
        now = iso(self.clock.time())
        sid = self.sandbox.ids.sid("HX")
        item = {
            "sid": sid,
            "account_sid": account_sid,
            "friendly_name": friendly_name,
            "language": language,
            "variables": variables,
            "types": types,
            "date_created": now,
            "date_updated": now,
            "approval": dict(UNSUBMITTED),
            "submitted_at": None,
            "decision": None,  # a queued review outcome: (status, rejection_reason)
        }
        self.contents[sid] = item
        self.account_contents.setdefault(account_sid, {})[sid] = item
        return item

    def delete_content(self, item: dict[str, Any]) -> None:
        del self.contents[item["sid"]]
        del self.account_contents[item["account_sid"]][item["sid"]]
        self.content_reviews.discard(item["sid"])

    def submit_content(self, item: dict[str, Any], name: str, category: str) -> None:
        """Send an item to WhatsApp's review: ``received`` now, decided on the clock."""
        status = item["approval"]["status"]
        if status not in ("unsubmitted", "rejected"):
            raise TwilioError(400, 20001, f"Content {item['sid']} was submitted already")
        for other in self._contents_of(item["account_sid"]):
            taken = other["approval"]["name"] == name and other["language"] == item["language"]
            if other is not item and taken and other["approval"]["status"] != "rejected":
                raise TwilioError(
                    400, 20001, f"A WhatsApp template {name} ({item['language']}) exists already"
                )
        content_type = next((t for t in APPROVABLE if t in item["types"]), None)
        if content_type is None:
            raise invalid("ContentSid", "its content types cannot be sent as a WhatsApp template")
        if content_type == "whatsapp/authentication" and category != "AUTHENTICATION":
            raise invalid("category", "whatsapp/authentication content is AUTHENTICATION")
        item["approval"] = {
            "name": name,
            "category": category,
            "content_type": content_type,
            "status": "received",
            "rejection_reason": "",
            "allow_category_change": True,
        }
        item["submitted_at"] = self.clock.time()
        item["date_updated"] = iso(self.clock.time())
        self.content_reviews.add(item["sid"])

    def set_content_status(self, item: dict[str, Any], status: str, reason: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown approval status {status!r}; one of {', '.join(STATUSES)}")
        item["approval"]["status"] = status
        item["approval"]["rejection_reason"] = reason if status == "rejected" else ""
        item["date_updated"] = iso(self.clock.time())
        if status in UNDER_REVIEW:
            if item["submitted_at"] is None:
                item["submitted_at"] = self.clock.time()
            self.content_reviews.add(item["sid"])
        else:
            item["decision"] = None
            self.content_reviews.discard(item["sid"])

    def tick_content(self) -> None:
        now = self.clock.time()
        for sid in list(self.content_reviews):
            item = self.contents[sid]
            waited = now - item["submitted_at"]
            if item["approval"]["status"] == "received" and waited > 0:
                self.set_content_status(item, "pending")
            review = self.template_review_seconds
            if review is not None and waited >= review:
                status, reason = item["decision"] or ("approved", "")
                self.set_content_status(item, status, reason)

    # -- wire ---------------------------------------------------------------------------------
    def content_json(self, item: dict[str, Any]) -> dict[str, Any]:
        url = self.content_url(item["sid"])
        return {
            **self._common(item),
            "url": url,
            "links": {
                "approval_create": f"{url}/ApprovalRequests/whatsapp",
                "approval_fetch": f"{url}/ApprovalRequests",
            },
        }

    def content_and_approvals_json(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**self._common(item), "approval_requests": self.approval_json(item)}

    def approval_json(self, item: dict[str, Any]) -> dict[str, Any]:
        return dict(item["approval"])

    @staticmethod
    def _common(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "date_created": item["date_created"],
            "date_updated": item["date_updated"],
            "sid": item["sid"],
            "account_sid": item["account_sid"],
            "friendly_name": item["friendly_name"],
            "language": item["language"],
            "variables": item["variables"],
            "types": item["types"],
        }

    # -- controls -----------------------------------------------------------------------------
    def _content(self, content_sid: str) -> dict[str, Any]:
        item = self.contents.get(content_sid)
        if item is None:
            raise KeyError(f"no content {content_sid}")
        return item

    def control_set_template_review(self, *, seconds: float | None) -> dict[str, Any]:
        """Seconds from submission to WhatsApp's decision (None: only by control)."""
        self.template_review_seconds = None if seconds is None else float(seconds)
        return {"template_review_seconds": self.template_review_seconds}

    def control_approve_content(self, *, content_sid: str) -> dict[str, Any]:
        """WhatsApp approves a submitted item now."""
        item = self._content(content_sid)
        self.set_content_status(item, "approved")
        return self.content_and_approvals_json(item)

    def control_reject_content(
        self, *, content_sid: str, reason: str = "INVALID_FORMAT"
    ) -> dict[str, Any]:
        """WhatsApp rejects the item with ``reason``: at the end of its review when it is
        still unsubmitted or under review (queued), at once otherwise."""
        item = self._content(content_sid)
        if item["approval"]["status"] in ("unsubmitted", *UNDER_REVIEW):
            item["decision"] = ("rejected", reason)
        else:
            self.set_content_status(item, "rejected", reason)
        return self.content_and_approvals_json(item)

    def control_pause_content(self, *, content_sid: str) -> dict[str, Any]:
        """WhatsApp pauses the template (low quality): it cannot be sent for now."""
        item = self._content(content_sid)
        self.set_content_status(item, "paused")
        return self.content_and_approvals_json(item)

    def control_disable_content(self, *, content_sid: str) -> dict[str, Any]:
        """WhatsApp disables the template for good."""
        item = self._content(content_sid)
        self.set_content_status(item, "disabled")
        return self.content_and_approvals_json(item)

    def control_set_content_status(
        self, *, content_sid: str, status: str, rejection_reason: str = ""
    ) -> dict[str, Any]:
        """Force any approval status of ``STATUSES`` (``rejection_reason`` with rejected)."""
        item = self._content(content_sid)
        self.set_content_status(item, status, rejection_reason)
        return self.content_and_approvals_json(item)

    def control_seed_contents(
        self,
        *,
        account_sid: str,
        count: int = 10,
        status: str = "approved",
        language: str = "en",
        category: str = "UTILITY",
        prefix: str = "seeded",
    ) -> dict[str, Any]:
        """``count`` WhatsApp templates (``twilio/text`` with one variable) straight into
        ``account_sid``'s state, already at ``status`` (benchmarks: no HTTP, no review)."""
        if account_sid not in self.accounts:
            raise KeyError(f"no account {account_sid}")
        start = len(self._contents_of(account_sid))
        sids = []
        for i in range(start, start + int(count)):
            name = f"{prefix}_{i}"
            body = {"body": f"Hello {{{{1}}}}, this is message {i}."}
            item = self.store_content(
                account_sid, name, language, {"twilio/text": body}, {"1": "Sam"}
            )
            item["approval"] = {
                **UNSUBMITTED,
                "name": name,
                "category": category,
                "content_type": "twilio/text",
            }
            item["submitted_at"] = self.clock.time()
            self.set_content_status(item, status)
            sids.append(item["sid"])
        return {"account_sid": account_sid, "count": len(sids), "content_sids": sids}

    def control_add_malformed_content(
        self, *, account_sid: str, problem: str = "no_types"
    ) -> dict[str, Any]:
        """An item no WhatsApp template can be read from (tests): ``no_types`` (empty
        ``types``), ``no_language`` or ``unknown_status`` (an approval status outside
        Twilio's)."""
        if account_sid not in self.accounts:
            raise KeyError(f"no account {account_sid}")
        types: dict[str, Any] = {"twilio/text": {"body": "Hi"}}
        item = self.store_content(account_sid, f"broken_{problem}", "en", types, {})
        match problem:
            case "no_types":
                item["types"] = {}
            case "no_language":
                item["language"] = None
            case "unknown_status":
                item["approval"] = {**UNSUBMITTED, "name": item["friendly_name"],
                                    "category": "UTILITY", "status": "mystery"}  # fmt: skip
            case _:
                self.delete_content(item)
                raise ValueError(f"unknown problem {problem!r}")
        return {"sid": item["sid"], "problem": problem}


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TwilioError(400, 20001, "Invalid request body: a JSON object is expected")
    return body


def _types(raw: Any) -> dict[str, Any]:
    """The content types of a create, nulls dropped; each known and with its fields."""
    types = _compact(raw) if isinstance(raw, dict) else None
    if not types:
        raise missing("types")
    for name, value in types.items():
        if name not in TYPES:
            raise invalid("types", f"unknown content type {name}")
        if not isinstance(value, dict):
            raise invalid("types", f"{name} must be an object")
        absent = [f for f in TYPES[name] if value.get(f) in (None, "", [])]
        if absent:
            raise invalid("types", f"{name} needs {', '.join(absent)}")
    return types
