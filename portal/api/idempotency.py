"""``Idempotency-Key`` on the API's creating POSTs (:mod:`provisioning.idempotency`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, request

from provisioning import idempotency

from ..extensions import db
from .auth import current_key
from .problems import problem

V = TypeVar("V", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def idempotent(view: V) -> V:
    """Answer a repeated ``Idempotency-Key`` with the first answer, doing nothing again."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not key.strip() or len(key) > idempotency.KEY_LENGTH:
            return problem(400, f"{HEADER} must be 1 to {idempotency.KEY_LENGTH} characters.")
        api_key = current_key()
        print_ = idempotency.fingerprint(request.method, request.path, request.get_data())
        kept = idempotency.stored(db.session, api_key.id, key)
        if kept is not None:
            if kept.fingerprint != print_:
                return problem(422, f"This {HEADER} was used for another request.")
            answer = Response(kept.body, kept.status_code, mimetype="application/json")
            answer.headers[REPLAYED] = "true"
            return answer
        answer = current_app.make_response(view(*args, **kwargs))
        if answer.status_code < 300:
            idempotency.keep(
                db.session, api_key.id, key, print_, answer.status_code, answer.get_data(True)
            )
        return answer

    return wrapper  # type: ignore[return-value]
