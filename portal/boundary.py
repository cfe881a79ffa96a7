"""The request boundary: one transaction per request and one answer per error.

Views parse the request, call one service and answer; they never commit nor roll back.
Here, once per request:

- an answer under 400 commits what the request wrote; any other answer rolls it back;
- a service that must put something on record before a provider call (a claim, an
  attempt, a spent launch) is handed :func:`checkpoint`, which commits what the request
  wrote so far, so that what follows an error is never half-written and what precedes
  the call survives it;
- a domain or provider error raised by a view becomes one answer: the error page (or JSON
  for scripts) with its status, or, for a form posted from a page, the message flashed and
  a 303 back to the page the view names with :func:`errors_go_to`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Flask,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from provisioning import platform_events
from provisioning.errors import (
    AuthError,
    DomainError,
    InProgress,
    NotFound,
    ProviderError,
    Rejected,
    Retryable,
)
from provisioning.partners import ConfigurationUnavailable, Provider

from .api.problems import is_api_request, problem
from .extensions import db

View = TypeVar("View", bound=Callable[..., Any])
Target = str | Callable[[], str]

# Kept with the request (not ``g``: an app context, and so ``g``, can outlive a request).
ERROR_TARGET, AFTER_COMMIT = "portal.error_target", "portal.after_commit"
CONFLICT = "Someone changed this at the same moment. Please try again."


def checkpoint() -> None:
    """Commit what the request wrote so far (an intent on record before a provider call)."""
    db.session.commit()


def after_commit(callback: Callable[[], object]) -> None:
    """Run ``callback`` once the request's transaction is committed (a job that reads what
    the request wrote); it is dropped when the request rolls back."""
    request.environ.setdefault(AFTER_COMMIT, []).append(callback)


def errors_go_to(target: Target) -> Callable[[View], View]:
    """Answer this view's domain and provider errors with the message flashed and a 303 to
    ``target``: an endpoint (given the view's URL values it takes) or a function giving a
    URL."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request.environ[ERROR_TARGET] = target
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def status_of(exc: DomainError | ProviderError) -> int:
    """The HTTP status a person's request gets for ``exc``."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ConfigurationUnavailable | AuthError):
        return 409  # the platform's settings or the customer's grant, not this request
    if isinstance(exc, Retryable):
        return 429  # busy, throttled or unanswered: the same request may succeed soon
    if isinstance(exc, ProviderError) and not isinstance(exc, Rejected):
        return 502
    return 400


def provider_label(exc: ProviderError) -> str:
    """The provider's name as people know it (``twilio`` is Twilio)."""
    try:
        return Provider(exc.provider).brand
    except ValueError:
        return "The provider"


def message_of(exc: DomainError | ProviderError) -> str:
    """What a person is told about ``exc``, in words they can act on."""
    if not isinstance(exc, ProviderError):
        return str(exc)
    if isinstance(exc, InProgress):
        return exc.message
    name = provider_label(exc)
    if isinstance(exc, Retryable):
        return f"{name} did not complete the request ({exc.message}): try again in a moment."
    if isinstance(exc, AuthError):
        return f"{name} refused the credentials ({exc.message})."
    code = f" (code {exc.code})" if exc.code else ""
    return f"{name} refused the request: {exc.message}{code}"


def _target_url(target: Target) -> str:
    if callable(target):
        return target()
    values = request.view_args or {}
    rule = next(current_app.url_map.iter_rules(target))
    return url_for(target, **{k: v for k, v in values.items() if k in rule.arguments})


def _answer(exc: DomainError | ProviderError) -> ResponseReturnValue:
    db.session.rollback()
    status, message = status_of(exc), message_of(exc)
    if isinstance(exc, NotFound):
        message = "This page does not exist, or you do not have access to it."
    headers = {}
    if isinstance(exc, Retryable) and exc.retry_after:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    target = request.environ.get(ERROR_TARGET)
    if is_api_request():
        return problem(status, str(exc) if isinstance(exc, NotFound) else message, headers)
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(error=message), status, headers
    if target is not None and request.method == "POST" and status != 404:
        flash(message, "error")
        return redirect(_target_url(target), 303)
    return render_template("error.html", status=status, message=message), status, headers


def _end_transaction(response: Response) -> Response:
    if response.status_code >= 400:
        db.session.rollback()
        platform_events.take_emitted(db.session)  # rolled back: nothing to deliver
        return response
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent request won a unique row: nothing of this one stays
        db.session.rollback()
        platform_events.take_emitted(db.session)
        return current_app.make_response(_conflict())
    for callback in request.environ.pop(AFTER_COMMIT, ()):
        callback()
    wake_event_delivery()
    return response


def wake_event_delivery() -> None:
    """Once what wrote platform events is committed, deliver them now (not at the next
    poll of the delivery job)."""
    if platform_events.take_emitted(db.session):
        current_app.extensions["job_runner"].enqueue("events.deliver")


def _conflict() -> ResponseReturnValue:
    if is_api_request():
        return problem(409, CONFLICT)
    if request.is_json:
        return jsonify(error=CONFLICT), 409
    return render_template("error.html", status=409, message=CONFLICT), 409


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, _answer)
    app.register_error_handler(ProviderError, _answer)
    app.after_request(_end_transaction)
