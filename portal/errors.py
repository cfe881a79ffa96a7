"""Error pages: every failure a person can cause answers 4xx with a clear message."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from provisioning.crypto import KeyringError
from provisioning.errors import NotFound
from provisioning.partners import ConfigurationUnavailable

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


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _render(400, "The form expired or was not sent from this site. Please try again.")

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):
        return _render(404, MESSAGES[404])

    @app.errorhandler(ConfigurationUnavailable)
    def configuration_unavailable(exc: ConfigurationUnavailable):
        db.session.rollback()
        if request.is_json:  # the connect pages' scripts read the reason from JSON
            return jsonify(error=str(exc)), 409
        return _render(409, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        given = exc.description if exc.description != type(exc).description else None
        return _render(status, given or MESSAGES.get(status, exc.description or "Error"))

    @app.errorhandler(KeyringError)
    def keyring_error(exc: KeyringError):
        db.session.rollback()
        app.logger.error("encryption keyring: %s", exc)
        return _render(500, f"Stored secrets cannot be decrypted: {exc}")
