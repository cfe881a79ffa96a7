"""API keys: how the platform's services call the portal's API.

A key belongs to the platform (a platform admin creates it: it reaches every company) or
to one company (a company admin creates it: it reaches that company only). It carries
scopes: ``read`` (GET), ``write`` (what changes something) and ``credentials`` (a
channel's send credentials, one channel at a time). The token is shown once when the key
is created; the database keeps its SHA-256 and a short prefix that names it in lists.
A revoked key opens nothing, at once.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from collections.abc import Iterable

from sqlalchemy import JSON, ColumnElement, ForeignKey, String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from . import audit
from .db import Base, intpk, utcnow
from .errors import DomainError, NotFound
from .tenancy import Company
from .text import one_line
from .tokens import digest

TOKEN_PREFIX = "wpk_"
NAME_LENGTH = 100
TOUCH_EVERY = dt.timedelta(seconds=60)  # last-used time: written at most once a minute


class Scope(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    CREDENTIALS = "credentials"

    @property
    def label(self) -> str:
        return {
            "read": "Read: list and get",
            "write": "Write: create, change, start and release",
            "credentials": "Credentials: a channel's send credentials",
        }[self.value]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists: names the key
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # None: a platform key (every company)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    company: Mapped[Company | None] = relationship()

    @property
    def is_platform(self) -> bool:
        return self.company_id is None

    def allows(self, scope: Scope) -> bool:
        return scope.value in self.scopes


def create_key(
    session: Session,
    actor: audit.Actor,
    name: str,
    scopes: Iterable[Scope | str],
    company: Company | None = None,
) -> tuple[ApiKey, str]:
    """A new key of ``company`` (None: of the platform) and its token, never stored."""
    name = one_line(name or "", NAME_LENGTH).strip()
    if not name:
        raise DomainError("Name the key after the service that will use it.")
    try:
        chosen = sorted({Scope(s).value for s in scopes})
    except ValueError as exc:
        raise DomainError(f"Scopes are {', '.join(s.value for s in Scope)}.") from exc
    if not chosen:
        raise DomainError("Choose at least one scope.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=token[: len(TOKEN_PREFIX) + 6],
        token_hash=digest(token),
        scopes=chosen,
        company_id=company.id if company is not None else None,
        created_by_id=actor.user_id,
    )
    session.add(key)
    session.flush()
    audit.record(
        session, actor, "api_key.create", key, label=name, scopes=chosen,
        platform=company is None,
    )  # fmt: skip
    return key, token


def revoke_key(session: Session, actor: audit.Actor, key: ApiKey) -> None:
    """Revoke ``key`` (again: nothing changes)."""
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    audit.record(session, actor, "api_key.revoke", key, label=key.name)


def authenticate(session: Session, token: str, now: dt.datetime | None = None) -> ApiKey | None:
    """The live key whose token this is, its last-used time brought up to date."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    key = session.scalars(
        select(ApiKey).where(ApiKey.token_hash == digest(token), ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if key is None:
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_EVERY))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        key.last_used_at = now
    return key


def keys_of(session: Session, company_id: int | None) -> list[ApiKey]:
    """The keys of a company (None: the platform's), live ones first, newest first."""
    return list(
        session.scalars(
            select(ApiKey)
            .where(_owned_by(company_id))
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    )


def key_of(session: Session, company_id: int | None, key_id: int) -> ApiKey:
    """The key ``key_id`` of a company (None: of the platform), or ``NotFound``."""

    key = session.scalars(
        select(ApiKey).where(_owned_by(company_id), ApiKey.id == key_id)
    ).one_or_none()
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


def _owned_by(company_id: int | None) -> ColumnElement[bool]:
    """A company's keys (None: the platform's)."""
    return ApiKey.company_id.is_(None) if company_id is None else ApiKey.company_id == company_id
