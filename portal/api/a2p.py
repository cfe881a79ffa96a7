"""``/api/v1/companies/{company_id}/a2p``: the company's 10DLC business profile, its brand
submissions and their campaigns, as the company's 10DLC page handles them."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, pre_dump, validate

from provisioning.api_keys import Scope
from provisioning.partners import Provider, ValidationFailed
from provisioning.tenancy import Company, tenant_select
from provisioning.twilio import a2p
from provisioning.twilio.models import BUSINESS_FIELDS, Tenant10DLCBrand, TenantBusinessInfo

from ..extensions import db
from ..jobs import enqueue
from .auth import api_actor, api_key
from .idempotency import idempotent
from .pagination import PageArgs, page
from .problems import problem
from .providers import active, company_row, configuration, with_company

blp = Blueprint(
    "api_a2p", __name__, url_prefix="/api/v1/companies/<string:company_id>/a2p",
    description="A2P 10DLC: the business profile, its brand submissions and campaigns.",
)  # fmt: skip

ProfileFields = Schema.from_dict(
    {name: fields.String(validate=validate.Length(max=4096)) for name in BUSINESS_FIELDS},
    name="A2PProfileFields",
)


DEFAULTS = {
    column.key: column.default.arg if column.default is not None else ""
    for column in TenantBusinessInfo.__table__.columns
    if column.key in BUSINESS_FIELDS
}


class ProfileSchema(ProfileFields):  # type: ignore[misc,valid-type]
    saved = fields.Boolean(dump_only=True, metadata={"description": "False until saved."})
    updated_at = fields.DateTime(dump_only=True, allow_none=True)

    @pre_dump
    def _values(self, info: TenantBusinessInfo, **kwargs) -> dict:
        """A profile never saved shows the blank form's values."""
        values = {name: getattr(info, name) for name in BUSINESS_FIELDS}
        values = {k: DEFAULTS[k] if v is None else v for k, v in values.items()}
        return values | {"saved": info.id is not None, "updated_at": info.updated_at}


class BrandSchema(Schema):
    id = fields.Integer()
    sid = fields.String(attribute="provider_brand_id", allow_none=True)
    status = fields.String(attribute="provider_status")
    status_reason = fields.String(attribute="provider_status_reason", allow_none=True)
    is_active = fields.Boolean()
    deprecation_reason = fields.String(allow_none=True)
    approved_at = fields.DateTime(attribute="provider_approved_at", allow_none=True)
    campaign_status = fields.String(allow_none=True)
    run_id = fields.Integer(allow_none=True)
    profile = fields.Function(
        lambda b: {name: getattr(b, name) for name in BUSINESS_FIELDS},
        metadata={"description": "The profile as submitted (frozen once approved)."},
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class BrandPage(Schema):
    data = fields.List(fields.Nested(BrandSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class CampaignSchema(Schema):
    brand_id = fields.Integer(attribute="id")
    sid = fields.Function(lambda b: (b.provider_config_json or {}).get("campaign_sid"))
    status = fields.String(attribute="campaign_status")
    use_case = fields.String()
    description = fields.String(attribute="campaign_description")
    messaging_service_sid = fields.Function(
        lambda b: (b.provider_config_json or {}).get("messaging_service_sid")
    )
    brand_is_active = fields.Boolean(attribute="is_active")


class CampaignPage(Schema):
    data = fields.List(fields.Nested(CampaignSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


@blp.route("/profile")
class Profile(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.response(200, ProfileSchema)
    def get(self, company: Company):
        """The company's business profile (blank fields until it is saved)."""
        return a2p.business_info(db.session, company.id)

    @api_key(Scope.WRITE)
    @with_company
    @blp.arguments(ProfileFields, unknown=RAISE)
    @blp.response(200, ProfileSchema)
    def put(self, values, company: Company):
        """Replace the profile; every field is checked as on the 10DLC page (a field left
        out is blank), and a refused profile names each field's problem."""
        active(company)
        try:
            return a2p.save_business_info(db.session, api_actor(), company, values)
        except ValidationFailed as exc:
            errors = {"json": {name: [message] for name, message in exc.errors.items()}}
            return problem(422, "The profile is not valid: see errors.", errors=errors)


@blp.route("/brands")
class Brands(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, BrandPage)
    def get(self, args, company: Company):
        """The company's brand submissions, oldest first (one is active)."""
        statement = tenant_select(Tenant10DLCBrand, company.id)
        items, cursor = page(db.session, statement, Tenant10DLCBrand.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": items, "next_cursor": cursor}

    @api_key(Scope.WRITE)
    @with_company
    @idempotent
    @blp.response(201, BrandSchema)
    def post(self, company: Company):
        """Submit the saved profile as a new brand and start its registration run (the
        campaign follows once the carriers approve the brand)."""
        active(company)
        brand = a2p.submit_brand(db.session, api_actor(), company, configuration(Provider.TWILIO))
        enqueue("provisioning.execute_run", brand.run_id)
        return brand


@blp.route("/brands/<int:brand_id>")
class BrandItem(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.response(200, BrandSchema)
    def get(self, company: Company, brand_id: int):
        """One brand submission."""
        return company_row(Tenant10DLCBrand, company, brand_id, "brand")


@blp.route("/campaigns")
class Campaigns(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, CampaignPage)
    def get(self, args, company: Company):
        """The campaigns registered for the company's brands, oldest first."""
        statement = tenant_select(Tenant10DLCBrand, company.id).where(
            Tenant10DLCBrand.campaign_status.is_not(None)
        )
        items, cursor = page(db.session, statement, Tenant10DLCBrand.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": items, "next_cursor": cursor}
