"""Platform admin pages: the overview and the audit log; companies, users and partner
configurations have a module each, on the same blueprint."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import func, select

from provisioning.audit import AuditEntry
from provisioning.partners import PartnerConfiguration
from provisioning.tenancy import Company, User

from ..access import platform_admin
from ..extensions import db
from ..input_checks import id_value
from . import companies, partner_configurations, users  # noqa: F401  (their views join bp)
from .blueprint import bp, page_number

__all__ = ["bp"]


@bp.route("/")
@platform_admin
def index():
    counts = {
        "companies": db.session.scalar(select(func.count(Company.id))),
        "users": db.session.scalar(select(func.count(User.id))),
        "partner configurations": db.session.scalar(select(func.count(PartnerConfiguration.id))),
    }
    recent = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(10))
    return render_template("admin/index.html", counts=counts, recent=list(recent))


@bp.route("/audit")
@platform_admin
def audit_log():
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    action = request.args.get("action", "").strip()
    company_id = request.args.get("company", type=id_value)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if company_id:
        stmt = stmt.where(AuditEntry.company_id == company_id)
    pagination = db.paginate(stmt, page=page_number(), per_page=50, error_out=False)
    names = {row.id: row.name for row in db.session.execute(select(Company.id, Company.name))}
    return render_template(
        "admin/audit.html", pagination=pagination, action=action, company_id=company_id,
        company_names=names,
    )  # fmt: skip
