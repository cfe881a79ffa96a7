"""Error pages: every failure a person can cause answers 4xx with a clear message."""

from __future__ import annotations

from flask import Flask, abort, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from provisioning.crypto import KeyringError

from .api.problems import is_api_request, problem
from .extensions import db

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to do this.",
    404: "This page does not exist, or you do not have access to it.",
    405: "This action is not allowed here.",
    413: "The request is too large.",
    429: "Too many requests. Please wait a moment.",
}


def _render(status: int, message: str):
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return jsonify(error=message), status
    return render_template("error.html", status=status, message=message), status


def refuse_oversized_bodies() -> None:
    """413 on the declared size, before a view (or a webhook's lookup) does any work: a
    body over ``MAX_CONTENT_LENGTH`` is never read. A body sent without a length is cut
    off at the limit as it is read (Werkzeug), with the same answer."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)


def api_http_error(exc: HTTPException):
    """An HTTP error of the API as a problem; a refused body lists what was wrong."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:  # webargs: {location: {field: [messages]}}
        return problem(status, "The request is not valid: see errors.", errors=messages)
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}  # Allow
    return problem(status, exc.description or "Error", headers)


def register(app: Flask) -> None:
    from . import boundary

    boundary.register(app)  # the transaction, and the answers to domain and provider errors
    app.before_request(refuse_oversized_bodies)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge):
        limit = request.max_content_length or 0
        message = f"The request body is too large: at most {limit // 1024} KiB is accepted."
        if request.path.startswith("/webhooks/"):  # providers read a short plain answer
            return message, 413, {"Content-Type": "text/plain; charset=utf-8"}
        if is_api_request():
            return problem(413, message)
        return _render(413, message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _render(400, "The form expired or was not sent from this site. Please try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if is_api_request():
            return api_http_error(exc)
        status = exc.code or 500
        given = exc.description if exc.description != type(exc).description else None
        return _render(status, given or MESSAGES.get(status, exc.description or "Error"))

    @app.errorhandler(KeyringError)
    def keyring_error(exc: KeyringError):
        db.session.rollback()
        app.logger.error("encryption keyring: %s", exc)
        if is_api_request():
            return problem(500, "Stored secrets cannot be decrypted: the platform must fix it.")
        return _render(500, f"Stored secrets cannot be decrypted: {exc}")
