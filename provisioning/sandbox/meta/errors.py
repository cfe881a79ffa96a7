"""Meta's Graph error object and the codes the simulator answers with (fact sheet §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GraphError(Exception):
    """A Graph API error: raised by handlers, rendered as ``{"error": {...}}``.

    HTTP statuses: 400 for parameter errors (Graph's classic answer, also for unknown
    objects: code 100 subcode 33) and for token errors (190: Graph answers an invalid or
    expired token with 400, not 401; M-graph-err, issue 13 item 9), 403 for permission
    errors (200/10), 429 for throttling, 500 for transient errors.
    """

    message: str
    code: int
    status: int = 400
    type: str = "OAuthException"
    subcode: int | None = None
    is_transient: bool | None = None
    user_title: str | None = None
    user_msg: str | None = None
    error_data: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        if self.error_data is not None:
            error["error_data"] = self.error_data
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


def missing_token() -> GraphError:
    return GraphError("An access token is required to request this resource.", 104)


def invalid_token(subcode: int | None = None, message: str | None = None) -> GraphError:
    return GraphError(
        message or "Invalid OAuth access token - Cannot parse access token",
        190,
        status=400,
        subcode=subcode,
        headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'},
    )


def revoked_token() -> GraphError:
    # 190/460: "the session has been invalidated" (fact sheet §3.2: 460/463 subcodes)
    return invalid_token(
        460,
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons.",
    )


def unknown_object(object_id: str, method: str = "get") -> GraphError:
    return GraphError(
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        100,
        type="GraphMethodException",
        subcode=33,
    )


def permission_error(message: str = "(#200) Permissions error") -> GraphError:
    return GraphError(message, 200, status=403)


def invalid_parameter(message: str, subcode: int | None = None) -> GraphError:
    if not message.startswith("("):
        message = f"(#100) {message}"
    return GraphError(message, 100, subcode=subcode)


def nonexisting_field(field_name: str, node_type: str) -> GraphError:
    return invalid_parameter(
        f"Tried accessing nonexisting field ({field_name}) on node type ({node_type})"
    )


# Throttling codes (fact sheet §3.2-3.3): the message Meta sends with each code.
THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    80007: "(#80007) There have been too many calls to this WhatsApp Business account. "
    "Wait a bit and try again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    80008: "(#80008) There have been too many calls to this WhatsApp Business account. "
    "Wait a bit and try again.",
    130429: "(#130429) Rate limit hit",
    133016: "(#133016) Account register deregister rate limit exceeded",
}


def throttled(code: int = 4, headers: dict[str, str] | None = None) -> GraphError:
    """A rate-limit error; 429 as in the spec's examples, ``is_transient`` true."""
    error_data = None
    if code in (130429, 133016):
        error_data = {"messaging_product": "whatsapp", "details": THROTTLE_MESSAGES[code][9:]}
    return GraphError(
        THROTTLE_MESSAGES.get(code, f"(#{code}) Calls to this api have exceeded the rate limit."),
        code,
        status=429,
        subcode=2446079 if code == 4 else None,
        is_transient=True,
        error_data=error_data,
        headers=dict(headers or {}),
    )


def transient_error(code: int = 2) -> GraphError:
    """Meta's 5xx: code 1 (unknown) or 2 (service temporarily unavailable), transient."""
    message = (
        "An unknown error has occurred."
        if code == 1
        else "An unexpected error has occurred. Please retry your request later."
    )
    return GraphError(message, code, status=500, is_transient=True)


def register_error(code: int, message: str, details: str) -> GraphError:
    """The Cloud API registration errors (133005, 133010, ...) carry ``error_data``."""
    return GraphError(
        message, code, error_data={"messaging_product": "whatsapp", "details": details}
    )


def template_error(title: str, detail: str, subcode: int | None = None) -> GraphError:
    """Meta's answer to a template it refuses: code 100 with a title and a message for people."""
    return GraphError(
        "Invalid parameter", 100, subcode=subcode, is_transient=False, user_title=title,
        user_msg=detail,
    )  # fmt: skip
