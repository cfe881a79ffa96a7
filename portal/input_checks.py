"""Input no database column can hold is refused before any view runs, the same on SQLite
and PostgreSQL.

- Ids: ``<int:...>`` in a URL matches 0 to 2**63 - 1 only (every id column is 64-bit), so
  a larger one is a 404 like any id that does not exist, instead of an overflow.
- NUL: PostgreSQL refuses the NUL character in every text column. A NUL in the path, the
  query, a form field or a JSON string (the ``\\u0000`` escape) is a 400 that says so.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, abort, request
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1
NUL_MESSAGE = "The request contains a NUL character (\\u0000), which no text may contain."
# ``\u0000`` preceded by an even number of backslashes (an odd number escapes the "\").
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class IdConverter(IntegerConverter):
    """``int`` for ids: at most ``MAX_ID`` unless the rule says otherwise."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:  # fmt: skip
        super().__init__(map, fixed_digits, min, max, signed)


def id_value(text: str) -> int:
    """An id read from a query or form value (``request.args.get(name, type=id_value)``):
    ValueError, so the default, unless an id column can hold it."""
    value = int(text)
    if not 0 <= value <= MAX_ID:
        raise ValueError(f"not an id: {text!r}")
    return value


def _has_nul(values: MultiDict) -> bool:
    return any("\x00" in key or "\x00" in str(value) for key, value in values.items(multi=True))


def refuse_nul() -> None:
    """400 for a NUL anywhere a view or the database would read text from the request."""
    if (
        "\x00" in request.path
        or _has_nul(request.args)
        or _has_nul(request.form)
        or (request.is_json and JSON_NUL.search(request.get_data(cache=True)))
    ):
        abort(400, NUL_MESSAGE)


def register(app: Flask) -> None:
    """Call before the blueprints are registered (their rules take the converter then)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul)
