"""``/api/v1/companies``: list, create (platform keys), get and update."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from provisioning import companies
from provisioning.api_keys import Scope
from provisioning.tenancy import Company

from ..extensions import db
from .auth import Forbidden, api_actor, api_key, company_in_reach, current_key, within_reach
from .idempotency import idempotent
from .pagination import PageArgs, page

blp = Blueprint("api_companies", __name__, url_prefix="/api/v1/companies",
                description="The companies the platform serves.")  # fmt: skip

SLUG = validate.Regexp(r"^[a-z0-9-]+$", error="Lower-case letters, digits and '-' only.")


class CompanySchema(Schema):
    id = fields.String(dump_only=True, attribute="public_id", metadata={"example": "co_3f9a..."})
    name = fields.String(required=True, validate=validate.Length(1, 200))
    slug = fields.String(dump_only=True)
    is_active = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class CompanyCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    slug = fields.String(
        validate=[validate.Length(1, 60), SLUG],
        metadata={"description": "Its URLs' name; derived from the name when left out."},
    )


class CompanyUpdate(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    slug = fields.String(validate=[validate.Length(1, 60), SLUG])
    is_active = fields.Boolean()


class CompanyPage(Schema):
    data = fields.List(fields.Nested(CompanySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


@blp.route("")
class Companies(MethodView):
    @api_key(Scope.READ)
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, CompanyPage)
    def get(self, args):
        """The companies this key reaches (a company key: its own)."""
        statement = within_reach(select(Company), Company.id)
        items, cursor = page(db.session, statement, Company.id, args["limit"], args["cursor"])
        return {"data": items, "next_cursor": cursor}

    @api_key(Scope.WRITE)
    @idempotent
    @blp.arguments(CompanyCreate)
    @blp.response(201, CompanySchema)
    def post(self, values):
        """Create a company (platform keys)."""
        if not current_key().is_platform:
            raise Forbidden(Scope.WRITE, "Only a platform key creates companies.")
        return companies.create_company(
            db.session, api_actor(), values["name"], values.get("slug", "")
        )


@blp.route("/<string:company_id>")
class CompanyItem(MethodView):
    @api_key(Scope.READ)
    @blp.response(200, CompanySchema)
    def get(self, company_id: str):
        """One company."""
        return company_in_reach(company_id)

    @api_key(Scope.WRITE)
    @blp.arguments(CompanyUpdate)
    @blp.response(200, CompanySchema)
    def patch(self, values, company_id: str):
        """Rename, change the slug, deactivate or activate a company."""
        company = company_in_reach(company_id)
        return companies.update_company(
            db.session, api_actor(), company, values.get("name", company.name),
            values.get("slug", company.slug), values.get("is_active", company.is_active),
        )  # fmt: skip
