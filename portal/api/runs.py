"""``/api/v1/runs``: onboarding runs (status, steps, retry), and starting one for a company
where the provider allows a start without the customer's browser."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as Invalid
from sqlalchemy import select

from provisioning import runs
from provisioning.api_keys import Scope
from provisioning.dialog360.hub import ID
from provisioning.dialog360.onboarding import INTEGRATED_ONBOARDING
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Company
from provisioning.twilio import a2p
from provisioning.twilio.onboarding import A2P_REGISTRATION

from ..extensions import db
from ..jobs import enqueue
from .auth import api_actor, api_key, company_in_reach, row_in_reach, within_reach
from .idempotency import idempotent
from .pagination import PageArgs, page
from .problems import problem
from .providers import active, configuration, with_company

blp = Blueprint(
    "api_runs", __name__, url_prefix="/api/v1",
    description="Onboarding runs: one row per onboarding, one per step, resumable.",
)  # fmt: skip
STARTABLE = (INTEGRATED_ONBOARDING.name, A2P_REGISTRATION.name)
PROVIDER_ID = validate.Regexp(f"^{ID.pattern}$", error="A 360dialog id: letters, digits, _ or -.")


class RunFilter(PageArgs):
    company = fields.String(metadata={"description": "A company's id (co_...)."})
    provider = fields.String(validate=validate.OneOf([p.value for p in Provider]))
    status = fields.String(validate=validate.OneOf([s.value for s in RunStatus]))
    flow = fields.String(validate=validate.Length(max=60))


class StepError(Schema):
    provider = fields.String(attribute="error_provider", allow_none=True)
    http_status = fields.Integer(attribute="error_http_status", allow_none=True)
    code = fields.String(attribute="error_code", allow_none=True)
    subcode = fields.String(attribute="error_subcode", allow_none=True)
    message = fields.String(attribute="error_message", allow_none=True)
    trace_id = fields.String(attribute="error_trace_id", allow_none=True)


class StepSchema(Schema):
    name = fields.String()
    status = fields.Function(lambda s: s.status.value)
    attempts = fields.Integer()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    last_error = fields.Function(
        lambda s: StepError().dump(s) if s.error_message else None,
        metadata={"description": "What the provider answered (or why the step waits)."},
    )


class RunSchema(Schema):
    id = fields.Integer()
    company = fields.Function(lambda r: db.session.get_one(Company, r.company_id).public_id)
    flow = fields.String()
    provider = fields.Function(lambda r: r.provider.value)
    status = fields.Function(lambda r: r.status.value)
    error = fields.String(attribute="error_message", allow_none=True)
    resume_at = fields.DateTime(allow_none=True, metadata={"description": "When it goes on."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class RunDetail(RunSchema):
    steps = fields.List(fields.Nested(StepSchema))


class RunPage(Schema):
    data = fields.List(fields.Nested(RunSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class RunStart(Schema):
    flow = fields.String(
        required=True,
        validate=validate.OneOf([EMBEDDED_SIGNUP.name, *STARTABLE]),
        metadata={"description": "dialog360_integrated_onboarding: once the client has "
                  "granted the channels (give client_id and channel_ids); twilio_a2p_10dlc: "
                  "submits the saved 10DLC profile; meta_embedded_signup needs the "
                  "customer's browser (422: use a hosted onboarding link)."},
    )  # fmt: skip
    client_id = fields.String(validate=PROVIDER_ID)
    channel_ids = fields.List(fields.String(validate=PROVIDER_ID), validate=validate.Length(1, 50))

    @validates_schema
    def _dialog360_ids(self, values: dict, **kwargs) -> None:
        if values["flow"] == INTEGRATED_ONBOARDING.name and not (
            values.get("client_id") and values.get("channel_ids")
        ):
            raise Invalid("360dialog's client_id and channel_ids are required.", "client_id")


@blp.route("/runs")
class Runs(MethodView):
    @api_key(Scope.READ)
    @blp.arguments(RunFilter, location="query", unknown=RAISE)
    @blp.response(200, RunPage)
    def get(self, args):
        """Runs of the companies this key reaches, oldest first."""
        statement = within_reach(select(ProvisioningRun), ProvisioningRun.company_id)
        if args.get("company"):
            company = company_in_reach(args["company"])
            statement = statement.where(ProvisioningRun.company_id == company.id)
        if args.get("provider"):
            statement = statement.where(ProvisioningRun.provider == Provider(args["provider"]))
        if args.get("status"):
            statement = statement.where(ProvisioningRun.status == RunStatus(args["status"]))
        if args.get("flow"):
            statement = statement.where(ProvisioningRun.flow == args["flow"])
        items, cursor = page(db.session, statement, ProvisioningRun.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": items, "next_cursor": cursor}


@blp.route("/runs/<int:run_id>")
class RunItem(MethodView):
    @api_key(Scope.READ)
    @blp.response(200, RunDetail)
    def get(self, run_id: int):
        """One run with its steps: status, attempts, the last error, times."""
        return row_in_reach(ProvisioningRun, run_id, "run")


@blp.route("/runs/<int:run_id>/retry")
class RunRetry(MethodView):
    @api_key(Scope.WRITE)
    @blp.response(202, RunDetail)
    def post(self, run_id: int):
        """Resume a failed run from its failed step (as the run page's Retry)."""
        run = row_in_reach(ProvisioningRun, run_id, "run")
        runs.retry(db.session, api_actor(), run)
        enqueue("provisioning.execute_run", run.id)
        return run


@blp.route("/companies/<string:company_id>/runs")
class CompanyRuns(MethodView):
    @api_key(Scope.WRITE)
    @with_company
    @idempotent
    @blp.arguments(RunStart)
    @blp.response(201, RunDetail)
    @blp.alt_response(200, schema=RunDetail, description="Started before from the same input.")
    def post(self, values, company: Company):
        """Start a run where the provider allows it without the customer's browser."""
        active(company)
        flow = values["flow"]
        if flow == EMBEDDED_SIGNUP.name:
            return problem(
                422,
                "Meta's Embedded Signup runs in the customer's browser: create a hosted "
                f"onboarding link (POST /api/v1/companies/{company.public_id}/onboarding-links) "
                "and send it to them.",
            )
        if flow == A2P_REGISTRATION.name:
            config = configuration(Provider.TWILIO)
            brand = a2p.submit_brand(db.session, api_actor(), company, config)
            run, new = db.session.get_one(ProvisioningRun, brand.run_id), True
        else:
            config = configuration(Provider.DIALOG360)
            channels = list(dict.fromkeys(values["channel_ids"]))
            run, new = runs.start_once(
                db.session, api_actor(), INTEGRATED_ONBOARDING, company.id,
                f"{values['client_id']}:{','.join(sorted(channels))}",
                partner_configuration_id=config.id,
                context={"client_id": values["client_id"], "channel_ids": channels,
                         "revoked": []},
            )  # fmt: skip
        if not new:
            return run, 200
        db.session.flush()
        enqueue("provisioning.execute_run", run.id)
        return run
