"""The Twilio simulator: api (2010), messaging (v1, v2), trusthub (v1), events (v1) and
content (v1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from . import accounts, content, events, messages, messaging, numbers, regulatory, senders, trusthub
from .accounts import AccountsMixin
from .content import ContentMixin
from .controls import ControlsMixin
from .errors import TwilioError, not_found, too_many_requests
from .events import EventsMixin
from .inbound import InboundMixin
from .messages import MessagesMixin
from .messaging import MessagingMixin
from .numbers import NumbersMixin
from .regulatory import RegulatoryMixin
from .senders import SendersMixin
from .teardown import TeardownMixin
from .tollfree import RULES as TOLLFREE_RULES
from .tollfree import TollfreeMixin
from .trusthub import TrustHubMixin
from .voice import VoiceMixin

if TYPE_CHECKING:
    from ..core import Sandbox

ALIASES = ("api", "messaging", "trusthub", "events", "content", "numbers-upload", "numbers")


class TwilioSimulator(
    AccountsMixin,
    NumbersMixin,
    MessagesMixin,
    InboundMixin,
    VoiceMixin,
    MessagingMixin,
    TrustHubMixin,
    RegulatoryMixin,
    SendersMixin,
    TollfreeMixin,
    EventsMixin,
    ContentMixin,
    TeardownMixin,
    ControlsMixin,
):
    """Stateful Twilio: subaccounts, numbers, senders, A2P 10DLC, TrustHub, Event Streams,
    Content API templates.

    Starts empty: seed the main (ISV) account with ``control_seed_master``.
    """

    # Kept off ``rules``: a werkzeug Rule binds to one Map only, and every Sandbox builds
    # its own Map, so each instance gets fresh copies (``Rule.empty()``).
    all_rules = (
        accounts.RULES
        + numbers.RULES
        + messages.RULES
        + messaging.RULES
        + trusthub.RULES
        + senders.RULES
        + events.RULES
        + content.RULES
        + TOLLFREE_RULES
        + regulatory.RULES
    )

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.url_map = Map(
            [rule.empty() for rule in self.all_rules], strict_slashes=False, merge_slashes=False
        )

    # -- dispatch --------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            principal = self.authenticate(request)
            response = getattr(self, endpoint)(request, principal, **args)
        except TwilioError as exc:
            response = exc.response()
        except HTTPException as exc:
            response = self.http_error(request, exc)
        return response(environ, start_response)

    def http_error(self, request: Request, exc: HTTPException) -> Response:
        path = request.path
        for alias in ALIASES:
            path = path.removeprefix(f"/{alias}") if path.startswith(f"/{alias}/") else path
        if isinstance(exc, MethodNotAllowed):
            return TwilioError(405, 20004, "Method not allowed").response()
        if (exc.code or 500) == 404:
            return not_found(path).response()
        return TwilioError(exc.code or 500, 20001, exc.description or "Bad request").response()

    def fault_response(self, kind: str) -> Response:
        if kind == "throttle":
            error = too_many_requests()
            error.headers = {"Retry-After": "1", "Twilio-Concurrent-Requests": "101"}
            return error.response()
        return TwilioError(500, 20500, "An internal server error has occurred").response()

    # -- time --------------------------------------------------------------------------------
    def tick(self) -> None:
        self.tick_senders()
        self.tick_a2p()
        self.tick_content()
        self.tick_voice()
        self.tick_tollfree()
        self.tick_regulatory()

    def describe(self) -> dict[str, Any]:
        parents = [a for a in self.accounts.values() if a["owner_account_sid"] == a["sid"]]
        return {
            # What a person reviews in the demo: brands and campaigns to approve, codes to read.
            "reviews": {
                "brands": [
                    {"brand_sid": b["sid"], "account_sid": b["account_sid"]}
                    for b in self.brands.values()
                    if b["status"] in ("PENDING", "IN_REVIEW")
                ],
                "campaigns": [
                    {"messaging_service_sid": c["messaging_service_sid"]}
                    for c in self.campaigns.values()
                    if c["campaign_status"] == "IN_PROGRESS"
                ],
                # a sole proprietor's verification text, waiting for the owner's YES
                "brand_otps": [
                    {"brand_sid": b["sid"], "mobile": b["_otp"]["mobile"], "otp": b["_otp"]["code"]}
                    for b in self.brands.values()
                    if b.get("_otp")
                ],
                "live_campaigns": [
                    {"messaging_service_sid": c["messaging_service_sid"]}
                    for c in self.campaigns.values()
                    if c["campaign_status"] == "VERIFIED"
                ],
                "sender_codes": [
                    {"sender_id": x["sender_id"], "otp": x["_otp"]}
                    for x in self.senders.values()
                    if x["status"] == "PENDING_VERIFICATION" and x["_otp"]
                ],
                "templates": [
                    {
                        "content_sid": sid,
                        "account_sid": self.contents[sid]["account_sid"],
                        "name": self.contents[sid]["approval"]["name"],
                    }
                    for sid in sorted(self.content_reviews)[:50]
                ],
                "tollfree": self.tollfree_reviews(),
                "regulatory_bundles": self.regulatory_reviews(),
                "regulatory_approved": self.regulatory_reviews(approved=True),
            },
            "main_accounts": [
                {"sid": a["sid"], "friendly_name": a["friendly_name"]} for a in parents
            ],
            "subaccounts": sum(
                1 for a in self.accounts.values() if a["owner_account_sid"] != a["sid"]
            ),
            "accounts": {
                sid: {
                    "friendly_name": a["friendly_name"],
                    "status": a["status"],
                    "parent": a["owner_account_sid"],
                    "numbers": [
                        n["phone_number"] for n in self.numbers.values() if n["account_sid"] == sid
                    ],
                    "senders": {
                        s["sid"]: {"sender_id": s["sender_id"], "status": s["status"]}
                        for s in self.senders.values()
                        if s["_account"] == sid
                    },
                    "brands": {
                        b["sid"]: b["status"]
                        for b in self.brands.values()
                        if b["account_sid"] == sid
                    },
                    "campaigns": {
                        c["messaging_service_sid"]: c["campaign_status"]
                        for c in self.campaigns.values()
                        if c["account_sid"] == sid
                    },
                }
                for sid, a in list(self.accounts.items())[:200]
            },
            # senders whose messages go somewhere: the sandbox page's inbound control
            "whatsapp_senders": [
                {"sid": x["sid"], "sender_id": x["sender_id"], "status": x["status"]}
                for x in list(self.senders.values())[-50:]
                if x["webhook"].get("callback_url")
            ],
            "deliveries": len(self.sandbox.outbound.for_provider(self.name)),
            # what still calls out, per host: after an offboarding, the platform's is gone
            "routes_by_host": self.routes_by_host(),
            "calls": len(self.calls),
        }
