"""Companies (tenants), users, memberships with a role, and the tenant query helpers.

Every company-owned table mixes in :class:`CompanyOwned`; every tenant read goes through
:func:`tenant_get` / :func:`tenant_select`, which require the company. A row of another
company is indistinguishable from a missing one (:class:`~provisioning.errors.NotFound`).
"""

from __future__ import annotations

import enum
import re
import secrets
import unicodedata
from typing import Any, TypeVar

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, relationship
from sqlalchemy.sql import Select

from .db import Base, created_at, enum_column, intpk, updated_at
from .errors import NotFound


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def label(self) -> str:
        return {"admin": "Company admin", "member": "Company member"}[self.value]


def new_public_id() -> str:
    return "co_" + secrets.token_hex(12)


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # Opaque id given to providers (360dialog's partner payload): reveals nothing.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="company", cascade="all, delete-orphan"
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def role_in(self, company_id: int) -> Role | None:
        for membership in self.memberships:
            if membership.company_id == company_id and membership.is_active:
                return membership.role
        return None


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "company_id"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.MEMBER)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_at]

    user: Mapped[User] = relationship(back_populates="memberships")
    company: Mapped[Company] = relationship(back_populates="memberships")


class CompanyOwned:
    """Mixin for every row that belongs to one company."""

    @declared_attr
    def company_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)


T = TypeVar("T", bound=Base)


def tenant_select(model: type[T], company_id: int | None) -> Select[T]:
    """``SELECT model WHERE company_id = :company_id``; refuses to run without a company."""
    if company_id is None:
        raise ValueError(f"a query of {model.__name__} needs the company")
    return select(model).where(model.__table__.c.company_id == company_id)


def tenant_get(session: Session, model: type[T], company_id: int | None, ident: Any) -> T:
    """The row of ``model`` with id ``ident`` in the company, or :class:`NotFound`."""
    stmt = tenant_select(model, company_id).where(model.__table__.c.id == ident)
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound(f"{model.__name__} {ident} not found")
    return row


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60] or "company"


def unique_slug(session: Session, name: str) -> str:
    base = slugify(name)
    taken = set(session.scalars(select(Company.slug).where(Company.slug.startswith(base))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug
