"""Graph API plumbing: versions, parameters, auth, usage headers, dispatch and batch."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from werkzeug.wrappers import Request, Response

from ..base import json_response
from .base import MetaBase
from .errors import GraphError, invalid_parameter, invalid_token, missing_token, revoked_token
from .state import Token
from .versions import DEFAULT_VERSION, effective

VERSION_RE = re.compile(r"^v\d+\.\d+$")
MAX_BATCH = 50  # fact sheet §1.8
USAGE_WINDOW = 3600.0


@dataclass
class Call:
    """One Graph call, from HTTP or from a batch item."""

    method: str
    segments: list[str]
    params: dict[str, Any]
    token: str | None
    version: str | None
    headers: dict[str, str] = field(default_factory=dict)  # response headers to add


def request_params(request: Request) -> dict[str, Any]:
    """Graph merges query string, form body and JSON body into one parameter set."""
    params: dict[str, Any] = dict(request.args.items())
    params.update(request.form.items())
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            params.update(body)
    return params


def bearer(request: Request, params: dict[str, Any]) -> str | None:
    """``Authorization: Bearer|OAuth <token>`` or the ``access_token`` parameter."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    token = params.get("access_token")
    return str(token) if token else None


def split_version(path: str) -> tuple[str | None, list[str]]:
    segments = [s for s in path.split("/") if s]
    if segments and VERSION_RE.match(segments[0]):
        return segments[0], segments[1:]
    return None, segments


