"""The Graph operations: nodes, phone_numbers, subscribed_apps, message_templates and
message_template_library (served by :mod:`.templates`), register, oauth, debug_token."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import urlencode

from .base import MetaBase
from .errors import (
    GraphError,
    invalid_parameter,
    permission_error,
    register_error,
    throttled,
    unknown_object,
)
from .fields import (
    BUSINESS_DEFAULT,
    PHONE_DEFAULT,
    PHONE_LIST_DEFAULT,
    WABA_DEFAULT,
    app_node,
    business_node,
    phone_node,
    select,
    waba_node,
)
from .graph import DEFAULT_VERSION, Call
from .library import library_page
from .state import PhoneNumber, Token, Waba

PIN_RE = re.compile(r"^\d{6}$")
REGISTER_LIMIT = 10  # register/deregister calls per number per 72 h (fact sheet §1.6)
REGISTER_WINDOW = 72 * 3600.0
CODE_TTL = 30.0  # ES codes live 30 s (fact sheet §1.2)


class HandlersMixin(MetaBase):
    """Graph operations on the simulator's state; every handler returns a JSON-able body."""

    def route_graph(self, call: Call) -> Any:
        seg, method = call.segments, call.method
        match method, seg:
            case "POST", []:
                self.authenticate(call) if call.token else None
                return self.batch(call)
            case "GET", ["oauth", "access_token"]:
                return self.oauth_access_token(call)
            case "GET", ["debug_token"]:
                return self.debug_token(call)
            case "GET", ["me"]:
                token = self.authenticate(call)
                return {"id": token.user_id, "name": f"System user {token.user_id}"}
            case "GET", ["message_template_library"]:
                self.authenticate(call)
                return library_page(call, self.base_url("graph"))
            case "GET" | "POST", [upload_id] if upload_id.startswith("upload:"):
                return self.upload_data(call, upload_id)  # served by profile.ProfileMixin
            case "GET", [node_id]:
                return self.get_node(call, node_id)
            case "POST", [node_id]:
                return self.post_node(call, node_id)
            case "GET", [waba_id, "phone_numbers"]:
                return self.list_phone_numbers(call, waba_id)
            case "GET", [business_id, "client_whatsapp_business_accounts"]:
                return self.client_wabas(call, business_id)
            case "GET" | "POST" | "DELETE", [waba_id, "subscribed_apps"]:
                return self.subscribed_apps(call, waba_id)
            case "GET" | "POST" | "DELETE", [waba_id, "message_templates"]:
                return self.message_templates(call, waba_id)
            case "GET" | "POST", [waba_id, "assigned_users"]:
                return self.assigned_users(call, waba_id)
            case "POST", [phone_id, "smb_app_data"]:
                return self.smb_app_data(call, phone_id)
            case "POST", [phone_id, "register"]:
                return self.register(call, phone_id)
            case "POST", [phone_id, "deregister"]:
                return self.deregister(call, phone_id)
            case "POST", [waba_id, "phone_numbers"]:  # served by numbers.NumbersMixin
                return self.add_phone_number(call, waba_id)
            case "POST", [phone_id, "request_code" | "verify_code" as step]:
                return self.verification(call, phone_id, step)
            case "GET" | "POST", [phone_id, "official_business_account"]:
                return self.official_business_account(call, phone_id)
            case "GET" | "POST", [phone_id, "whatsapp_business_profile"]:
                return self.business_profile(call, phone_id)
            case "POST", [app_id, "uploads"]:
                return self.start_upload(call, app_id)
        target = seg[0] if seg else ""
        raise unknown_object(target if len(seg) < 2 else f"{seg[0]}/{seg[1]}", method)

    # -- lookups with permission checks ---------------------------------------------------
    def can_access(self, token: Token, waba: Waba) -> bool:
        if token.kind == "APP":
            return False
        if waba.id in token.waba_ids:
            return True
        return token.all_partner_wabas and (
            waba.partner_app_id == token.app_id or token.app_id in waba.subscribed_apps
        )

    def waba_for(self, call: Call, waba_id: str, token: Token) -> Waba:
        waba = self.wabas.get(waba_id)
        if waba is None or not self.can_access(token, waba):
            raise unknown_object(waba_id, call.method)
        self.count_waba_call(waba.id, call)
        return waba

    def phone_for(self, call: Call, phone_id: str, token: Token) -> PhoneNumber:
        phone = self.phones.get(phone_id)
        if phone is None or not self.can_access(token, self.wabas[phone.waba_id]):
            raise unknown_object(phone_id, call.method)
        self.count_waba_call(phone.waba_id, call)
        return phone

    # -- nodes ----------------------------------------------------------------------------
    def get_node(self, call: Call, node_id: str) -> dict[str, Any]:
        token = self.authenticate(call)
        fields = call.params.get("fields")
        if node_id in self.phones:
            phone = self.phone_for(call, node_id, token)
            node = phone_node(self, phone, token.app_id)
            return select(node, fields, "WhatsAppBusinessPhoneNumber", PHONE_DEFAULT, call.version)
        if node_id in self.wabas:
            waba = self.waba_for(call, node_id, token)
            node = waba_node(self, waba, token.app_id)
            return select(node, fields, "WhatsAppBusinessAccount", WABA_DEFAULT, call.version)
        business = self.businesses.get(node_id)
        if business is not None and (token.all_partner_wabas or node_id in token.business_ids):
            return select(
                business_node(business), fields, "Business", BUSINESS_DEFAULT, call.version
            )
        template = self.templates.get(node_id)
        if template is not None and self.can_access(token, self.wabas[template.waba_id]):
            self.count_waba_call(template.waba_id, call)
            return self.template_fields(call, template)
        app = self.apps.get(node_id)
        if app is not None and token.app_id == app.app_id:
            return select(app_node(app), fields, "Application", ("name", "link"), call.version)
        raise unknown_object(node_id)

    def post_node(self, call: Call, node_id: str) -> dict[str, Any]:
        """``POST /{PN}``: per-number webhook override, or the two-step PIN."""
        token = self.authenticate(call)
        if node_id not in self.phones:
            raise unknown_object(node_id, "post")
        phone = self.phone_for(call, node_id, token)
        config = call.params.get("webhook_configuration")
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except ValueError:
                raise invalid_parameter(
                    "Param webhook_configuration must be a JSON object"
                ) from None
        if isinstance(config, dict):
            uri = config.get("override_callback_uri")
            if not uri:
                phone.webhook_override = None
            else:
                self.require_subscription(token, self.wabas[phone.waba_id])
                self.verify_callback(str(uri), str(config.get("verify_token", "")))
                phone.webhook_override = {
                    "override_callback_uri": str(uri),
                    "verify_token": str(config.get("verify_token", "")),
                }
            return {"success": True}
        if call.params.get("new_display_name") is not None:
            return self.request_display_name(call, phone)
        pin = call.params.get("pin")
        if pin is not None:
            if not PIN_RE.match(str(pin)):
                raise invalid_parameter("Param pin must be 6 characters long.")
            phone.pin = str(pin)
            return {"success": True}
        raise invalid_parameter("No supported parameter was given")

    # -- edges ----------------------------------------------------------------------------
    def list_phone_numbers(self, call: Call, waba_id: str) -> dict[str, Any]:
        """Cursor paging as Graph does it: ``limit``, ``after``/``before``, ``paging.next``."""
        token = self.authenticate(call)
        waba = self.waba_for(call, waba_id, token)
        ids = waba.phone_ids
        try:
            limit = max(1, min(100, int(call.params.get("limit", 25))))
        except ValueError:
            raise invalid_parameter("Param limit must be an integer") from None
        start, end = 0, len(ids)
        if call.params.get("after"):
            start = self._cursor_index(ids, str(call.params["after"])) + 1
        elif call.params.get("before"):
            end = self._cursor_index(ids, str(call.params["before"]))
            start = max(0, end - limit)
        page = ids[start : min(end, start + limit)]
        fields = call.params.get("fields")
        data = [
            select(
                phone_node(self, self.phones[p], token.app_id),
                fields,
                "WhatsAppBusinessPhoneNumber",
                PHONE_LIST_DEFAULT,
                call.version,
            )
            for p in page
        ]
        body: dict[str, Any] = {"data": data}
        if page:
            before, after = _cursor(page[0]), _cursor(page[-1])
            paging: dict[str, Any] = {"cursors": {"before": before, "after": after}}
            base = f"{self.base_url('graph')}/{call.version or DEFAULT_VERSION}/{waba_id}"
            query = {k: v for k, v in call.params.items() if k not in ("after", "before")}
            query["limit"] = limit
            if start > 0:
                paging["previous"] = (
                    f"{base}/phone_numbers?{urlencode({**query, 'before': before})}"
                )
            if start + len(page) < len(ids):
                paging["next"] = f"{base}/phone_numbers?{urlencode({**query, 'after': after})}"
            body["paging"] = paging
        return body

    @staticmethod
    def _cursor_index(ids: list[str], cursor: str) -> int:
        try:
            phone_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            return ids.index(phone_id)
        except (ValueError, UnicodeDecodeError):
            raise invalid_parameter("Invalid cursor") from None

    def subscribed_apps(self, call: Call, waba_id: str) -> dict[str, Any]:
        """GET lists, POST subscribes (optionally with an override), DELETE unsubscribes."""
        token = self.authenticate(call)
        waba = self.waba_for(call, waba_id, token)
        if call.method == "GET":
            data = []
            for app_id, override in waba.subscribed_apps.items():
                app = self.apps.get(app_id)
                entry: dict[str, Any] = {
                    "whatsapp_business_api_data": app_node(app) if app else {"id": app_id}
                }
                if override:
                    entry["override_callback_uri"] = override["override_callback_uri"]
                data.append(entry)
            return {"data": data}
        if token.kind == "APP":
            raise permission_error()
        if call.method == "DELETE":
            waba.subscribed_apps.pop(token.app_id, None)
            return {"success": True}
        uri = call.params.get("override_callback_uri")
        if uri:
            self.require_subscription(token, waba, subscribing=True)
            verify_token = str(call.params.get("verify_token", ""))
            self.verify_callback(str(uri), verify_token)
            waba.subscribed_apps[token.app_id] = {
                "override_callback_uri": str(uri),
                "verify_token": verify_token,
            }
        else:
            # a POST without body removes the override (M-override)
            waba.subscribed_apps[token.app_id] = None
        return {"success": True}

    def message_templates(self, call: Call, waba_id: str) -> dict[str, Any]:
        """The WABA's templates: GET lists, POST creates, DELETE deletes by name."""
        token = self.authenticate(call)
        waba = self.waba_for(call, waba_id, token)
        if call.method == "GET":
            return self.list_templates(call, waba)
        if call.method == "POST":
            return self.create_template(call, waba)
        return self.delete_templates(call, waba)

    def require_subscription(self, token: Token, waba: Waba, *, subscribing: bool = False) -> None:
        """An override needs the app subscribed to ``messages`` at app level (CW #12488)
        and, for a number's override, subscribed to the number's WABA first (M-override:
        subscribe, then override, in two calls)."""
        app = self.apps[token.app_id]
        if "messages" not in app.fields or not (
            subscribing or token.app_id in waba.subscribed_apps
        ):
            raise invalid_parameter(
                "Before override the current callback uri, your app must be subscribed "
                "to receive messages"
            )

    def verify_callback(self, uri: str, verify_token: str) -> None:
        """Meta's hub.challenge handshake, for real, through ``sandbox.outbound``."""
        challenge = self.sandbox.ids.digits(10)
        response = self.sandbox.outbound.get(
            "meta",
            uri,
            {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token},
        )
        if response is None:
            detail = "curl_errno = 7; curl_error = Couldn't connect to server; HTTP Status Code = 0"
        elif response.status_code != 200:
            detail = (
                f"HTTP Status Code = {response.status_code}; "
                f"HTTP Message = {response.reason_phrase}"
            )
        elif response.text.strip() != challenge:
            detail = "The URL couldn't be validated. Response does not match challenge"
        else:
            return
        raise GraphError(
            f"(#2200) Callback verification failed with the following errors: {detail}", 2200
        )

    def client_wabas(self, call: Call, business_id: str) -> dict[str, Any]:
        """``GET /{business}/client_whatsapp_business_accounts``: the WABAs customers shared
        with the partner, read with the partner's system-user token (M-acct). The id in the
        path is the customer's business portfolio here: the simulator's partner owns no
        business node of its own."""
        token = self.authenticate(call)
        if token.kind == "APP" or not token.all_partner_wabas:
            raise permission_error()
        if business_id not in self.businesses:
            raise unknown_object(business_id, call.method)
        shared = [
            w
            for w in self.wabas.values()
            if w.business_id == business_id and self.can_access(token, w)
        ]
        fields = call.params.get("fields")
        data = [
            select(waba_node(self, w, token.app_id), fields, "WhatsAppBusinessAccount",
                   ("id", "name"), call.version)
            for w in shared
        ]  # fmt: skip
        body: dict[str, Any] = {"data": data}
        if shared:
            body["paging"] = {
                "cursors": {"before": _cursor(shared[0].id), "after": _cursor(shared[-1].id)}
            }
        return body

    def assigned_users(self, call: Call, waba_id: str) -> dict[str, Any]:
        token = self.authenticate(call)
        waba = self.waba_for(call, waba_id, token)
        if call.method == "GET":
            return {
                "data": [
                    {"id": user, "name": f"System user {user}", "tasks": tasks}
                    for user, tasks in waba.assigned_users.items()
                ]
            }
        user = str(call.params.get("user", ""))
        if not user:
            raise invalid_parameter("The parameter user is required")
        tasks = call.params.get("tasks", "['MANAGE']")
        if isinstance(tasks, str):
            tasks = re.findall(r"[A-Z_]+", tasks)
        waba.assigned_users[user] = list(tasks)
        return {"success": True}

    # -- registration ---------------------------------------------------------------------
    def register(self, call: Call, phone_id: str) -> dict[str, Any]:
        """Register for Cloud API: PIN kept from the first call, 10 calls per 72 h."""
        token = self.authenticate(call)
        phone = self.phone_for(call, phone_id, token)
        if call.params.get("messaging_product") != "whatsapp":
            raise invalid_parameter("The parameter messaging_product is required.")
        pin = str(call.params.get("pin", ""))
        if not PIN_RE.match(pin):
            raise invalid_parameter("Param pin must be 6 characters long.")
        self._count_register_attempt(phone)
        if phone.pin is not None and phone.pin != pin:
            raise register_error(
                133005,
                "Two step verification PIN Mismatch",
                "The two-step verification PIN you entered is incorrect.",
            )
        if phone.code_verification_status != "VERIFIED" and not phone.is_on_biz_app:
            raise register_error(
                133006, "Phone number re-verification needed", "Verify the phone number first."
            )
        pending = phone.name_ready_at is not None and self.clock.time() < phone.name_ready_at
        if pending or phone.name_status == "DECLINED":
            # The display name's certificate does not exist yet (issue 13 item 8), or the
            # name was declined (chatwoot CW-5692: "Your display name could not be processed").
            raise register_error(
                2388001,
                "Cannot Create Certificate",
                "The display name of this phone number is still being reviewed.",
            )
        if phone.pin is None:
            phone.pin = pin
        phone.status = "CONNECTED"
        phone.last_onboarded_time = self.clock.time()
        self.after_register(phone)
        return {"success": True}

    def deregister(self, call: Call, phone_id: str) -> dict[str, Any]:
        token = self.authenticate(call)
        phone = self.phone_for(call, phone_id, token)
        self._count_register_attempt(phone)
        phone.status = "DISCONNECTED"
        return {"success": True}

    def _count_register_attempt(self, phone: PhoneNumber) -> None:
        now = self.clock.time()
        phone.register_attempts = [t for t in phone.register_attempts if t > now - REGISTER_WINDOW]
        if len(phone.register_attempts) >= REGISTER_LIMIT:
            error = throttled(133016)
            error.status = 400  # a business rule, not a transient throttle
            error.is_transient = False
            raise error
        phone.register_attempts.append(now)

    # -- OAuth ----------------------------------------------------------------------------
    def oauth_access_token(self, call: Call) -> dict[str, Any]:
        """Exchange an ES code (single use, 30 s) for the business integration token."""
        app = self.apps.get(str(call.params.get("client_id", "")))
        if app is None:
            raise GraphError("Error validating application. Invalid application ID.", 101)
        if call.params.get("client_secret") != app.secret:
            raise GraphError("Error validating client secret.", 1)
        if call.params.get("grant_type") == "client_credentials":
            return {"access_token": f"{app.app_id}|{app.secret}", "token_type": "bearer"}
        code_value = str(call.params.get("code", ""))
        if not code_value:
            raise invalid_parameter("Missing authorization code")
        code = self.codes.get(code_value)
        if code is None or code.app_id != app.app_id:
            raise invalid_parameter("Invalid verification code format.")
        if code.used:
            raise invalid_parameter("This authorization code has been used.", 36009)
        if self.clock.time() - code.issued_at > CODE_TTL:
            raise invalid_parameter("This authorization code has expired.", 36007)
        redirect_uri = call.params.get("redirect_uri")
        if code.redirect_uri and redirect_uri and redirect_uri != code.redirect_uri:
            raise invalid_parameter(
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                36008,
            )
        code.used = True
        return {"access_token": code.token, "token_type": "bearer"}

    def debug_token(self, call: Call) -> dict[str, Any]:
        """Inspect a token; invalid ones answer 200 with ``is_valid: false`` as Graph does."""
        viewer = self.authenticate(call)
        input_token = str(call.params.get("input_token", ""))
        if not input_token:
            raise invalid_parameter("The parameter input_token is required")
        token = self.tokens.get(input_token)
        app = self.apps.get(viewer.app_id)
        if token is None or token.revoked or token.app_id != viewer.app_id:
            reason = (
                "Invalid OAuth access token."
                if token is None
                else (
                    "Error validating access token: The session has been invalidated."
                    if token.revoked
                    else "App_id in the input_token did not match the Viewing App"
                )
            )
            data: dict[str, Any] = {
                "error": {"code": 190, "message": reason},
                "is_valid": False,
                "scopes": [],
            }
            if token is not None:
                data["app_id"] = token.app_id
                data["user_id"] = token.user_id
            return {"data": data}
        granular = []
        for scope in token.scopes:
            entry: dict[str, Any] = {"scope": scope}
            if scope.startswith("whatsapp_business_") and token.lists_targets:
                entry["target_ids"] = list(token.waba_ids)
            elif scope == "business_management" and token.business_ids:
                entry["target_ids"] = list(token.business_ids)
            granular.append(entry)
        return {
            "data": {
                "app_id": token.app_id,
                "type": "SYSTEM_USER",
                "application": app.name if app else token.app_id,
                "data_access_expires_at": 0,
                "expires_at": token.expires_at,
                "is_valid": True,
                "issued_at": int(token.issued_at),
                "scopes": [*token.scopes, "public_profile"],
                "granular_scopes": granular,
                "user_id": token.user_id,
            }
        }

    def throttle_error(self, code: int) -> GraphError:
        return throttled(code)


def _cursor(phone_id: str) -> str:
    return base64.urlsafe_b64encode(phone_id.encode()).decode().rstrip("=")
