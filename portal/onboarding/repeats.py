"""One launch, one run: a completion that arrives twice gets the first one's run.

A popup's completion can be posted twice: a double submit, a reload of the return page,
two requests in flight at once. The run carries the hash of the launch's nonce as its
unique ``state_nonce``, and the completion spends the launch (``provisioning.launches``)
in the transaction that starts the run. A repeat finds the launch spent by the same user
and is answered with that run; a repeat in flight at the same time waits for the first
one's row lock and then finds the run committed. Should two starts still meet at the
unique constraint, the start's savepoint is rolled back and the winner's run is read back,
never answered with a 500.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from provisioning import launches
from provisioning.runs import ProvisioningRun
from provisioning.tenancy import tenant_select

from ..extensions import db
from . import nonces


def run_of_launch(company_id: int, nonce: str) -> ProvisioningRun | None:
    return db.session.scalars(
        tenant_select(ProvisioningRun, company_id).where(
            ProvisioningRun.state_nonce == launches.digest(nonce)
        )
    ).one_or_none()


def repeated(nonce: object, company_id: int, provider: str) -> ProvisioningRun | None:
    """The run an earlier completion of the current user's launch started, if any."""
    launch = launches.find(db.session, nonce)
    if launch is not None:
        db.session.refresh(launch)  # a completion at the same time may have spent it since
    if (
        launch is None
        or launch.spent_at is None
        or launch.user_id != current_user.id
        or launch.company_id != company_id
        or launch.provider != provider
    ):
        return None
    return run_of_launch(company_id, str(nonce))


def complete_once(
    nonce: object,
    company_id: int,
    provider: str,
    start: Callable[[str], ProvisioningRun],
    *,
    durable: Callable[[], None],
    is_same: Callable[[ProvisioningRun], bool] = lambda run: True,
) -> tuple[ProvisioningRun, bool]:
    """Spend the launch and start its run, committed (``durable``): ``(run, True)``; or, for
    a repeat of a completion already made (``is_same`` the first one's run), ``(that run,
    False)``.

    ``start(state_nonce)`` builds the run in a savepoint. ``LaunchRefused`` when the nonce
    is unusable; when ``start`` raises, what it wrote is undone but the launch is committed
    spent all the same (a launch serves one completion), and the error goes on."""
    try:
        nonces.spend(nonce, company_id, provider)
    except nonces.LaunchRefused:
        earlier = repeated(nonce, company_id, provider)
        if earlier is None or not is_same(earlier):
            raise
        return earlier, False
    state = str(nonce)  # spend() refuses anything but a string
    try:
        with db.session.begin_nested():
            return start(launches.digest(state)), True
    except IntegrityError:  # another start won the launch's unique run
        winner = run_of_launch(company_id, state)
        if winner is None:
            raise
        return winner, False
    finally:
        durable()
