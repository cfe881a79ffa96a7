"""``/api/v1/channels``: the channels of the companies a key reaches, with the fleet's
filters; one channel with its observed history."""

from __future__ import annotations

from collections.abc import Iterable

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from provisioning import send_credentials, send_readiness
from provisioning.api_keys import Scope
from provisioning.channels import Channel
from provisioning.fleet import FleetFilter
from provisioning.health import ChannelHistory
from provisioning.partners import Provider
from provisioning.tenancy import Company

from ..extensions import db
from .auth import api_actor, api_key, company_in_reach, row_in_reach, within_reach
from .pagination import PageArgs, page

blp = Blueprint(
    "api_channels", __name__, url_prefix="/api/v1/channels",
    description="WhatsApp channels: status, quality rating and messaging limit.",
)  # fmt: skip
HISTORY = 50


class ChannelFilter(PageArgs):
    company = fields.String(metadata={"description": "A company's id (co_...)."})
    provider = fields.String(validate=validate.OneOf([p.value for p in Provider]))
    status = fields.String(validate=validate.Length(max=40))
    quality_rating = fields.String(validate=validate.Length(max=20))
    messaging_limit = fields.String(validate=validate.Length(max=40))
    needs_reauthorization = fields.Boolean()


class ReadinessSchema(Schema):
    ready = fields.Boolean(required=True, metadata={"description": "It can send now."})
    reasons = fields.List(fields.String(), required=True,
                          metadata={"description": "Why not, in words."})  # fmt: skip


class Readiness(fields.Nested):
    """The channel's send readiness, read for the answer's channels at once."""

    def get_value(self, obj, attr, accessor=None, default=None):
        return _readiness([obj])[obj.id].as_dict()


class ChannelSchema(Schema):
    id = fields.Integer(dump_only=True)
    company = fields.Function(lambda c: _public_ids([c.company_id])[c.company_id], dump_only=True)
    provider = fields.Function(lambda c: c.provider.value, dump_only=True)
    phone_number = fields.String(dump_only=True)
    display_name = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    quality_rating = fields.String(dump_only=True)
    messaging_limit = fields.String(dump_only=True)
    needs_reauthorization = fields.Boolean(dump_only=True)
    send_readiness = Readiness(ReadinessSchema, dump_only=True)
    last_synced_at = fields.DateTime(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class HistorySchema(Schema):
    observed_at = fields.DateTime()
    status = fields.String()
    quality_rating = fields.String()
    messaging_limit = fields.String()
    source = fields.String()


class ChannelDetail(ChannelSchema):
    history = fields.Method("history_of", dump_only=True)

    def history_of(self, channel: Channel) -> list[dict]:
        rows = db.session.scalars(
            select(ChannelHistory)
            .where(ChannelHistory.channel_id == channel.id)
            .order_by(ChannelHistory.id.desc())
            .limit(HISTORY)
        )
        return HistorySchema(many=True).dump(rows)


class ChannelPage(Schema):
    data = fields.List(fields.Nested(ChannelSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def _public_ids(company_ids: Iterable[int]) -> dict[int, str]:
    """Company id -> public id, kept for the request; the ids not kept yet are read in one
    query (a page's companies, before its channels are answered)."""
    known: dict[int, str] = g.setdefault("api_company_ids", {})
    if missing := set(company_ids) - known.keys():
        query = select(Company.id, Company.public_id).where(Company.id.in_(missing))
        known.update(db.session.execute(query).all())
    return known


def _readiness(channels: Iterable[Channel]) -> dict[int, send_readiness.Readiness]:
    """Channel id -> send readiness, kept for the request; the channels not kept yet are
    read at once (a page's channels)."""
    known: dict[int, send_readiness.Readiness] = g.setdefault("api_readiness", {})
    if missing := [c for c in channels if c.id not in known]:
        known.update(send_readiness.of_channels(db.session, missing))
    return known


@blp.route("")
class Channels(MethodView):
    @api_key(Scope.READ)
    @blp.arguments(ChannelFilter, location="query", unknown=RAISE)
    @blp.response(200, ChannelPage)
    def get(self, args):
        """Channels, filtered as on the fleet page, oldest first."""
        provider = args.get("provider")
        where = FleetFilter(
            provider=Provider(provider) if provider else None,
            quality_rating=args.get("quality_rating"),
            status=args.get("status"),
            messaging_limit=args.get("messaging_limit"),
            needs_reauthorization=bool(args.get("needs_reauthorization")),
        )
        if args.get("company"):
            where = where.within(company_in_reach(args["company"]).id)
        statement = within_reach(where.channels(), Channel.company_id)
        items, cursor = page(db.session, statement, Channel.id, args["limit"], args["cursor"])
        _public_ids(c.company_id for c in items)
        _readiness(items)
        return {"data": items, "next_cursor": cursor}


@blp.route("/<int:channel_id>")
class ChannelItem(MethodView):
    @api_key(Scope.READ)
    @blp.response(200, ChannelDetail)
    def get(self, channel_id: int):
        """One channel, with its last observed changes (newest first)."""
        return row_in_reach(Channel, channel_id, "channel")


class CredentialsSchema(Schema):
    provider = fields.String(required=True)
    access_token = fields.String(metadata={"description": "Meta: the WABA's business token."})
    phone_number_id = fields.String(metadata={"description": "Meta: the sending number."})
    waba_id = fields.String()
    api_key = fields.String(metadata={"description": "360dialog: D360-API-KEY."})
    api_base_url = fields.String(metadata={"description": "Where to send messages."})
    account_sid = fields.String(metadata={"description": "Twilio: the subaccount."})
    auth_token = fields.String(metadata={"description": "Twilio: the subaccount's token."})
    sender = fields.String(data_key="from", attribute="from",
                           metadata={"description": "Twilio: whatsapp:+E164."})  # fmt: skip


@blp.route("/<int:channel_id>/credentials")
class ChannelCredentials(MethodView):
    @api_key(Scope.CREDENTIALS)
    @blp.response(200, CredentialsSchema)
    def get(self, channel_id: int):
        """The channel's send credentials (scope credentials): one channel at a time, each
        read in the audit log, never cached."""
        channel = row_in_reach(Channel, channel_id, "channel")
        credentials = send_credentials.read(db.session, api_actor(), channel)
        return credentials, 200, {"Cache-Control": "no-store"}
