"""Embedded Signup: the sdk.js stand-in, the OAuth dialog pages and the finish logic.

Browser pieces (fact sheet §1.2-1.3):

- ``{base}/meta/connect/en_US/sdk.js`` defines ``FB.init`` and ``FB.login``; ``FB.login``
  opens ``{base}/meta/www/vNN.N/dialog/oauth?...&display=popup&origin=<opener origin>``.
- The dialog page walks business -> WABA -> phone number -> review (ids in ``dialog.html``).
- On submit, the popup posts ``WA_EMBEDDED_SIGNUP`` as a JSON string to the opener and a
  second JSON string ``{"type": "FB_SDK_LOGIN_RESPONSE", "response": {...}}`` that sdk.js
  turns into the ``FB.login`` callback; both with the opener's origin as targetOrigin,
  in the order chosen (``message_first`` or ``code_first``), then the popup closes.
- Without ``display=popup`` and with a ``redirect_uri`` (the full-page variant), the
  dialog answers 302 ``redirect_uri?code=...&state=...``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .base import MetaBase
from .versions import DEFAULT_VERSION

PAGES = Path(__file__).parent / "pages"
FINISH_EVENTS = ("FINISH", "FINISH_ONLY_WABA", "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING")
# Finishes of ES flows the dialog does not offer (M-ver): the control can still send them.
OTHER_FINISHES = ("FINISH_OBO_MIGRATION", "FINISH_GRANT_ONLY_API_ACCESS")
FLOWS = (*FINISH_EVENTS, *OTHER_FINISHES, "CANCEL", "ERROR_CANCEL", "ERROR")
# Only PHONE_NUMBER_SETUP is confirmed by the fact sheet (§1.3); the others are the
# simulator's names for its own screens.
STEPS = {
    "business": "BUSINESS_ACCOUNT_SELECTION",
    "waba": "WABA_SELECTION",
    "phone": "PHONE_NUMBER_SETUP",
    "review": "PERMISSIONS",
}
LIST_LIMIT = 100  # how many existing assets the dialog offers

_env = Environment(
    loader=FileSystemLoader(PAGES),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


class SignupMixin(MetaBase):
    """The browser side of Embedded Signup, and ``finish_signup`` shared with the control."""

    # -- pages --------------------------------------------------------------------------
    def sdk_js(self, request: Request, locale: str = "en_US") -> Response:
        www = request.url_root.rstrip("/") + "/www"
        body = _env.get_template("sdk.js").render(www_base=www, default_version=DEFAULT_VERSION)
        # connect.facebook.net serves the SDK with CORS, so pages may load it with
        # crossorigin="anonymous" as Meta's own snippet does.
        return Response(
            body,
            content_type="application/javascript; charset=utf-8",
            headers={"Access-Control-Allow-Origin": "*"},
        )

    def dialog(self, request: Request, version: str = DEFAULT_VERSION) -> Response:
        args = request.args
        app = self.apps.get(args.get("client_id", ""))
        if app is None:
            return self._page(
                "error.html",
                400,
                title="Invalid App ID",
                detail="The provided app ID does not look like a valid app ID.",
            )
        extras = _json_arg(args.get("extras"))
        feature = str(extras.get("featureType") or "")
        setup = extras.get("setup") if isinstance(extras.get("setup"), dict) else {}
        businesses = list(self.businesses.values())[-LIST_LIMIT:]
        wabas = list(self.wabas.values())[-LIST_LIMIT:]
        assets = {
            "businesses": [{"id": b.id, "name": b.name} for b in businesses],
            "wabas": [{"id": w.id, "name": w.name, "business_id": w.business_id} for w in wabas],
            "phones": [
                {
                    "id": p.id,
                    "waba_id": w.id,
                    "label": f"{p.verified_name} (+{p.number})",
                }
                for w in wabas
                for p in (self.phones[i] for i in w.phone_ids[:LIST_LIMIT])
            ],
        }
        context = {
            "app": app,
            "version": version,
            "hidden": {
                k: args.get(k, "")
                for k in ("client_id", "config_id", "redirect_uri", "state", "display", "origin")
            }
            | {"extras": json.dumps(extras), "session_id": self.sandbox.ids.hex(15)},
            "feature": feature,
            "setup": setup,
            "assets": assets,
            "steps": STEPS,
        }
        return self._page("dialog.html", 200, **context)

    def dialog_submit(self, request: Request, version: str = DEFAULT_VERSION) -> Response:
        form = request.form
        app_id = form.get("client_id", "")
        if app_id not in self.apps:
            return self._page("error.html", 400, title="Invalid App ID", detail=app_id)
        extras = _json_arg(form.get("extras"))
        result = self.finish_signup(
            app_id=app_id,
            flow=self._flow_from_form(form, extras),
            business_id=_existing(form.get("business_id")),
            business_name=form.get("new_business_name") or None,
            waba_id=_existing(form.get("waba_id")),
            waba_name=form.get("new_waba_name") or None,
            phone_number_id=_existing(form.get("phone_choice")),
            phone_number=form.get("new_phone_number") or None,
            verified_name=form.get("new_verified_name") or None,
            verified=form.get("phone_verified") == "on",
            redirect_uri=form.get("redirect_uri") or None,
            current_step=STEPS.get(form.get("current_step", ""), "PHONE_NUMBER_SETUP"),
            error_message=form.get("error_message") or None,
            session_id=form.get("session_id") or None,
            solution_id=(extras.get("setup") or {}).get("solutionID")
            if isinstance(extras.get("setup"), dict)
            else None,
        )
        redirect_uri = form.get("redirect_uri")
        if form.get("display") != "popup" and redirect_uri:
            return self._redirect_result(redirect_uri, form.get("state", ""), result)
        auth = json.dumps({"type": "FB_SDK_LOGIN_RESPONSE", "response": result["auth_response"]})
        return self._page(
            "done.html",
            200,
            message=result["message"],
            auth=auth,
            origin=form.get("origin", ""),
            order=form.get("order") or self.signup_order,
            event=result["event"],
        )

    @staticmethod
    def _flow_from_form(form: Any, extras: dict[str, Any]) -> str:
        action = form.get("action", "finish")
        if action == "cancel":
            return "CANCEL"
        if action == "error":
            return "ERROR_CANCEL" if form.get("error_kind") == "CANCEL" else "ERROR"
        feature = extras.get("featureType") or ""
        if feature == "only_waba_sharing" or form.get("phone_choice") == "none":
            return "FINISH_ONLY_WABA"
        if feature == "whatsapp_business_app_onboarding" and form.get("phone_choice") == "biz_app":
            return "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
        return "FINISH"

    @staticmethod
    def _redirect_result(uri: str, state: str, result: dict[str, Any]) -> Response:
        if result["code"]:
            query = {"code": result["code"], "state": state}
        else:
            # Facebook's standard OAuth denial parameters
            query = {
                "error": "access_denied",
                "error_code": "200",
                "error_description": "Permissions error",
                "error_reason": "user_denied",
                "state": state,
            }
        sep = "&" if "?" in uri else "?"
        return redirect(f"{uri}{sep}{urlencode(query)}#_=_", code=302)

    def _page(self, template: str, status: int, **context: Any) -> Response:
        html = _env.get_template(template).render(**context)
        return Response(html, status=status, content_type="text/html; charset=utf-8")

    # -- the finish logic (popup and control_complete_signup) ---------------------------
    def finish_signup(
        self,
        *,
        app_id: str,
        flow: str = "FINISH",
        business_id: str | None = None,
        business_name: str | None = None,
        waba_id: str | None = None,
        waba_name: str | None = None,
        phone_number_id: str | None = None,
        phone_number: str | None = None,
        verified_name: str | None = None,
        verified: bool = True,
        redirect_uri: str | None = None,
        current_step: str = "PHONE_NUMBER_SETUP",
        error_message: str | None = None,
        session_id: str | None = None,
        scope_variant: str | None = None,
        solution_id: str | None = None,
        omit_waba_id: bool = False,
    ) -> dict[str, Any]:
        """Create what the person chose, issue the code, build the postMessage payload.

        ``omit_waba_id`` sends a finish without the WABA and ``scope_variant="no_targets"``
        a token whose ``granular_scopes`` list no WABA (issue 13 item 6)."""
        if flow not in FLOWS:
            raise ValueError(f"flow must be one of {', '.join(FLOWS)}")
        if app_id not in self.apps:
            raise LookupError(f"unknown app {app_id}")
        result: dict[str, Any] = {
            "code": None,
            "business_id": None,
            "waba_id": None,
            "phone_number_id": None,
        }
        if flow not in (*FINISH_EVENTS, *OTHER_FINISHES):
            event = self._failure_event(flow, current_step, error_message, session_id)
            result.update(event=event, message=json.dumps(event))
            result["auth_response"] = {"authResponse": None, "status": "unknown"}
            return result
        business = (
            self.businesses[business_id]
            if business_id in self.businesses
            else self.new_business(business_name or "Sandbox Customer Business")
        )
        waba = self.wabas.get(waba_id or "")
        if waba is None or waba.business_id != business.id:
            waba = self.new_waba(business.id, waba_name or f"{business.name} WABA", app_id)
        waba.partner_app_id = app_id
        data: dict[str, Any] = {"waba_id": waba.id}
        if flow not in ("FINISH_ONLY_WABA", *OTHER_FINISHES):
            phone = self.phones.get(phone_number_id or "")
            if phone is None or phone.waba_id != waba.id:
                phone = self.new_phone(
                    waba,
                    number=phone_number,
                    verified_name=verified_name or business.name,
                    verified=verified,
                    biz_app=flow == "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING",
                )
            result["phone_number_id"] = phone.id
            if flow == "FINISH":
                data["phone_number_id"] = phone.id
        if flow != "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING":
            # Coexistence FINISH may carry only waba_id (CW PR #15462)
            data["business_id"] = business.id
        if flow == "FINISH":
            data = {
                "phone_number_id": data["phone_number_id"],
                "waba_id": waba.id,
                "business_id": business.id,
                **{k: [] for k in ("ad_account_ids", "page_ids", "dataset_ids")},
                **{k: [] for k in ("catalog_ids", "instagram_account_ids", "waba_ids")},
            }
        if omit_waba_id:
            data = {k: v for k, v in data.items() if k != "waba_id"}
            data["business_id"] = business.id
        token = self.issue_token(app_id, [waba.id], [business.id], scope_variant)
        code = self.issue_code(app_id, token.value, redirect_uri)
        event = {"type": "WA_EMBEDDED_SIGNUP", "event": flow, "data": data}
        result.update(
            code=code.code,
            business_id=business.id,
            waba_id=waba.id,
            event=event,
            message=json.dumps(event),
            auth_response={
                "authResponse": {"code": code.code, "userID": None, "expiresIn": None},
                "status": "connected",
            },
        )
        info = {"waba_id": waba.id, "owner_business_id": business.id, "partner_app_id": app_id}
        if solution_id:
            info["solution_id"] = str(solution_id)
        # partner events are keyed by the customer's business (M-wh/account_update)
        self.emit_webhook(
            waba.id,
            "account_update",
            {"event": "PARTNER_APP_INSTALLED", "waba_info": info},
            entry_id=business.id,
        )
        return result

    def _failure_event(
        self, flow: str, step: str, error_message: str | None, session_id: str | None
    ) -> dict[str, Any]:
        if flow == "CANCEL":
            return {"type": "WA_EMBEDDED_SIGNUP", "event": "CANCEL", "data": {"current_step": step}}
        data = {
            "error_message": error_message or "An unexpected error occurred during signup.",
            "error_code": "524126",
            "session_id": session_id or self.sandbox.ids.hex(15),
            "timestamp": str(int(self.clock.time())),
        }
        event = "CANCEL" if flow == "ERROR_CANCEL" else "ERROR"
        return {"type": "WA_EMBEDDED_SIGNUP", "event": event, "data": data}


def _json_arg(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _existing(value: str | None) -> str | None:
    return value if value and value not in ("new", "none", "biz_app") else None
