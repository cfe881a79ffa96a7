"""Absolute links that leave the portal (e-mails, links to pass on)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` on ``PUBLIC_BASE_URL``.

    Never built from the request: a forged ``Host`` header would otherwise put a one-time
    token (a reset link, an invitation) into a link to the forger's server.
    """
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path.rstrip("/") or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)
