"""``/api/v1/companies/{company_id}/twilio``: a company's Twilio numbers (search, buy,
release) and WhatsApp senders (create, verify), as the company's pages do them."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from provisioning.api_keys import Scope
from provisioning.partners import Provider
from provisioning.tenancy import Company, tenant_select
from provisioning.twilio import numbers, senders
from provisioning.twilio.models import SmsPhoneNumber, TwilioWhatsAppSender

from ..boundary import checkpoint
from ..extensions import db
from ..providers import twilio_master
from ..twilio.senders import hook
from .auth import api_actor, api_key
from .idempotency import idempotent
from .pagination import PageArgs, page
from .providers import active, company_row, company_twilio, configuration, with_company

blp = Blueprint(
    "api_twilio", __name__, url_prefix="/api/v1/companies/<string:company_id>/twilio",
    description="A company's Twilio numbers and WhatsApp senders, in its own subaccount.",
)  # fmt: skip
URL = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500))


# --- numbers --------------------------------------------------------------------------------


class SearchArgs(Schema):
    country = fields.String(
        load_default="US",
        validate=validate.Regexp(r"^[A-Za-z]{2}$", error="Two letters, like US."),
    )
    type = fields.String(load_default="local", validate=validate.OneOf(numbers.NUMBER_TYPES))
    area_code = fields.String(validate=validate.Regexp(r"^[0-9]{3}$", error="Three digits."))
    contains = fields.String(
        validate=validate.Regexp(r"^[0-9*A-Za-z]{2,16}$", error="2 to 16 digits or *.")
    )
    sms = fields.Boolean()
    mms = fields.Boolean()
    voice = fields.Boolean()
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 50))


class AvailableNumber(Schema):
    phone_number = fields.String()
    friendly_name = fields.String(allow_none=True)
    locality = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    iso_country = fields.String(allow_none=True)
    capabilities = fields.Dict()


class AvailableNumbers(Schema):
    data = fields.List(fields.Nested(AvailableNumber), required=True)


class NumberSchema(Schema):
    id = fields.Integer()
    phone_number = fields.String()
    sid = fields.String(attribute="provider_phone_id", allow_none=True)
    status = fields.String(metadata={"description": "pending, active, failed or retired."})
    failure_reason = fields.String(allow_none=True)
    capabilities = fields.Dict()
    sms_url = fields.String(allow_none=True)
    status_callback = fields.String(allow_none=True)
    allocated_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class NumberPage(Schema):
    data = fields.List(fields.Nested(NumberSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class NumberFilter(PageArgs):
    status = fields.String(validate=validate.OneOf(("pending", "active", "failed", "retired")))


class NumberBuy(Schema):
    phone_number = fields.String(
        required=True, validate=validate.Length(1, 20),
        metadata={"description": "In E.164, as the search found it."},
    )  # fmt: skip
    sms_url = URL
    status_callback = URL


@blp.route("/available-numbers")
class AvailableNumbersView(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.arguments(SearchArgs, location="query", unknown=RAISE)
    @blp.response(200, AvailableNumbers)
    def get(self, args, company: Company):
        """Numbers Twilio offers now; looking creates nothing (not even a subaccount)."""
        client = twilio_master(configuration(Provider.TWILIO))
        found = numbers.search_numbers(
            client, args["country"].upper(), args["type"], area_code=args.get("area_code"),
            contains=args.get("contains"), sms=args.get("sms"), mms=args.get("mms"),
            voice=args.get("voice"), limit=args["limit"],
        )  # fmt: skip
        return {"data": found}


@blp.route("/numbers")
class Numbers(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.arguments(NumberFilter, location="query", unknown=RAISE)
    @blp.response(200, NumberPage)
    def get(self, args, company: Company):
        """The company's numbers, oldest first."""
        statement = tenant_select(SmsPhoneNumber, company.id)
        if args.get("status"):
            statement = statement.where(SmsPhoneNumber.status == args["status"])
        items, cursor = page(db.session, statement, SmsPhoneNumber.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": items, "next_cursor": cursor}

    @api_key(Scope.WRITE)
    @with_company
    @idempotent
    @blp.arguments(NumberBuy)
    @blp.response(201, NumberSchema)
    def post(self, values, company: Company):
        """Buy a number into the company's subaccount (paid): the intent is on record
        before Twilio is asked, a lost answer is looked up, and a number the company holds
        already is answered as it is, never bought twice."""
        active(company)
        sub, client = company_twilio(company)
        return numbers.buy_number(
            db.session, api_actor(), company, sub, client, values["phone_number"],
            checkpoint, sms_url=values.get("sms_url"),
            status_callback=values.get("status_callback"),
        )  # fmt: skip


@blp.route("/numbers/<int:number_id>")
class NumberItem(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.response(200, NumberSchema)
    def get(self, company: Company, number_id: int):
        """One of the company's numbers."""
        return company_row(SmsPhoneNumber, company, number_id, "number")

    @api_key(Scope.WRITE)
    @with_company
    @blp.response(200, NumberSchema)
    def delete(self, company: Company, number_id: int):
        """Release an active number for good (Twilio cannot undo it)."""
        active(company)
        row = company_row(SmsPhoneNumber, company, number_id, "number")
        _, client = company_twilio(company)
        numbers.release_number(db.session, api_actor(), row, client)
        return row


# --- WhatsApp senders -----------------------------------------------------------------------


class SenderSchema(Schema):
    id = fields.Integer()
    phone_number = fields.Function(lambda s: s.sender_id.removeprefix("whatsapp:"))
    sid = fields.String(attribute="sender_sid", allow_none=True)
    waba_id = fields.String()
    profile_name = fields.String()
    status = fields.String()
    status_text = fields.Function(lambda s: senders.state(s.status)[1])
    offline_reasons = fields.Function(
        lambda s: [senders.offline_reason_text(r) for r in s.offline_reasons or []
                   if isinstance(r, dict)]
    )  # fmt: skip
    quality_rating = fields.String(allow_none=True)
    messaging_limit = fields.String(allow_none=True)
    channel_id = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_synced_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class SenderPage(Schema):
    data = fields.List(fields.Nested(SenderSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class SenderCreate(Schema):
    phone_number = fields.String(required=True, validate=validate.Length(1, 20))
    waba_id = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9]{1,32}$", error="Meta's WABA id."),
        metadata={"description": "The WhatsApp Business Account shared with Twilio by "
                  "Meta's signup (Twilio's partner solution)."},
    )  # fmt: skip
    profile_name = fields.String(required=True, validate=validate.Length(1, 200))


class VerificationCode(Schema):
    code = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9]{4,10}$", error="4 to 10 digits."),
        metadata={"description": "The code Meta sent to the number."},
    )  # fmt: skip


