"""Security headers on every response: pages, errors, webhook answers, static files.

The Content-Security-Policy allows scripts, styles, images and connections from this
origin only; no page has an inline script, event handler or style attribute (data travels
in ``data-`` attributes, scripts live in ``portal/static``). A view that opens a
provider's popup is marked ``connect_page``; one that loads Meta's JavaScript SDK adds
exactly the SDK's origins (the sandbox's, when companies onboard through the sandbox).
Popups and full-page redirects to a provider are navigations, which CSP does not govern.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

F = TypeVar("F", bound=Callable[..., Any])
Policy = Mapping[str, tuple[str, ...]]

BASE_POLICY: Policy = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'",),
    "connect-src": ("'self'",),
    "frame-src": ("'none'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
# What https://connect.facebook.net/en_US/sdk.js loads besides itself: hidden iframes and
# XHRs to www/web.facebook.com (login status, cross-domain messaging), app events to the
# Graph API, and a <style> element it inserts (hence 'unsafe-inline' for styles, on these
# pages only). Embedded Signup itself runs in a popup on the dialog origin.
META_SDK: Policy = {
    "script-src": ("https://connect.facebook.net",),
    "frame-src": (
        "https://www.facebook.com",
        "https://web.facebook.com",
        "https://staticxx.facebook.com",
    ),
    "connect-src": (
        "https://graph.facebook.com",
        "https://www.facebook.com",
        "https://web.facebook.com",
    ),
    "img-src": ("https://www.facebook.com",),
    "style-src": ("'unsafe-inline'",),
}
PAGE_REFERRER = "same-origin"
# Providers see which site opened their popup (the origin, never the path).
CONNECT_REFERRER = "strict-origin-when-cross-origin"


def connect_page(*, meta_sdk: bool = False) -> Callable[[F], F]:
    """Mark a view that opens a provider's popup; ``meta_sdk``: it loads Meta's SDK."""

    def mark(view: F) -> F:
        view.connect_page = "meta_sdk" if meta_sdk else "popup"  # type: ignore[attr-defined]
        return view

    return mark


def sandbox_sdk_policy(sandbox_url: str) -> Policy:
    """The sandbox's sdk.js stand-in loads itself and opens a popup, nothing more."""
    parts = urlsplit(sandbox_url)
    return {"script-src": (f"{parts.scheme}://{parts.netloc}",)}


def extend(policy: Policy, extra: Policy) -> dict[str, tuple[str, ...]]:
    """``policy`` with ``extra``'s sources added (a directive's ``'none'`` makes way)."""
    merged = dict(policy)
    for directive, sources in extra.items():
        kept = tuple(s for s in merged.get(directive, ()) if s != "'none'")
        merged[directive] = kept + tuple(s for s in sources if s not in kept)
    return merged


def serialise(policy: Policy, report_uri: str | None = None) -> str:
    parts = [" ".join((directive, *sources)) for directive, sources in policy.items()]
    if report_uri:
        parts.append(f"report-uri {report_uri}")
    return "; ".join(parts)


def content_security_policy(config: Mapping[str, Any], page: str | None = None) -> str:
    """The policy of a kind of page: ``connect_page``'s mark, or None for any other."""
    policy = BASE_POLICY
    if page == "meta_sdk":
        sandbox = config["PROVIDER_ENVIRONMENT"] == "sandbox"
        policy = extend(policy, sandbox_sdk_policy(config["SANDBOX_URL"]) if sandbox else META_SDK)
    return serialise(policy, config["CSP_REPORT_URI"])


def register(app: Flask) -> None:
    """Stamp the headers on every response. The policy follows the configuration of the
    moment (``demo run`` moves the sandbox after the app is built); building it is cheap."""

    @app.after_request
    def security_headers(response: Response) -> Response:
        view = current_app.view_functions.get(request.endpoint or "")
        stamp(response.headers, current_app.config, getattr(view, "connect_page", None))
        return response


def stamp(headers: MutableMapping[str, str], config: Mapping[str, Any], kind: str | None) -> None:
    """Set the security headers of a response to a page of ``kind`` (``connect_page``'s
    mark, or None) on ``headers``."""
    headers["Content-Security-Policy"] = content_security_policy(config, kind)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = CONNECT_REFERRER if kind else PAGE_REFERRER
    if config["HSTS_SECONDS"]:
        headers["Strict-Transport-Security"] = (
            f"max-age={config['HSTS_SECONDS']}; includeSubDomains"
        )
