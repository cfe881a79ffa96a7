"""Wire helpers shared by the Twilio resources: dates, form params, rendering."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from .errors import TwilioError, invalid, missing

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def rfc2822(ts: float) -> str:
    """The 2010 API's dates: ``Thu, 01 Jan 2026 00:00:00 +0000``."""
    return email.utils.format_datetime(dt.datetime.fromtimestamp(ts, dt.UTC))


def iso(ts: float) -> str:
    """The product APIs' dates: ``2026-01-01T00:00:00Z``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record without its simulator-only keys (those starting with ``_``)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def form(request: Request) -> MultiDict:
    """The form-encoded body (the SDK sends every v2010/v1 write this way)."""
    return request.form


def required(params: MultiDict, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise missing(name)
    return value


def boolean(params: MultiDict, name: str, default: bool | None = None) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise invalid(name, f"{value!r} is not a boolean")


def json_body(request: Request, code: int = 63100) -> dict[str, Any]:
    """A JSON object body (Senders v2); 63100 "invalid or empty body" otherwise (§3)."""
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body:
        raise TwilioError(400, code, "Invalid or empty request body")
    return body


def json_param(params: MultiDict, name: str) -> Any:
    """A form param carrying JSON (TrustHub ``Attributes``, Events ``SinkConfiguration``)."""
    value = params.get(name)
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise invalid(name, "not valid JSON") from exc
