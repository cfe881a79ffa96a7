"""Webhooks Twilio sends, signed with ``X-Twilio-Signature`` (fact sheet §5).

Form bodies: base64(HMAC-SHA1(auth token, URL + every param name and value, sorted by
name, repeated values sorted too)). JSON bodies: the URL gets ``bodySHA256=<hex sha256
of the raw body>`` and the signature covers that URL alone. The key is the auth token
of the (sub)account that owns the resource, never the parent's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlencode


def signature(token: str, url: str, params: Mapping[str, str | list[str]] | None = None) -> str:
    """The ``X-Twilio-Signature`` value for a request to ``url`` carrying ``params``."""
    payload = url
    for name in sorted(params or {}):
        value = (params or {})[name]
        for item in sorted(value) if isinstance(value, list) else [value]:
            payload += name + item
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_form(token: str, url: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a signed form-encoded webhook."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature(token, url, params),
        "I-Twilio-Idempotency-Token": hashlib.sha1(  # noqa: S324 (an id, not security)
            (url + urlencode(sorted(params.items()))).encode()
        ).hexdigest(),
    }
    return urlencode(params).encode(), headers


def signed_json(token: str, url: str, body: bytes) -> tuple[str, dict[str, str]]:
    """The URL (with ``bodySHA256``) and headers of a signed JSON webhook."""
    joiner = "&" if "?" in url else "?"
    signed_url = f"{url}{joiner}bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": signature(token, signed_url),
    }
    return signed_url, headers
