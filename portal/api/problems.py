"""Errors of the API as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

from typing import Any

from flask import Response, json, request
from werkzeug.http import HTTP_STATUS_CODES

PREFIX = "/api/"
MEDIA_TYPE = "application/problem+json"


def is_api_request() -> bool:
    """The request is the API's (its errors are problems, never pages)."""
    return request.path.startswith(PREFIX)


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any):
    """An RFC 9457 problem: ``type`` is ``about:blank``, so ``title`` is the status's."""
    body = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    answer = Response(json.dumps(body), status, mimetype=MEDIA_TYPE)
    answer.headers.update(headers or {})
    return answer