@blp.route("/senders")
class Senders(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, SenderPage)
    def get(self, args, company: Company):
        """The company's WhatsApp senders, oldest first."""
        statement = tenant_select(TwilioWhatsAppSender, company.id)
        items, cursor = page(db.session, statement, TwilioWhatsAppSender.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": items, "next_cursor": cursor}

    @api_key(Scope.WRITE)
    @with_company
    @idempotent
    @blp.arguments(SenderCreate)
    @blp.response(201, SenderSchema)
    def post(self, values, company: Company):
        """Create the WhatsApp sender of a number whose WABA Meta's signup shared with
        Twilio; Meta then texts a code to the number (see .../verification)."""
        active(company)
        phone = senders.check_sender(
            values["phone_number"], values["waba_id"], values["profile_name"]
        )  # before a subaccount is made for it
        sub, client = company_twilio(company)
        return senders.create_sender(
            db.session, api_actor(), company, sub, client, phone_number=phone,
            waba_id=values["waba_id"], profile_name=values["profile_name"],
            callback_url=hook("messages"), status_callback_url=hook("status"),
            commit=checkpoint,
        )  # fmt: skip


@blp.route("/senders/<int:sender_id>")
class SenderItem(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.response(200, SenderSchema)
    def get(self, company: Company, sender_id: int):
        """One of the company's senders; a status still changing is read from Twilio (as
        the senders page does), else it is kept current by the sync."""
        row = company_row(TwilioWhatsAppSender, company, sender_id, "sender")
        senders.follow_changing(db.session, [row], lambda: company_twilio(company))
        return row


@blp.route("/senders/<int:sender_id>/verification")
class SenderVerification(MethodView):
    @api_key(Scope.WRITE)
    @with_company
    @blp.arguments(VerificationCode)
    @blp.response(200, SenderSchema)
    def post(self, values, company: Company, sender_id: int):
        """Send Meta's verification code for the sender's number."""
        active(company)
        row = company_row(TwilioWhatsAppSender, company, sender_id, "sender")
        senders.sid_of(row)  # a sender still being created has nothing to verify
        _, client = company_twilio(company)
        return senders.submit_verification_code(db.session, api_actor(), row, client,
                                                values["code"])  # fmt: skip
