"""Structured logs: one event per line, JSON in production, readable in a terminal.

Every record goes through one ``structlog`` processor chain, whether it was logged with
``structlog.get_logger()`` or with the standard library (Flask, Werkzeug, gunicorn, our
``logging.getLogger(...)`` calls): a root handler formats it with
:class:`structlog.stdlib.ProcessorFormatter`, and gunicorn's own handlers get the same
formatter. The chain adds the time, level and logger; during a request the request id,
the company in scope and the signed-in user (:func:`add_request_context`); during a job
its name, id and attempt (:func:`job_context`); and masks secrets in every string value
last (:func:`redact_values`), so no renderer ever sees one.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from flask import g, has_request_context
from sqlalchemy import inspect
from structlog.typing import EventDict, Processor, WrappedLogger

from ..log_redaction import redact_secrets
from .context import CURRENT, new_id

FORMATS = ("json", "console")
GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")


def _identity(row: Any) -> Any:
    """The primary key of a loaded ORM row, read without touching the database (an
    attribute expired by a commit would be reloaded; the identity never is)."""
    state = inspect(row, raiseerr=False)
    identity = getattr(state, "identity", None)
    return identity[0] if identity else None


def add_request_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The request id, the company in the URL's scope and the signed-in user's id."""
    record = CURRENT.get()
    if record is None:
        return event_dict
    event_dict.setdefault("request_id", record.request_id)
    if record.company is not None:
        event_dict.setdefault("company", record.company)
    if not has_request_context():
        return event_dict
    company = g.get("company")  # set once access checks resolved it
    if company is not None and "company_id" not in event_dict:
        event_dict["company_id"] = _identity(company)
    user = g.get("_login_user")  # only if the request loaded it: logging never loads it
    if user is not None and "user_id" not in event_dict:
        user_id = _identity(user)
        if user_id is not None:
            event_dict["user_id"] = user_id
    return event_dict


# gunicorn's access log passes its "atoms" as the record's arguments: these become fields
ACCESS_ATOMS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "s": "status",
    "{x-request-id}o": "request_id",
}


def add_access_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Fields of a gunicorn access line (method, path, status, duration, request id)."""
    atoms = event_dict.pop("positional_args", None)
    record = event_dict.get("_record")
    if record is None or record.name != "gunicorn.access" or not hasattr(atoms, "get"):
        return event_dict
    for atom, key in ACCESS_ATOMS.items():
        value = atoms.get(atom)
        if value not in (None, "-"):
            event_dict.setdefault(key, value)
    if isinstance(atoms.get("D"), int):
        event_dict["duration_ms"] = round(atoms["D"] / 1000, 3)
    return event_dict


def redact_values(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Every string value with webhook tokens and secret query values masked."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact_secrets(value)
    return event_dict


SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    add_request_context,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
]


def formatter(fmt: str) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every handler: ``json`` (one object per line) or ``console``."""
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*SHARED, add_access_fields],
        pass_foreign_args=True,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # a string, so that it is redacted too
            redact_values,
            renderer,
        ],
    )


class PortalHandler(logging.StreamHandler):
    """The root handler this module installs (replaced, never duplicated, on a new app)."""


def configure(level: str | int, fmt: str) -> None:
    """Route all logging through structlog at ``level``, rendered as ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    shared = formatter(fmt)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, PortalHandler)]:
        root.removeHandler(handler)
    handler = PortalHandler(sys.stderr)
    handler.setFormatter(shared)
    root.addHandler(handler)
    root.setLevel(level)
    # gunicorn's loggers keep their own handlers (--error-logfile, --access-logfile) and
    # do not propagate; their lines take the same shape.
    for name in GUNICORN_LOGGERS:
        for gunicorn_handler in logging.getLogger(name).handlers:
            gunicorn_handler.setFormatter(shared)


@contextmanager
def job_context(name: str, attempt: int, job_id: str | None = None) -> Iterator[None]:
    """Every line logged while a job attempt runs carries the job's name, id and attempt.

    ``job_id`` is Celery's task id under Celery (the same for every attempt); elsewhere
    each attempt gets a fresh one.
    """
    with structlog.contextvars.bound_contextvars(
        job=name, job_id=job_id or _celery_task_id() or new_id(), attempt=attempt
    ):
        yield


def _celery_task_id() -> str | None:
    if "celery" not in sys.modules:
        return None  # never import Celery just to ask
    from celery import current_task

    request = getattr(current_task, "request", None)
    return getattr(request, "id", None)