class GraphMixin(MetaBase):
    """The HTTP entry point and the shared machinery of the Graph handlers."""

    def graph(self, request: Request, rest: str = "") -> Response:
        params = request_params(request)
        version, segments = split_version(rest)
        method = request.method
        # Graph lets a GET carry ``method=post|delete`` (used by JS clients)
        override = str(params.pop("method", "")).upper()
        if override in ("POST", "DELETE") and method in ("GET", "POST"):
            method = override
        call = Call(method, segments, params, bearer(request, params), version)
        status, body, headers = self.graph_call(call)
        return json_response(body, status, headers)

    def graph_call(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        """Run one call; errors become Meta's error object with its status."""
        version = effective(call.version)
        headers = {
            "facebook-api-version": version or call.version or DEFAULT_VERSION,
            "x-fb-trace-id": self.sandbox.ids.alnum(11),
            "x-fb-request-id": self.sandbox.ids.alnum(23),
        }
        try:
            if version is None:
                path = "/".join([str(call.version), *call.segments])
                raise GraphError(f"Unknown path components: /{path}", 2500)
            call.version = version
            body = self.route_graph(call)
            status = 200
        except GraphError as exc:
            body, status = exc.body(self.fbtrace()), exc.status
            headers.update(exc.headers)
        headers.update(call.headers)
        return status, body, headers

    def fbtrace(self) -> str:
        return "A" + self.sandbox.ids.alnum(22)

    # -- auth ---------------------------------------------------------------------------
    def authenticate(self, call: Call) -> Token:
        """The caller's token: a system-user/BISU token or an ``APP_ID|APP_SECRET`` app token."""
        if not call.token:
            raise missing_token()
        if "|" in call.token:
            app_id, _, secret = call.token.partition("|")
            app = self.apps.get(app_id)
            if app is None or app.secret != secret:
                raise invalid_token(message="Invalid OAuth access token signature.")
            token = Token(call.token, app_id, "APP", app_id, 0.0)
        else:
            found = self.tokens.get(call.token)
            if found is None:
                raise invalid_token()
            if found.revoked:
                raise revoked_token()
            token = found
        self._count_app_call(token.app_id, call)
        return token

    def _count_app_call(self, app_id: str, call: Call) -> None:
        now = self.clock.time()
        calls = self.app_calls.setdefault(app_id, [])
        calls.append(now)
        while calls and calls[0] < now - USAGE_WINDOW:
            calls.pop(0)
        pct = min(100, len(calls) * 100 // 5000)
        # M-rate: X-App-Usage is a JSON object of percentages
        call.headers["x-app-usage"] = json.dumps(
            {"call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2},
            separators=(",", ":"),
        )

    def count_waba_call(self, waba_id: str, call: Call) -> None:
        """Business Use Case accounting per WABA, with ``X-Business-Use-Case-Usage``.

        Default limits are the sheet's 200/h (5,000/h once a number is registered), only
        reported; a budget set with ``control_set_call_budget`` is enforced (error 80007).
        """
        waba = self.wabas[waba_id]
        now = self.clock.time()
        calls = [t for t in waba.calls if t > now - waba.budget_window]
        active = any(self.phones[p].registered for p in waba.phone_ids)
        limit = waba.call_budget if waba.call_budget is not None else (5000 if active else 200)
        enforced = waba.call_budget is not None
        if enforced and len(calls) >= limit:
            regain = int((calls[0] + waba.budget_window - now) // 60) + 1 if calls else 0
            waba.calls = calls
            header = self._buc_header(waba_id, 100, regain)
            raise _with_headers(self.throttle_error(80007), {**call.headers, **header})
        calls.append(now)
        waba.calls = calls
        pct = min(100, len(calls) * 100 // max(limit, 1))
        call.headers.update(self._buc_header(waba_id, pct, 0))

    @staticmethod
    def _buc_header(waba_id: str, pct: int, regain_minutes: int) -> dict[str, str]:
        value = {
            waba_id: [
                {
                    "type": "whatsapp_business_management",
                    "call_count": pct,
                    "total_cputime": pct // 2,
                    "total_time": pct // 2,
                    "estimated_time_to_regain_access": regain_minutes,
                }
            ]
        }
        return {"x-business-use-case-usage": json.dumps(value, separators=(",", ":"))}

    # -- batch --------------------------------------------------------------------------
    def batch(self, call: Call) -> list[dict[str, Any]]:
        """``POST /?batch=[...]``: at most 50 items, answers in order with string bodies."""
        raw = call.params.get("batch")
        if raw is None:
            raise invalid_parameter("The parameter batch is required")
        try:
            items = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise invalid_parameter("batch parameter must be a JSON array") from None
        if not isinstance(items, list):
            raise invalid_parameter("batch parameter must be a JSON array")
        if len(items) > MAX_BATCH:
            raise invalid_parameter(
                f"Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
            )
        include_headers = str(call.params.get("include_headers", "true")).lower() != "false"
        answers: list[dict[str, Any]] = []
        for item in items:
            answers.append(self._batch_item(item, call, include_headers))
        return answers

    def _batch_item(self, item: Any, parent: Call, include_headers: bool) -> dict[str, Any]:
        status: int
        body: Any
        headers: dict[str, str]
        if not isinstance(item, dict) or "relative_url" not in item:
            status, body, headers = (
                400,
                GraphError("(#100) Each batch item needs a relative_url", 100).body(self.fbtrace()),
                {},
            )
        else:
            url = urlsplit(str(item["relative_url"]))
            params: dict[str, Any] = dict(parse_qsl(url.query))
            body = item.get("body")
            if isinstance(body, str):
                params.update(parse_qsl(body))
            elif isinstance(body, dict):
                params.update(body)
            version, segments = split_version(url.path)
            token = params.get("access_token") or parent.token
            sub = Call(
                str(item.get("method", "GET")).upper(),
                segments,
                params,
                token,
                version or parent.version,
            )
            status, body, headers = self.graph_call(sub)
        answer: dict[str, Any] = {"code": status}
        if include_headers:
            answer["headers"] = [
                {"name": "Content-Type", "value": "text/javascript; charset=UTF-8"},
                *({"name": k, "value": v} for k, v in headers.items()),
            ]
        # bodies are JSON *strings* inside the batch answer (fact sheet §1.8)
        answer["body"] = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return answer


def _with_headers(error: GraphError, headers: dict[str, str]) -> GraphError:
    error.headers.update(headers)
    return error
