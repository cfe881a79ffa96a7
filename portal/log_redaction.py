"""Secrets that travel in request URLs never reach a log line.

A Twilio Event Streams sink URL and a 360dialog webhook URL carry a secret path segment,
and Meta's subscription handshake a ``hub.verify_token``. Request logs (Werkzeug's in
development and the demo, gunicorn's access log in production) print the path and query,
so a filter on those loggers masks them before any handler formats the line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping

from flask import Flask

from provisioning.http import redact_url

SECRET_PATH = re.compile(r"(/webhooks/(?:twilio/events|360dialog)/)[^\s/?#\"']+")
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
# gunicorn access atoms that quote the request's URL: request line, path, query, referer
URL_ATOMS = ("r", "U", "q", "f", "{referer}i")


def redact_secrets(text: str) -> str:
    """``text`` with webhook path tokens and secret query values masked."""
    return redact_url(SECRET_PATH.sub(r"\1***", text))


class RedactSecrets(logging.Filter):
    """Rewrites a record whose message carries a secret (its arguments merged in).

    Named arguments (gunicorn's access log "atoms") are masked one by one and kept, so
    that the structured log can still read them as fields.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, MutableMapping):
            for key in URL_ATOMS:
                value = record.args.get(key)
                if isinstance(value, str):
                    record.args[key] = redact_secrets(value)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler
            return True
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def register(app: Flask) -> None:
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
