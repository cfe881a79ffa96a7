"""Graph's cursor paging over a list of ids: the page a call asks for (``limit``, ``after``,
``before``) and the ``paging`` envelope with cursors and ``previous``/``next`` links."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from .errors import invalid_parameter
from .graph import Call


def page_of(ids: list[str], params: dict[str, Any]) -> tuple[list[str], int, int]:
    """The ids of the page ``limit`` (default 25) and ``after`` or ``before`` ask for, where
    it starts, and the limit."""
    try:
        limit = max(1, int(params.get("limit", 25)))
    except ValueError:
        raise invalid_parameter("Param limit must be an integer") from None
    start, end = 0, len(ids)
    if params.get("after"):
        start = _cursor_index(ids, str(params["after"])) + 1
    elif params.get("before"):
        end = _cursor_index(ids, str(params["before"]))
        start = max(0, end - limit)
    return ids[start : min(end, start + limit)], start, limit


def paging(
    call: Call, edge: str, page: list[str], start: int, total: int, limit: int
) -> dict[str, Any]:
    """Graph's paging envelope for one page of ids: cursors, and ``previous``/``next`` links
    that repeat the call's parameters."""
    before, after = _cursor(page[0]), _cursor(page[-1])
    envelope: dict[str, Any] = {"cursors": {"before": before, "after": after}}
    query = {k: v for k, v in call.params.items() if k not in ("after", "before")}
    query["limit"] = limit
    if start > 0:
        envelope["previous"] = f"{edge}?{urlencode({**query, 'before': before})}"
    if start + len(page) < total:
        envelope["next"] = f"{edge}?{urlencode({**query, 'after': after})}"
    return envelope


def _cursor(template_id: str) -> str:
    return base64.urlsafe_b64encode(template_id.encode()).decode().rstrip("=")


def _cursor_index(ids: list[str], cursor: str) -> int:
    try:
        template_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return ids.index(template_id)
    except (ValueError, UnicodeDecodeError):
        raise invalid_parameter("Invalid cursor") from None
