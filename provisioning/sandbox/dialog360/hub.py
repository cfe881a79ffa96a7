"""The hub's Integrated Onboarding pages: ``hub.360dialog.com/dashboard/app/{pid}/permissions``.

Screens (fact sheet §1 and "Simulator checklist"): signup or login -> plan and payment
(Direct-Payment hubs only, after a new signup) -> numbers (Embedded Signup stand-in) ->
consent -> 302 to the redirect URL. The flow's state is kept on the simulator under the
hidden ``flow`` form field. Stable element ids for browser tests: each screen's ``<main>``
is ``#d360-<screen>`` (signup, login, payment, numbers, consent, error) and holds
``#d360-<screen>-form``; fields ``#name #email #password #terms``, ``#plan-regular
#plan-premium #card-number``, ``#grant-<channel id>``, ``#number-<i> #phone-name-<i>``,
``#api-key-permission``; buttons ``#signup-submit #login-submit #payment-submit
#numbers-submit #consent-submit``; links ``#to-login #to-signup``; ``#form-error`` shows a
validation problem and ``#d360-error-message`` the client-facing error page's text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from . import onboarding
from .base import Dialog360Base
from .onboarding import Grant, OnboardingError
from .wire import RawRedirect

RULES = [
    Rule(
        "/hub-ui/dashboard/app/<pid>/permissions",
        methods=["GET", "POST"],
        endpoint="hub_permissions",
    ),
]

# every query parameter of fact sheet §1
PARAMS = (
    "number",
    "email",
    "name",
    "partner",
    "state",
    "redirect_url",
    "next",
    "plan_selection",
    "hosting_type",
    "connect_client_user",
    "client_id",
)
NUMBER_SLOTS = 3

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("pages"))),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def html(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("error", None)
    body = _env.get_template(template).render(**context)
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def error_page(message: str, status: int = 400) -> Response:
    return html("error.html", status, message=message)


class HubPages(Dialog360Base):
    """The permissions flow; mixed into :class:`Dialog360Simulator`."""

    def hub_permissions(self, request: Request, pid: str) -> Response:
        partner = self.store.partners.get(pid)
        if partner is None:
            return error_page(f"Partner {pid} was not found.", 404)
        flow_id = request.values.get("flow")
        if flow_id:
            flow = self.flows.get(flow_id)
            if flow is None or flow["partner_id"] != pid:
                return error_page("This onboarding link has expired. Please start again.")
            if request.method == "GET":
                screen = request.args.get("screen", flow["screen"])
                if screen not in ("signup", "login") or flow["screen"] not in ("signup", "login"):
                    screen = flow["screen"]
                flow["screen"] = screen
                return self._screen(request, flow_id)
            return self._submit(request, flow_id)
        if request.method != "GET":
            return error_page("This onboarding link has expired. Please start again.")
        params = {name: request.args.get(name) for name in PARAMS}
        try:
            onboarding.redirect_target(partner, params["redirect_url"])
        except OnboardingError as exc:
            return error_page(str(exc))
        reuse, keep = None, []
        if params["connect_client_user"] == "true" and params["client_id"]:
            # adds a user to an existing client (fact sheet §1); its numbers stay granted
            client = self.store.clients.get(params["client_id"])
            if client is None or client.partner_id != pid:
                return error_page("The account you were invited to was not found.", 404)
            reuse, keep = client.id, [c.id for c in self.store.channels_of(client.id)]
        flow_id = self.sandbox.ids.token(24)
        self.flows[flow_id] = {
            "partner_id": pid,
            "params": params,
            "screen": "login" if params["next"] == "login" else "signup",
            "client_id": reuse,
            "email": params["email"],
            "name": params["name"],
            "password": None,
            "plan": params["plan_selection"] or "regular",
            "numbers": [],
            "keep": keep,
            "api_key_permission": not partner.direct_payment,
        }
        return self._screen(request, flow_id)

    # -- rendering ------------------------------------------------------------------------
    def _screen(self, request: Request, flow_id: str, error: str | None = None) -> Response:
        flow = self.flows[flow_id]
        partner = self.store.partners[flow["partner_id"]]
        context: dict[str, Any] = {
            "flow": flow,
            "flow_id": flow_id,
            "partner": partner,
            "action": request.base_url,
            "error": error,
        }
        screen = flow["screen"]
        if screen == "numbers":
            existing = self.store.channels_of(flow["client_id"]) if flow["client_id"] else []
            prefill = [(n, name) for n, name in flow["numbers"]]
            if not prefill and flow["params"]["number"] and not existing:
                prefill = [(flow["params"]["number"], "")]
            slots = (prefill + [("", "")] * NUMBER_SLOTS)[:NUMBER_SLOTS]
            context |= {"existing": existing, "slots": slots}
        elif screen == "consent":
            channels = self.store.channels_of(flow["client_id"]) if flow["client_id"] else []
            kept = [c.phone_number for c in channels if c.id in flow["keep"]]
            context |= {
                "numbers": kept + [n for n, _ in flow["numbers"]],
                "revoking": [c.phone_number for c in channels if c.id not in flow["keep"]],
            }
        return html(f"{screen}.html", 400 if error else 200, **context)

    # -- form posts -------------------------------------------------------------------------
    def _submit(self, request: Request, flow_id: str) -> Response:
        flow = self.flows[flow_id]
        step = request.form.get("step")
        if step != flow["screen"]:  # a stale tab or the back button: show where we are
            return self._screen(request, flow_id)
        handler = getattr(self, f"_step_{step}")
        try:
            result = handler(flow, request.form)
        except OnboardingError as exc:
            return self._screen(request, flow_id, str(exc))
        if isinstance(result, Response):
            self.flows.pop(flow_id, None)
            return result
        flow["screen"] = result
        return self._screen(request, flow_id)

    def _step_signup(self, flow: dict[str, Any], form: Any) -> str:
        email, name = form.get("email", "").strip(), form.get("name", "").strip()
        password = form.get("password", "")
        if not email or "@" not in email or not name or not password:
            raise OnboardingError("Enter your name, a valid email and a password.")
        if not form.get("terms"):
            raise OnboardingError("Accept the terms of service to continue.")
        existing = self.store.client_by_email(flow["partner_id"], email)
        if existing is not None and existing.id != flow["client_id"]:
            raise OnboardingError("An account with this email already exists. Log in instead.")
        flow |= {"email": email, "name": name, "password": password}
        partner = self.store.partners[flow["partner_id"]]
        # The price/payment page sits between account creation and Embedded Signup on
        # Direct-Payment hubs only (fact sheet §1 "Direct-Payment hubs")
        return "payment" if partner.direct_payment and not flow["client_id"] else "numbers"

    def _step_login(self, flow: dict[str, Any], form: Any) -> str:
        email, password = form.get("email", "").strip(), form.get("password", "")
        client = self.store.client_by_email(flow["partner_id"], email)
        # clients made by control actions have no password: any password logs them in
        if client is None or (client.password and client.password != password):
            raise OnboardingError("Wrong email or password.")
        existing = self.store.channels_of(client.id)
        flow |= {
            "email": client.email,
            "name": client.name,
            "client_id": client.id,
            "keep": [c.id for c in existing],
        }
        if existing:
            flow["api_key_permission"] = all(c.api_key_permission for c in existing)
        return "numbers"

    def _step_payment(self, flow: dict[str, Any], form: Any) -> str:
        card = "".join(ch for ch in form.get("card_number", "") if ch.isdigit())
        if len(card) < 12:
            raise OnboardingError("Enter a card number.")
        flow["plan"] = form.get("plan", "regular")
        return "numbers"

    def _step_numbers(self, flow: dict[str, Any], form: Any) -> str:
        numbers = form.getlist("number")
        names = form.getlist("phone_name") + [""] * len(numbers)
        entered: list[tuple[str, str]] = []
        for raw, display in zip(numbers, names, strict=False):
            if raw.strip():
                number = onboarding.normalize_number(raw)
                entered.append((number, display.strip() or flow["name"] or number))
        existing = self.store.channels_of(flow["client_id"]) if flow["client_id"] else []
        keep = [c.id for c in existing if c.id in form.getlist("grant")]
        if not entered and not keep:
            raise OnboardingError("Add at least one phone number.")
        for number, _ in entered:
            other = self.store.channel_by_number(flow["partner_id"], number)
            if other is not None and not other.revoked and other.client_id != flow["client_id"]:
                raise OnboardingError(f"{number} is already connected to another account.")
        flow |= {"numbers": entered, "keep": keep}
        return "consent"

    def _step_consent(self, flow: dict[str, Any], form: Any) -> Response:
        partner = self.store.partners[flow["partner_id"]]
        if partner.direct_payment:
            # API-key permission is opt-in on Direct-Payment hubs (fact sheet §1)
            flow["api_key_permission"] = bool(form.get("api_key_permission"))
        params = flow["params"]
        outcome = onboarding.complete(
            self,
            Grant(
                partner=partner,
                email=flow["email"],
                name=flow["name"],
                partner_payload=params["partner"],
                client_id=flow["client_id"],
                password=flow["password"],
                numbers=flow["numbers"],
                keep=flow["keep"],
                api_key_permission=flow["api_key_permission"] or not partner.direct_payment,
                redirect_url=params["redirect_url"],
                state=params["state"],
            ),
        )
        return RawRedirect(outcome.location)
