"""``/api/v1/templates``: the message templates of the companies a key reaches, with their
status, quality score, category (and an announced re-categorisation) and history."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from provisioning.api_keys import Scope
from provisioning.templates import core
from provisioning.templates.models import STATUSES, MessageTemplate, TemplateAccount

from ..extensions import db
from ..jobs import enqueue
from .auth import api_key, company_in_reach, row_in_reach, within_reach
from .pagination import PageArgs, page

blp = Blueprint(
    "api_templates", __name__, url_prefix="/api/v1/templates",
    description="Message templates of Meta, 360dialog and Twilio in one model.",
)  # fmt: skip
PROVIDERS = ("meta", "dialog360", "twilio")


class TemplateFilter(PageArgs):
    company = fields.String(metadata={"description": "A company's id (co_...)."})
    provider = fields.String(validate=validate.OneOf(PROVIDERS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    name = fields.String(validate=validate.Length(1, 512))


class TemplateSchema(Schema):
    id = fields.Integer()
    provider = fields.String(validate=validate.OneOf(PROVIDERS))
    account = fields.String(metadata={"description": "WABA id, 360dialog WABA or subaccount."})
    provider_template_id = fields.String(allow_none=True)
    name = fields.String()
    language = fields.String()
    category = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    rejected_reason = fields.String(allow_none=True)
    quality_score = fields.String(allow_none=True)
    previous_category = fields.String(allow_none=True)
    impending_category = fields.String(
        allow_none=True, metadata={"description": "Announced by Meta; applied a day later."}
    )
    category_change_at = fields.String(allow_none=True)
    components = fields.List(fields.Dict())


class ChangeSchema(Schema):
    at = fields.DateTime()
    source = fields.String()
    kind = fields.String()
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)
    detail = fields.String()


class TemplateDetail(TemplateSchema):
    history = fields.List(fields.Nested(ChangeSchema))


class TemplatePage(Schema):
    data = fields.List(fields.Nested(TemplateSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class SyncArgs(Schema):
    company = fields.String(required=True, metadata={"description": "A company's id (co_...)."})


class SyncAnswer(Schema):
    queued = fields.Boolean(required=True)


@blp.route("")
class Templates(MethodView):
    @api_key(Scope.READ)
    @blp.arguments(TemplateFilter, location="query", unknown=RAISE)
    @blp.response(200, TemplatePage)
    def get(self, args):
        """Templates, oldest first, filtered by company, provider, status or name."""
        statement = select(MessageTemplate).join(TemplateAccount)
        if args.get("company"):
            company = company_in_reach(args["company"])
            statement = statement.where(MessageTemplate.company_id == company.id)
        if args.get("provider"):
            statement = statement.where(TemplateAccount.provider == args["provider"])
        if args.get("status"):
            statement = statement.where(MessageTemplate.status == args["status"])
        if args.get("name"):
            statement = statement.where(MessageTemplate.name == args["name"])
        statement = within_reach(statement, MessageTemplate.company_id)
        items, cursor = page(
            db.session, statement, MessageTemplate.id, args["limit"], args["cursor"]
        )
        return {"data": [core.describe(row) for row in items], "next_cursor": cursor}


@blp.route("/<int:template_id>")
class TemplateItem(MethodView):
    @api_key(Scope.READ)
    @blp.response(200, TemplateDetail)
    def get(self, template_id: int):
        """One template with its changes, newest first."""
        row = row_in_reach(MessageTemplate, template_id, "template")
        return {**core.describe(row), "history": core.history(db.session, row, limit=100)}


@blp.route("/sync")
class TemplateSync(MethodView):
    @api_key(Scope.WRITE)
    @blp.arguments(SyncArgs, unknown=RAISE)
    @blp.response(202, SyncAnswer)
    def post(self, args):
        """List the company's template accounts again now (the answer comes as
        ``template.updated`` events and in the listing)."""
        company = company_in_reach(args["company"])
        enqueue("sync.templates", company.id, None)
        return {"queued": True}
