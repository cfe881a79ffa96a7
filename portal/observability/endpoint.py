"""``GET /metrics``: the Prometheus exposition of the default registry.

Who may scrape it:

- with ``METRICS_TOKEN`` set, a request carrying ``Authorization: Bearer <token>``
  (anything else: 401), in every mode;
- without it, in production, only a request made on this host straight to the portal
  (a loopback address, and no ``X-Forwarded-For``/``Forwarded``: a request relayed by a
  proxy came from elsewhere); others get 404, as if there were no such page;
- without it, outside production, anyone (development and the demo).

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn with several workers), the answer adds
up every worker's files in that directory instead of this process's registry.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from ..access import public

bp = Blueprint("observability", __name__)
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded")


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _bearer_token_matches(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _from_this_host() -> bool:
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    return local and not any(name in request.headers for name in PROXY_HEADERS)


@bp.route("/metrics")
@public  # guarded here: a bearer token, or this host only in production
def metrics() -> Response:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        if not _bearer_token_matches(token):
            answer = Response("A bearer token is required.\n", 401, mimetype="text/plain")
            answer.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return answer
    elif current_app.config["PORTAL_ENV"] == "production" and not _from_this_host():
        abort(404)
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
