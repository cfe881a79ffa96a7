"""One launch, one run: a completion that arrives twice gets the first one's run.

A popup's completion can be posted twice: a double submit, a reload of the return page,
two requests in flight at once. The run carries the launch's nonce as its unique
``state_nonce``. A repeat that comes after the first finds the nonce spent in its
session and answers with that run. A repeat that raced the first one past the nonce
check loses at the unique constraint: the ``IntegrityError`` is rolled back and the
winner's run is read back, never answered with a 500.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from provisioning.runs import ProvisioningRun
from provisioning.tenancy import tenant_select

from ..extensions import db
from . import nonces


def run_of_launch(company_id: int, nonce: str) -> ProvisioningRun | None:
    return db.session.scalars(
        tenant_select(ProvisioningRun, company_id).where(ProvisioningRun.state_nonce == nonce)
    ).one_or_none()


def repeated(provider: str, nonce: str | None = None) -> ProvisioningRun | None:
    """The run a completion of this session's launch already started (``nonce``, or the
    newest launch of ``provider`` when the provider does not echo the nonce)."""
    found = nonces.spent(provider, nonce)
    return run_of_launch(found[1], found[0]) if found else None


def start_once(
    company_id: int, nonce: str, start: Callable[[], ProvisioningRun]
) -> tuple[ProvisioningRun, bool]:
    """Start and commit the launch's run; ``(run, True)``, or the run a concurrent repeat
    of the same completion committed first and ``False``."""
    try:
        run = start()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        run = run_of_launch(company_id, nonce)
        if run is None:
            raise
        return run, False
    return run, True
