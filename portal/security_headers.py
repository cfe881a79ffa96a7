"""Security headers on every response: pages, errors, webhook answers, static files.

The Content-Security-Policy allows scripts, styles, images and connections from this
origin only; no page has an inline script, event handler or style attribute (data travels
in ``data-`` attributes, scripts live in ``portal/static``). A view that opens a
provider's popup is marked ``connect_page``; one that loads Meta's JavaScript SDK adds
the origin of the SDK the Meta partner configuration names (``sdk_url``), and what that
SDK is known to load besides itself (:data:`SDK_LOADS`; nothing for any other host).
Popups and full-page redirects to a provider are navigations, which CSP does not govern.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from werkzeug.datastructures import Headers

from provisioning.partners import Provider

from .providers import partner_configuration

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
META_SDK_LOADS: Policy = {
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


# SDK origin -> what the SDK served there loads besides itself
SDK_LOADS: Mapping[str, Policy] = {"https://connect.facebook.net": META_SDK_LOADS}


def sdk_policy(sdk_url: str) -> Policy:
    """A page loading the script at ``sdk_url``: its origin, and what it loads in turn."""
    parts = urlsplit(sdk_url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return extend({"script-src": (origin,)}, SDK_LOADS.get(origin, {}))


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


def content_security_policy(
    page: str | None = None,
    sdk_url: str | None = None,
    report_uri: str | None = None,
    images: tuple[str, ...] = (),
) -> str:
    """The policy of a kind of page (``connect_page``'s mark, or None for any other);
    a ``meta_sdk`` page loads the SDK at ``sdk_url`` (None: no SDK is configured);
    ``images``: origins this page shows images from (:func:`allow_images`)."""
    policy = BASE_POLICY
    if page == "meta_sdk" and sdk_url:
        policy = extend(policy, sdk_policy(sdk_url))
    if images:
        policy = extend(policy, {"img-src": images})
    return serialise(policy, report_uri)


def allow_images(origin: str) -> None:
    """Let this response's page show images from ``origin`` (``https://host[:port]``, of
    an image a person configured, e.g. a hosted onboarding link's logo)."""
    g.csp_images = (*g.get("csp_images", ()), origin)


def meta_sdk_url() -> str | None:
    """The SDK the active Meta partner configuration loads (None: Meta is not set up)."""
    config = partner_configuration(Provider.META)
    return config.value("sdk_url") if config is not None else None


def register(app: Flask) -> None:
    """Stamp the headers on every response. The policy follows the configuration of the
    moment (an admin may point Meta's SDK elsewhere); building it is cheap."""

    @app.after_request
    def security_headers(response: Response) -> Response:
        view = current_app.view_functions.get(request.endpoint or "")
        # only a page that rendered opens a popup or loads the SDK (an error page must not
        # query on, and gets the plain policy)
        kind = getattr(view, "connect_page", None) if response.status_code < 400 else None
        sdk_url = meta_sdk_url() if kind == "meta_sdk" else None
        stamp(response.headers, current_app.config, kind, sdk_url, g.get("csp_images", ()))
        return response


def stamp(
    headers: MutableMapping[str, str] | Headers,
    config: Mapping[str, Any],
    kind: str | None,
    sdk_url: str | None = None,
    images: tuple[str, ...] = (),
) -> None:
    """Set the security headers of a response to a page of ``kind`` (``connect_page``'s
    mark, or None; a ``meta_sdk`` page loads the SDK at ``sdk_url``) on ``headers``."""
    headers["Content-Security-Policy"] = content_security_policy(
        kind, sdk_url, config["CSP_REPORT_URI"], images
    )
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = CONNECT_REFERRER if kind else PAGE_REFERRER
    if config["HSTS_SECONDS"]:
        headers["Strict-Transport-Security"] = (
            f"max-age={config['HSTS_SECONDS']}; includeSubDomains"
        )
