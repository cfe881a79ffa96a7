"""Twilio's error envelope and the errors the simulator raises.

Shape (fact sheet §7): ``{"code", "message", "more_info", "status"}``, sometimes with
``details``. Codes come from the sheet; where the sheet names none, the generic 20001
(invalid or missing parameter) is used and the comment says so.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from ..base import json_response

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


class TwilioError(Exception):
    """An error answered in Twilio's envelope."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
        }
        if self.details:
            body["details"] = self.details
        return body

    def response(self) -> Response:
        return json_response(self.body(), self.status, self.headers)


def unauthorized() -> TwilioError:
    # 20003 with a Basic challenge, as api.twilio.com answers bad or missing credentials.
    return TwilioError(
        401, 20003, "Authenticate", headers={"WWW-Authenticate": 'Basic realm="Twilio API"'}
    )


def not_found(path: str) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


def missing(param: str) -> TwilioError:
    return TwilioError(400, 20001, f"Missing required parameter {param} in the post body")


def invalid(param: str, why: str = "") -> TwilioError:
    suffix = f": {why}" if why else ""
    return TwilioError(400, 20001, f"Invalid parameter {param}{suffix}")


def too_many_requests(message: str = "Too Many Requests") -> TwilioError:
    # §7: 20429, "the request was not processed, so retry with backoff".
    return TwilioError(429, 20429, message, headers={"Retry-After": "1"})
