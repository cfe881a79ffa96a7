"""Cursor pagination: ``limit`` and an opaque ``cursor``; the answer's ``next_cursor``
continues after the last item (None: no more). Ordered by id, so items created while a
client pages are never skipped nor repeated. Every string the cursor's pattern admits
is a place in the list, so a cursor is either refused by its pattern (422) or followed."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select

MAX_LIMIT = 100
CURSOR = r"^c[0-9a-f]{1,15}$"


class PageArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(CURSOR, error="Not a cursor this API gives out."),
        metadata={"description": "The next_cursor of the previous page."},
    )


def page(session: Any, statement: Select, id_column: Any, limit: int, cursor: str | None):
    """(items, next_cursor) of ``statement`` after ``cursor``."""
    if cursor:
        statement = statement.where(id_column > int(cursor[1:], 16))
    rows = list(session.scalars(statement.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (f"c{rows[-1].id:x}" if more else None)
