"""Unbound extensions, bound to the app in ``create_app``."""

from typing import TYPE_CHECKING, Any

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from provisioning.db import Base

MAX_PAGE = 10**9  # no listing has that many pages; a larger number would overflow OFFSET


if TYPE_CHECKING:

    class ScopedSession(Session):
        """What the scoped session proxies (a ``Session``), plus its own ``remove()``."""

        def remove(self) -> None: ...


class Database(SQLAlchemy):
    if TYPE_CHECKING:
        # The scoped session is a proxy of the request's ``Session``: typed as one, it can
        # be handed to the domain services, which take a plain ``Session``.
        session: ScopedSession  # type: ignore[assignment]

    def paginate(self, select: Any, *, page: int | None = None, **kwargs: Any) -> Any:
        """Flask-SQLAlchemy's, with the page number bounded: a page far past the last is
        shown empty, as any page past the last is, instead of an OFFSET the database
        cannot hold (a 500)."""
        if page is not None:
            page = min(page, MAX_PAGE)
        return super().paginate(select, page=page, **kwargs)


db = Database(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
login_manager = LoginManager()
