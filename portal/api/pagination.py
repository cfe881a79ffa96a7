"""Cursor pagination: ``limit`` and an opaque ``cursor``; the answer's ``next_cursor``
continues after the last item (None: no more). Ordered by id, so items created while a
client pages are never skipped nor repeated."""

from __future__ import annotations

import base64
import json
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select

from provisioning.errors import DomainError

MAX_LIMIT = 100


class PageArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))


def page(session: Any, statement: Select, id_column: Any, limit: int, cursor: str | None):
    """(items, next_cursor) of ``statement`` after ``cursor``."""
    if cursor:
        statement = statement.where(id_column > _after(cursor))
    rows = list(session.scalars(statement.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_cursor(rows[-1].id) if more else None)


def _cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def _after(cursor: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = value["after"]
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError) as exc:
        raise DomainError("The cursor is not one this API gave out.") from exc
