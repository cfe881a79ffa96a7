"""The Meta simulator: Graph API, Embedded Signup pages and webhooks.

Hosts (see :mod:`provisioning.sandbox.core`): ``/meta/graph`` = graph.facebook.com (any
``/vNN.N/`` prefix or none), ``/meta/www`` = www.facebook.com (the ES dialog),
``/meta/connect`` = connect.facebook.net (``/en_US/sdk.js``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import Simulator, json_response
from .control import ControlMixin
from .errors import GraphError, throttled, transient_error
from .graph import GraphMixin
from .handlers import HandlersMixin
from .signup import SignupMixin
from .state import App, AuthCode, Business, PhoneNumber, Token, Waba
from .webhooks import WebhooksMixin

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["MetaSimulator"]

ALL = ["GET", "POST", "DELETE"]


class MetaSimulator(ControlMixin, SignupMixin, WebhooksMixin, HandlersMixin, GraphMixin, Simulator):
    """Stateful Meta: apps, businesses, WABAs, numbers, tokens, codes; starts empty."""

    name = "meta"

    @property
    def rules(self) -> list[Rule]:  # type: ignore[override]
        # fresh Rule objects per instance: a werkzeug Rule binds to one Map only, and
        # several sandboxes live in one process (base.Simulator shares the class list)
        return [
            Rule("/graph", endpoint="graph", methods=ALL),
            Rule("/graph/<path:rest>", endpoint="graph", methods=ALL),
            Rule("/connect/<locale>/sdk.js", endpoint="sdk_js", methods=["GET"]),
            Rule("/www/dialog/oauth", endpoint="dialog", methods=["GET"]),
            Rule("/www/<version>/dialog/oauth", endpoint="dialog", methods=["GET"]),
            Rule("/www/dialog/oauth/submit", endpoint="dialog_submit", methods=["POST"]),
            Rule("/www/<version>/dialog/oauth/submit", endpoint="dialog_submit", methods=["POST"]),
        ]

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.apps: dict[str, App] = {}
        self.businesses: dict[str, Business] = {}
        self.wabas: dict[str, Waba] = {}
        self.phones: dict[str, PhoneNumber] = {}
        self.tokens: dict[str, Token] = {}
        self.codes: dict[str, AuthCode] = {}
        self.app_calls: dict[str, list[float]] = {}
        self.numbers_in_use: set[str] = set()
        self.number_seq = 0
        self.delivery = {"duplicate": False, "reorder": False}
        self.held: list[tuple[str, bytes, dict[str, str]]] = []
        self.signup_order = "message_first"
        self.name_review_seconds = 0.0  # control_set_name_review: display names under review
        self.fault_codes = {"throttle": 4, "server_error": 2}

    # -- Simulator hooks ------------------------------------------------------------------
    def http_error(self, request: Request, exc: Any) -> Response:
        segments = [s for s in request.path.split("/") if s]
        error = GraphError(
            f"Unknown path components: /{'/'.join(segments[1:])}", 2500, status=exc.code or 400
        )
        return json_response(error.body(self.fbtrace()), error.status)

    def fault_response(self, kind: str) -> Response:
        """Meta's own throttle (code 4/80007/80008/130429, 429) or transient 500 (1/2)."""
        if kind == "throttle":
            code = self.fault_codes["throttle"]
            error = throttled(code)
            error.headers["x-app-usage"] = '{"call_count":100,"total_cputime":100,"total_time":100}'
        else:
            error = transient_error(self.fault_codes["server_error"])
        return json_response(error.body(self.fbtrace()), error.status, error.headers)

    def tick(self) -> None:
        if self.held:
            self.flush_held()

    def describe(self) -> dict[str, Any]:
        return {
            "apps": [
                {"app_id": a.app_id, "name": a.name, "webhook_url": a.webhook_url}
                for a in self.apps.values()
            ],
            "counts": {
                "businesses": len(self.businesses),
                "wabas": len(self.wabas),
                "phone_numbers": len(self.phones),
                "tokens": len(self.tokens),
            },
            "wabas": [
                {
                    "id": w.id,
                    "name": w.name,
                    "business_id": w.business_id,
                    "messaging_limit": self.businesses[w.business_id].messaging_limit,
                    "partner_app_id": w.partner_app_id,
                    "subscribed_apps": list(w.subscribed_apps),
                    "ban_state": w.ban_state,
                    "phone_numbers": [
                        {
                            "id": p.id,
                            "number": "+" + p.number,
                            "status": p.status,
                            "quality_rating": p.quality_rating,
                            "throughput_level": p.throughput_level,
                        }
                        for p in (self.phones[i] for i in w.phone_ids[:20])
                    ],
                }
                for w in list(self.wabas.values())[-50:]
            ],
            "delivery": dict(self.delivery),
        }

    # -- state factories ------------------------------------------------------------------
    def new_business(self, name: str) -> Business:
        business = Business(self.sandbox.ids.digits(16), name)
        self.businesses[business.id] = business
        return business

    def new_waba(self, business_id: str, name: str, app_id: str | None) -> Waba:
        ids = self.sandbox.ids
        waba = Waba(
            ids.digits(15),
            name,
            business_id,
            app_id,
            self.clock.time(),
            namespace=ids.hex(8) + "_" + ids.hex(4) + "_" + ids.hex(4) + "_" + ids.hex(12),
        )
        self.wabas[waba.id] = waba
        return waba

    def new_phone(
        self,
        waba: Waba,
        *,
        number: str | None = None,
        verified_name: str,
        verified: bool = True,
        biz_app: bool = False,
        status: str = "PENDING",
    ) -> PhoneNumber:
        digits = "".join(ch for ch in (number or "") if ch.isdigit()) or self._next_number()
        self.numbers_in_use.add(digits)
        phone = PhoneNumber(
            self.sandbox.ids.digits(15),
            waba.id,
            digits,
            verified_name,
            self.clock.time(),
            status="CONNECTED" if biz_app else status,
            # live value is NOT_VERIFIED (fact sheet §1.7); the spec's enum says UNVERIFIED
            code_verification_status="VERIFIED" if verified or biz_app else "NOT_VERIFIED",
            is_on_biz_app=biz_app,
        )
        if phone.status == "CONNECTED":
            phone.last_onboarded_time = self.clock.time()
        elif self.name_review_seconds > 0:
            phone.name_ready_at = self.clock.time() + self.name_review_seconds
        self.phones[phone.id] = phone
        waba.phone_ids.append(phone.id)
        return phone

    def _next_number(self) -> str:
        while True:
            self.number_seq += 1
            digits = f"1555{self.number_seq:07d}"
            if digits not in self.numbers_in_use:
                return digits

    def issue_token(
        self,
        app_id: str,
        waba_ids: list[str],
        business_ids: list[str],
        scope_variant: str | None = None,
    ) -> Token:
        """A business integration system-user token granting these WABAs."""
        management = (
            "whatsapp_business_manage_events"  # the June 2026 variant (fact sheet §1.5)
            if scope_variant == "manage_events"
            else "whatsapp_business_management"
        )
        if scope_variant not in (None, "manage_events", "no_targets"):
            raise ValueError("scope_variant must be manage_events or no_targets")
        token = Token(
            "EAA" + self.sandbox.ids.token(140),
            app_id,
            "SYSTEM_USER",
            self.sandbox.ids.digits(15),
            self.clock.time(),
            waba_ids=list(reversed(waba_ids)),
            business_ids=list(business_ids),
            scopes=["business_management", management, "whatsapp_business_messaging"],
            # mid-2026: debug_token may list no WABA under the WhatsApp scopes (issue 13)
            lists_targets=scope_variant != "no_targets",
        )
        self.tokens[token.value] = token
        return token

    def issue_code(self, app_id: str, token: str, redirect_uri: str | None) -> AuthCode:
        code = AuthCode("AQ" + self.sandbox.ids.token(160), app_id, token, self.clock.time())
        code.redirect_uri = redirect_uri
        self.codes[code.code] = code
        return code
