"""Envelopes, errors and list paging shared by the Partner API and the Messaging API."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, NoReturn

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from ..base import json_response

# Labels of the Partner V2 OpenAPI responses (fact sheet §5)
LABELS = {
    400: "Wrong payload",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    429: "Too many requests",
    500: "Internal server error",
    502: "WhatsApp for Business API not available",
    503: "Service unavailable",
}


def meta_body(status: int, message: str, details: Iterable[str] = ()) -> dict[str, Any]:
    """The ``{"meta": {...}}`` error envelope (fact sheet §5, NET ``PartnerApiMeta``).

    The Messaging API's pages disagree on casing (``httpCode`` vs ``http_code``); the
    simulator uses snake_case on both hosts, as the Partner API does.
    """
    label = LABELS.get(status, "Client error")
    return {
        "meta": {
            "success": False,
            "http_code": status,
            "developer_message": message,
            "details": list(details),
            # NET's ErrorData: code is a string, status an int
            "error_data": {
                "code": str(status),
                "message": label,
                "real_message": message,
                "status": status,
            },
        }
    }


def abort_with(response: Response) -> NoReturn:
    """Stop handling and answer ``response`` (the base class turns it into the reply)."""
    raise HTTPException(response=response)


def fail(status: int, message: str, details: Iterable[str] = ()) -> NoReturn:
    abort_with(json_response(meta_body(status, message, details), status))


def fail_plain(status: int, message: str) -> NoReturn:
    """``{"error": "..."}``: the webhook-config endpoints' error shape (fact sheet §4)."""
    abort_with(json_response({"error": message}, status))


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 in the meta envelope."""
    if not request.get_data():
        return {}
    try:
        body = json.loads(request.get_data())
    except ValueError:
        fail(400, "Request body is not valid JSON")
    if not isinstance(body, dict):
        fail(400, "Request body must be a JSON object")
    return body


class RawRedirect(Response):
    """A 302 whose Location is sent verbatim.

    werkzeug percent-encodes ``[`` and ``]`` in Location; 360dialog's redirect carries
    ``channels=[id1,id2]`` bracketed and unquoted (fact sheet §1 "Redirect back").
    """

    def __init__(self, location: str) -> None:
        super().__init__("", status=302, content_type="text/html; charset=utf-8")
        self._raw_location = location

    def get_wsgi_headers(self, environ: dict) -> Any:
        headers = super().get_wsgi_headers(environ)
        headers["Location"] = self._raw_location
        return headers


# -- list endpoints -------------------------------------------------------------------------
def parse_filters(raw: str | None) -> dict[str, Any]:
    """``filters`` is a JSON object in the query; kairon sends Python-style single quotes."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            fail(400, "Invalid filters", [f"filters: not a JSON object: {raw}"])
    if not isinstance(value, dict):
        fail(400, "Invalid filters", ["filters: must be a JSON object"])
    return value


def parse_sort(raw: str | None, default: list[str]) -> list[str]:
    """``sort`` is a field name, ``-`` for descending; a JSON list or commas also work."""
    if not raw:
        return list(default)
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except ValueError:
            fail(400, "Invalid sort", [f"sort: {raw}"])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail(400, "Invalid sort", ["sort: must be a list of field names"])
        return value
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        fail(400, f"Invalid {name}", [f"{name}: not an integer"])
    if value < 0:
        fail(400, f"Invalid {name}", [f"{name}: must not be negative"])
    return value


def lookup(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _matches(item: dict[str, Any], key: str, wanted: Any, search: Callable[[dict], str]) -> bool:
    if key == "q":
        return str(wanted).lower() in search(item).lower()
    actual = lookup(item, key)
    if isinstance(wanted, list):
        return any(_same(actual, w) for w in wanted)
    return _same(actual, wanted)


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or actual is None or wanted is None:
        return actual == wanted
    return str(actual) == str(wanted)


def page(
    request: Request,
    items: list[dict[str, Any]],
    key: str,
    search: Callable[[dict], str],
    default_sort: list[str],
) -> Response:
    """Filter, sort and page ``items`` into the ``{count, filters, sort, limit, offset,
    total, <key>[]}`` envelope (fact sheet §3 "Paging and filters")."""
    filters = parse_filters(request.args.get("filters"))
    sort = parse_sort(request.args.get("sort"), default_sort)
    limit = parse_int(request.args.get("limit"), "limit", 20)  # NET's default
    offset = parse_int(request.args.get("offset"), "offset", 0)
    selected = [i for i in items if all(_matches(i, k, v, search) for k, v in filters.items())]
    for field_name in reversed(sort):  # stable sorts, last key first
        descending = field_name.startswith("-")
        name = field_name.lstrip("-+")
        present = [i for i in selected if lookup(i, name) is not None]
        missing = [i for i in selected if lookup(i, name) is None]
        present.sort(key=partial(_field_sort_key, name), reverse=descending)
        selected = present + missing
    window = selected[offset : offset + limit]
    return json_response(
        {
            "count": len(window),
            "filters": filters,
            "sort": sort,
            "limit": limit,
            "offset": offset,
            "total": len(selected),
            key: window,
        }
    )


def _field_sort_key(name: str, item: dict[str, Any]) -> tuple[int, Any]:
    return _sort_key(lookup(item, name))


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool | int | float):
        return (0, value)
    return (1, str(value))
