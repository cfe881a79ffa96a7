"""Company (tenant) administration services."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from . import audit
from .errors import DomainError
from .tenancy import Company, slugify, unique_slug
from .text import has_control_characters


def search_companies(query: str = "") -> Select[Company]:
    stmt = select(Company).order_by(Company.name, Company.id)
    if query := query.strip():
        pattern = f"%{query.lower()}%"
        stmt = stmt.where(
            or_(func.lower(Company.name).like(pattern), func.lower(Company.slug).like(pattern))
        )
    return stmt


def create_company(
    session: Session, actor: audit.Actor, name: str, slug: str = "", *, is_demo: bool = False
) -> Company:
    name = _one_line_name(name)
    if not name:
        raise DomainError("A company needs a name.")
    slug = slugify(slug) if slug.strip() else unique_slug(session, name)
    _ensure_free(session, slug, None)
    company = Company(name=name, slug=slug, is_demo=is_demo)
    session.add(company)
    session.flush()
    audit.record(session, actor, "company.create", company, label=name, company_id=company.id)
    return company


def update_company(
    session: Session, actor: audit.Actor, company: Company, name: str, slug: str, active: bool
) -> Company:
    """Apply an edit, checked in full before anything changes: a refused edit leaves the
    company as it was (the page showing the error still shows the stored company)."""
    name = _one_line_name(name) or company.name
    slug = slugify(slug) if slug.strip() else company.slug
    if slug != company.slug:
        _ensure_free(session, slug, company.id)
    values = {"name": name, "slug": slug, "is_active": active}
    changed = [key for key, value in values.items() if getattr(company, key) != value]
    for key in changed:
        setattr(company, key, values[key])
    audit.record(
        session, actor, "company.update", company, label=company.name, company_id=company.id,
        changed=changed,
    )  # fmt: skip
    return company


def _one_line_name(name: str) -> str:
    """The name, stripped; it appears in e-mail subjects, so it must be one line."""
    if has_control_characters(name.strip()):
        raise DomainError("A company name must be one line, without control characters.")
    return name.strip()


def _ensure_free(session: Session, slug: str, own_id: int | None) -> None:
    other = session.scalars(select(Company.id).where(Company.slug == slug)).first()
    if other is not None and other != own_id:
        raise DomainError(f"The address '{slug}' is taken by another company.")
