"""The Meta simulator: Graph API, Embedded Signup pages and webhooks.

Hosts (see :mod:`provisioning.sandbox.core`): ``/meta/graph`` = graph.facebook.com (any
``/vNN.N/`` prefix or none), ``/meta/www`` = www.facebook.com (the ES dialog),
``/meta/connect`` = connect.facebook.net (``/en_US/sdk.js``).
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .coexistence import CoexistenceMixin
from .control import ControlMixin
from .errors import GraphError, throttled, transient_error
from .graph import GraphMixin
from .handlers import HandlersMixin
from .number_controls import NumberControlsMixin
from .numbers import CODE_TTL, NumbersMixin
from .profile import ProfileMixin
from .signup import SignupMixin
from .teardown import TeardownMixin
from .templates import TemplatesMixin
from .webhooks import WebhooksMixin

__all__ = ["MetaSimulator"]

ALL = ["GET", "POST", "DELETE"]


class MetaSimulator(
    ControlMixin,
    NumberControlsMixin,
    SignupMixin,
    TeardownMixin,
    TemplatesMixin,
    CoexistenceMixin,
    NumbersMixin,
    ProfileMixin,
    WebhooksMixin,
    HandlersMixin,
    GraphMixin,
):
    """Stateful Meta: apps, businesses, WABAs, numbers, templates, tokens, codes; starts
    empty."""

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
        self.tick_templates()
        self.tick_coexistence()
        self.tick_numbers()

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
                "templates": len(self.templates),
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
                    "templates": len(w.template_ids),
                    "phone_numbers": [
                        {
                            "id": p.id,
                            "number": "+" + p.number,
                            "status": p.status,
                            "quality_rating": p.quality_rating,
                            "throughput_level": p.throughput_level,
                            "is_on_biz_app": p.is_on_biz_app,
                        }
                        for p in (self.phones[i] for i in w.phone_ids[:20])
                    ],
                }
                for w in list(self.wabas.values())[-50:]
            ],
            "templates": [
                {
                    "id": t.id,
                    "waba_id": t.waba_id,
                    "name": t.name,
                    "language": t.language,
                    "category": t.category,
                    "status": t.status,
                    "quality_score": t.quality_score,
                    "correct_category": t.correct_category,
                }
                for t in list(self.templates.values())[-50:]
                if t.raw is None
            ],
            "codes": [  # what a number's owner would read on the phone
                {
                    "phone_number_id": phone_id,
                    "number": "+" + self.phones[phone_id].number,
                    "code": sent.code,
                    "method": sent.method,
                }
                for phone_id, sent in self.verification_codes.items()
                if phone_id in self.phones and self.clock.time() - sent.sent_at <= CODE_TTL
            ],
            "delivery": dict(self.delivery),
            "routes_by_host": self.routes_by_host(),
        }
