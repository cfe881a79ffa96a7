"""The two paging styles (fact sheet §6 "Paging").

- v2010: one list key plus ``page, page_size, start, end, uri, first_page_uri,
  next_page_uri, previous_page_uri`` (relative URIs; the SDK joins them to its base URL).
- Product APIs (v1/v2): ``{<key>: [...], "meta": {key, page, page_size, url,
  first_page_url, next_page_url, previous_page_url}}`` with absolute URLs that the SDK
  follows as they are, so they carry the sandbox's own base URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request

from .errors import invalid

PAGING_PARAMS = ("Page", "PageSize", "PageToken")


def _window(request: Request, default_size: int, max_size: int = 1000) -> tuple[int, int]:
    try:
        size = int(request.args.get("PageSize", default_size))
        page = int(request.args.get("Page", 0))
    except ValueError as exc:
        raise invalid("PageSize") from exc
    if size < 1 or size > max_size:
        raise invalid("PageSize", f"must be between 1 and {max_size}")
    token = request.args.get("PageToken", "")
    if token[2:].isdigit():  # our tokens are "PT<page>"/"PA<page>"
        page = int(token[2:])
    return page, size


def _query(request: Request, page: int, size: int, token_prefix: str | None) -> str:
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k not in PAGING_PARAMS]
    pairs += [("PageSize", str(size)), ("Page", str(page))]
    if token_prefix and page > 0:
        pairs.append(("PageToken", f"{token_prefix}{page}"))
    return urlencode(pairs)


def page_2010(request: Request, items: list[dict[str, Any]], key: str, path: str) -> dict[str, Any]:
    """A v2010 list page; ``path`` is the list's path (``/2010-04-01/...json``)."""
    page, size = _window(request, 50)
    start = page * size
    chunk = items[start : start + size]
    has_next = start + size < len(items)
    return {
        key: chunk,
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": f"{path}?{_query(request, 0, size, None)}",
        "next_page_uri": f"{path}?{_query(request, page + 1, size, 'PA')}" if has_next else None,
        "page": page,
        "page_size": size,
        "previous_page_uri": (
            f"{path}?{_query(request, page - 1, size, 'PA')}" if page > 0 else None
        ),
        "start": start,
        "uri": f"{path}?{_query(request, page, size, 'PA')}",
    }


def page_v1(
    request: Request, items: list[dict[str, Any]], key: str, url: str, default_size: int = 50
) -> dict[str, Any]:
    """A product-API list page; ``url`` is the absolute list URL without a query."""
    page, size = _window(request, default_size)
    start = page * size
    chunk = items[start : start + size]
    has_next = start + size < len(items)
    return {
        key: chunk,
        "meta": {
            "page": page,
            "page_size": size,
            "first_page_url": f"{url}?{_query(request, 0, size, None)}",
            "previous_page_url": (
                f"{url}?{_query(request, page - 1, size, 'PT')}" if page > 0 else None
            ),
            "url": f"{url}?{_query(request, page, size, 'PT')}",
            "next_page_url": f"{url}?{_query(request, page + 1, size, 'PT')}" if has_next else None,
            "key": key,
        },
    }
