"""Claims: the row a request commits before a Twilio create, so that a second one waits.

A create with a side effect (a subaccount, a number, a sender) first commits a row that
says it is under way. A second request (a double click, another tab, a run) that finds a
live claim is told to try again in a moment (:func:`busy`, retryable); one that finds a
lapsed claim (its holder died, failed or lost the answer) takes it over with one
conditional ``UPDATE`` (:func:`take`) and looks the object up at Twilio before creating
it again. Two requests inserting the same unique row at once: the second's
``IntegrityError`` is rolled back to a savepoint and the first's row is read instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, CursorResult, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import InProgress

# Longer than the calls a claim covers (a lookup and a create, each bounded by timeouts).
CLAIM_SECONDS = 120
Row = TypeVar("Row")


def lapsed_before() -> dt.datetime:
    """Claims stamped before this time have lapsed."""
    return utcnow() - dt.timedelta(seconds=CLAIM_SECONDS)


def insert_or_reread(session: Session, row: Row, reread: Callable[[], Row | None]) -> Row:
    """Insert ``row``; when another request inserted the same unique row first, return that."""
    try:
        with session.begin_nested():
            session.add(row)
        return row
    except IntegrityError:
        found = reread()
        if found is None:
            raise
        return found


def take(session: Session, row: Any, values: dict[str, Any], *free: ColumnElement[bool]) -> bool:
    """Claim ``row`` with one compare-and-set: write ``values`` where every ``free``
    condition holds. False when another request holds the claim; the row is re-read."""
    model = type(row)
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(model)
        .where(model.id == row.id, *free)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    return result.rowcount == 1


def busy(what: str) -> InProgress:
    return InProgress("twilio", f"{what} is under way in another request: try again in a moment.")
