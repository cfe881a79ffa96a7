"""The URLs a link names: where its visitor is sent afterwards, and its logo."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app

from provisioning.errors import DomainError

HOST = re.compile(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]")  # names, IPv4 and IPv6 (lower-cased)


def check_link_url(url: str) -> None:
    """An absolute http(s) URL; https in production (as event endpoints,
    ``portal.api.events.check_url``). The browser, never the portal, follows it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise DomainError("must be an absolute http(s) URL.") from None
    if parts.scheme not in ("http", "https") or not HOST.fullmatch(parts.hostname or ""):
        raise DomainError("must be an absolute http(s) URL.")
    if current_app.config["PORTAL_ENV"] == "production" and parts.scheme != "https":
        raise DomainError("must use https.")


def https_origin(url: str) -> str | None:
    """``https://host[:port]`` of an https URL with a plain host name (a logo's origin, for
    the page's Content-Security-Policy), else None."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    host = parts.hostname or ""
    return f"https://{host}{port}" if parts.scheme == "https" and HOST.fullmatch(host) else None
