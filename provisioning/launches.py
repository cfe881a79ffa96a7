"""Onboarding launches: one row per popup launch, its nonce stored as a hash, spent once.

A company admin who opens a provider's signup gets a fresh nonce (the ``state`` of the
launch). Its row binds it to the company, the provider and the user, and lives
``LIFETIME``. A completion spends it with one conditional ``UPDATE`` (only an unspent,
unexpired launch of that user, company and provider), so two completions can never both
spend it, whatever the browser's cookie holds. A spent launch stays on record, so a repeat
of the same completion can be answered with what the first one started.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, affected_rows, intpk, utcnow
from .errors import DomainError
from .tenancy import CompanyOwned
from .tokens import digest, new_token

LIFETIME = dt.timedelta(minutes=15)
MAX_OPEN = 5  # open launches per user; older ones are dropped
KEPT_AFTER_EXPIRY = dt.timedelta(days=1)  # spent launches answer repeats this long


class LaunchRefused(DomainError):
    """The launch's nonce is missing, unknown, spent, expired or bound elsewhere."""


class OnboardingLaunch(CompanyOwned, Base):
    __tablename__ = "onboarding_launches"

    id: Mapped[intpk]
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    spent_at: Mapped[dt.datetime | None]


def issue(session: Session, company_id: int, provider: str, user_id: int, now: dt.datetime) -> str:
    """A new nonce for one launch (only its hash is stored); flushed with the caller's
    transaction. The user's expired launches and open ones beyond ``MAX_OPEN`` go."""
    session.execute(
        delete(OnboardingLaunch).where(
            OnboardingLaunch.user_id == user_id,
            OnboardingLaunch.expires_at < now - KEPT_AFTER_EXPIRY,
        )
    )
    open_ids = session.scalars(
        select(OnboardingLaunch.id)
        .where(
            OnboardingLaunch.user_id == user_id,
            OnboardingLaunch.spent_at.is_(None),
            OnboardingLaunch.expires_at > now,
        )
        .order_by(OnboardingLaunch.id.desc())
        .offset(MAX_OPEN - 1)
    ).all()
    if open_ids:
        session.execute(delete(OnboardingLaunch).where(OnboardingLaunch.id.in_(open_ids)))
    nonce, nonce_hash = new_token(24)
    session.add(
        OnboardingLaunch(
            company_id=company_id,
            provider=provider,
            user_id=user_id,
            nonce_hash=nonce_hash,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    session.flush()
    return nonce


def find(session: Session, nonce: object) -> OnboardingLaunch | None:
    if not isinstance(nonce, str) or not nonce or len(nonce) > 200:
        return None
    return session.scalars(
        select(OnboardingLaunch).where(OnboardingLaunch.nonce_hash == digest(nonce))
    ).one_or_none()


def spend(
    session: Session,
    nonce: object,
    company_id: int,
    provider: str,
    user_id: int,
    now: dt.datetime,
) -> None:
    """Spend the launch in the caller's transaction, or ``LaunchRefused`` saying why.

    The ``UPDATE`` matches only an unspent, unexpired launch of this user, company and
    provider: of two completions at once, the second waits for the first's row lock and
    then matches nothing."""
    if not isinstance(nonce, str) or not nonce:
        raise LaunchRefused("The request carries no state: start the connection again.")
    spent = affected_rows(
        session,
        update(OnboardingLaunch)
        .where(
            OnboardingLaunch.nonce_hash == digest(nonce),
            OnboardingLaunch.user_id == user_id,
            OnboardingLaunch.company_id == company_id,
            OnboardingLaunch.provider == provider,
            OnboardingLaunch.spent_at.is_(None),
            OnboardingLaunch.expires_at > now,
        )
        .values(spent_at=now)
        .execution_options(synchronize_session=False),
    )
    if spent != 1:
        raise LaunchRefused(_why_refused(find(session, nonce), company_id, provider, user_id, now))


def _why_refused(
    launch: OnboardingLaunch | None, company_id: int, provider: str, user_id: int, now: dt.datetime
) -> str:
    if launch is None or launch.user_id != user_id or launch.spent_at is not None:
        return "This connection attempt is unknown or was already used: start again."
    if launch.company_id != company_id or launch.provider != provider:
        return "This connection attempt belongs to another company."
    return "This connection attempt expired: start again."


def burn(session: Session, nonce: str, now: dt.datetime) -> None:
    """Spend a launch whose completion was refused (a launch serves one completion)."""
    session.execute(
        update(OnboardingLaunch)
        .where(OnboardingLaunch.nonce_hash == digest(nonce), OnboardingLaunch.spent_at.is_(None))
        .values(spent_at=now)
        .execution_options(synchronize_session=False)
    )
