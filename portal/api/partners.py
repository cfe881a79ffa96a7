"""``/api/v1/partner-configurations``: the health of the platform's partner configurations,
read only, for platform keys: what the admin page shows, never a secret, and no call to a
provider (the last "Test connection" an admin ran is the check on record)."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from provisioning.api_keys import Scope
from provisioning.partner_usage import usage
from provisioning.partners import Environment, PartnerConfiguration, Provider
from provisioning.partners import environment_configuration as configuration_of

from ..extensions import db
from .auth import Forbidden, api_key, current_key

blp = Blueprint(
    "api_partners", __name__, url_prefix="/api/v1/partner-configurations",
    description="The platform's partner configurations: set up, active, last checked.",
)  # fmt: skip


class CheckSchema(Schema):
    ok = fields.Boolean(required=True)
    message = fields.String(required=True)
    checked_at = fields.DateTime(required=True)


class UsageSchema(Schema):
    companies = fields.Integer(required=True)
    accounts = fields.Integer(required=True, metadata={"description": "WABAs, 360dialog "
                              "clients or Twilio subaccounts."})  # fmt: skip
    numbers = fields.Integer(required=True)
    runs_under_way = fields.Integer(required=True)


class HealthSchema(Schema):
    provider = fields.String(required=True)
    environment = fields.String(required=True)
    current = fields.Boolean(
        required=True, metadata={"description": "The environment companies onboard through."}
    )
    configured = fields.Boolean(required=True)
    name = fields.String(allow_none=True, required=True)
    active = fields.Boolean(required=True)
    missing = fields.List(
        fields.String(), required=True,
        metadata={"description": "Fields that must be set before it can be used."},
    )  # fmt: skip
    last_check = fields.Nested(CheckSchema, allow_none=True, required=True)
    usage = fields.Nested(UsageSchema, allow_none=True, required=True)


class HealthList(Schema):
    data = fields.List(fields.Nested(HealthSchema), required=True)


def missing(config: PartnerConfiguration) -> list[str]:
    """Required fields left empty, and fields a cross-field rule names (names only)."""
    spec = config.spec
    values = {
        f.name: ("set" if config.has_secret(f.name) else "") if f.secret else config.value(f.name)
        for f in spec.fields
    }
    empty = [f.name for f in spec.fields if f.required and not values[f.name]]
    return sorted({*empty, *spec.check(values)})


def health(provider: Provider, environment: Environment) -> dict:
    config = configuration_of(db.session, provider, environment)
    current = current_app.config["PROVIDER_ENVIRONMENT"] == environment.value
    known = {"provider": provider.value, "environment": environment.value, "current": current}
    if config is None:
        return {**known, "configured": False, "name": None, "active": False, "missing": [],
                "last_check": None, "usage": None}  # fmt: skip
    checked = config.last_checked_at is not None
    return {
        **known, "configured": True, "name": config.name, "active": config.is_enabled,
        "missing": missing(config),
        "last_check": {"ok": bool(config.last_check_ok), "message": config.last_check_message
                       or "", "checked_at": config.last_checked_at} if checked else None,
        "usage": usage(db.session, config),
    }  # fmt: skip


@blp.route("")
class PartnerConfigurations(MethodView):
    @api_key(Scope.READ)
    @blp.response(200, HealthList)
    def get(self):
        """Each provider and environment: configured, active, what is missing, the last
        connection check and what uses it (platform keys)."""
        if not current_key().is_platform:
            raise Forbidden(Scope.READ, "Only a platform key reads partner configurations.")
        return {"data": [health(p, e) for p in Provider for e in Environment]}
