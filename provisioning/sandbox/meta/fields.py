"""Graph's ``fields=`` selection (``a,b{c,d},e``) and the node shapes the simulator serves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import nonexisting_field
from .state import TIER_LIMITS, App, Business, PhoneNumber, Waba, format_display_number, graph_time
from .versions import DEFAULT_VERSION, has_field

if TYPE_CHECKING:
    from .base import MetaBase

# What Graph returns when no ``fields`` is given (fact sheet §1.7; the spec's "required
# status" on the phone_numbers edge is not what Graph sends by default).
PHONE_DEFAULT = (
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "last_onboarded_time",
)
PHONE_LIST_DEFAULT = PHONE_DEFAULT
WABA_DEFAULT = ("name", "currency", "timezone_id", "message_template_namespace")
BUSINESS_DEFAULT = ("name",)
APPEAL = "Request a review of the decision in WhatsApp Manager."


def parse_fields(spec: str | None) -> dict[str, str | None]:
    """``"a,b{c,d}"`` -> ``{"a": None, "b": "c,d"}``; ``.limit(n)`` modifiers are dropped."""
    result: dict[str, str | None] = {}
    if not spec:
        return result
    depth, start = 0, 0
    parts = []
    for i, ch in enumerate(spec):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    parts.append(spec[start:])
    for raw in parts:
        part = raw.strip()
        if not part:
            continue
        nested = None
        if "{" in part and part.endswith("}"):
            part, nested = part[:-1].split("{", 1)
        name = part.split(".", 1)[0].strip()
        result[name] = nested
    return result


def select(
    available: dict[str, Any],
    spec: str | None,
    node_type: str,
    defaults: tuple[str, ...],
    version: str | None = None,
) -> dict[str, Any]:
    """Only the requested fields plus ``id``, as Graph does; a field unknown to the node or
    to this API version is error 100."""
    wanted = parse_fields(spec) or dict.fromkeys(defaults)
    out: dict[str, Any] = {}
    for name, nested in wanted.items():
        if name not in available or not has_field(name, version or DEFAULT_VERSION):
            raise nonexisting_field(name, node_type)
        value = available[name]
        if value is None:
            continue  # Graph omits fields that have no value
        if nested and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k in parse_fields(nested)}
        out[name] = value
    if "id" in available:
        out["id"] = available["id"]
    return out


def phone_node(sim: MetaBase, phone: PhoneNumber, app_id: str | None) -> dict[str, Any]:
    """Every field of a WhatsAppBusinessPhoneNumber node (fact sheet §1.7)."""
    registered = phone.registered or phone.is_on_biz_app
    waba = sim.wabas[phone.waba_id]
    limit = sim.businesses[waba.business_id].messaging_limit
    return {
        "id": phone.id,
        "display_phone_number": format_display_number(phone.number),
        "verified_name": phone.verified_name,
        "name_status": "PENDING_REVIEW" if _name_pending(sim, phone) else phone.name_status,
        "new_display_name": phone.new_display_name,  # a change under review (numbers.py)
        "new_name_status": phone.new_name_status,
        "quality_rating": phone.quality_rating,
        # Both read the portfolio's shared limit (M-limits); versions.py says which
        # version serves which.
        "messaging_limit_tier": limit,
        "whatsapp_business_manager_messaging_limit": limit,
        "throughput": {"level": phone.throughput_level if registered else "NOT_APPLICABLE"},
        "status": phone.status,
        "code_verification_status": phone.code_verification_status,
        "platform_type": "CLOUD_API" if registered else "NOT_APPLICABLE",
        "account_mode": phone.account_mode,
        "is_on_biz_app": phone.is_on_biz_app,
        "is_official_business_account": phone.is_official_business_account,
        "is_pin_enabled": phone.pin is not None,
        "last_onboarded_time": graph_time(phone.last_onboarded_time or phone.created),
        "country_dial_code": "1" if phone.number.startswith("1") else phone.number[:2],
        "health_status": health_status(sim, waba, phone),
        "webhook_configuration": webhook_configuration(sim, waba, phone, app_id),
    }


def _name_pending(sim: MetaBase, phone: PhoneNumber) -> bool:
    return phone.name_ready_at is not None and sim.clock.time() < phone.name_ready_at


def webhook_configuration(
    sim: MetaBase, waba: Waba, phone: PhoneNumber | None, app_id: str | None
) -> dict[str, str]:
    """The callback URLs in precedence order phone -> WABA -> app (fact sheet §1.6)."""
    config: dict[str, str] = {}
    app = sim.apps.get(app_id or "")
    if phone is not None and phone.webhook_override:
        config["phone_number"] = phone.webhook_override["override_callback_uri"]
    override = waba.subscribed_apps.get(app_id or "")
    if override:
        config["whatsapp_business_account"] = override["override_callback_uri"]
    if app is not None and app.webhook_url:
        config["application"] = app.webhook_url
    return config


def health_status(sim: MetaBase, waba: Waba, phone: PhoneNumber | None) -> dict[str, Any]:
    """``health_status`` (M-health): overall can_send_message plus one entry per entity."""
    entities = []
    if phone is not None:
        errors = []
        if phone.status in ("BANNED", "DELETED"):
            errors.append(_health_error(368, "The phone number is blocked.", APPEAL))
        elif not (phone.registered or phone.is_on_biz_app):
            errors.append(_health_error(133010, "The phone number is not registered.",
                                        "Register the phone number with Cloud API."))  # fmt: skip
        state = "BLOCKED" if errors else None
        if state is None and phone.name_status == "DECLINED":
            # a declined display name keeps the number from scaling (M-display-names)
            errors.append(_health_error(
                131037, "The display name was not approved.",
                "Edit the display name to follow the display name guidelines.",
            ))  # fmt: skip
            state = "LIMITED"
        if state is None and phone.quality_rating == "RED":
            errors.append(_health_error(
                131048, "The phone number's quality rating is low.",
                "Review the feedback on your recent messages and improve their quality "
                "before sending more business-initiated messages.",
            ))  # fmt: skip
            state = "LIMITED"
        entities.append(_entity("PHONE_NUMBER", phone.id, state or "AVAILABLE", errors))
    waba_errors = []
    waba_state = "AVAILABLE"
    if waba.ban_state in ("DISABLE", "SCHEDULE_FOR_DISABLE"):
        waba_errors.append(_health_error(368, "The WhatsApp Business Account is disabled.", APPEAL))
        waba_state = "BLOCKED" if waba.ban_state == "DISABLE" else "LIMITED"
    elif waba.restrictions:
        waba_state = "LIMITED"
    entities.append(_entity("WABA", waba.id, waba_state, waba_errors))
    entities.append(_entity("BUSINESS", waba.business_id, "AVAILABLE", []))
    if waba.partner_app_id:
        entities.append(_entity("APP", waba.partner_app_id, "AVAILABLE", []))
    states = [e["can_send_message"] for e in entities]
    overall = next((s for s in ("BLOCKED", "LIMITED") if s in states), "AVAILABLE")
    return {"can_send_message": overall, "entities": entities}


def _entity(kind: str, ident: str, state: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    entity: dict[str, Any] = {"entity_type": kind, "id": ident, "can_send_message": state}
    if errors:
        entity["errors"] = errors
    return entity


def _health_error(code: int, description: str, solution: str) -> dict[str, Any]:
    # M-health: each error carries error_code, error_description and possible_solution (the
    # remediation). The exact codes Meta uses per cause are [unknown]; these are Cloud API
    # codes with the same meaning (§3.2).
    return {"error_code": code, "error_description": description, "possible_solution": solution}


def waba_node(sim: MetaBase, waba: Waba, app_id: str | None) -> dict[str, Any]:
    business = sim.businesses[waba.business_id]
    return {
        "id": waba.id,
        "name": waba.name,
        "currency": waba.currency,
        "timezone_id": waba.timezone_id,
        "message_template_namespace": waba.namespace,
        "account_review_status": waba.account_review_status,
        "ownership_type": "CLIENT_OWNED",
        "owner_business_info": {"id": business.id, "name": business.name},
        "business_verification_status": business.verification_status,
        "on_behalf_of_business_info": {"id": business.id, "name": business.name},
        "primary_funding_id": None,
        "is_enabled_for_insights": True,
        "health_status": health_status(sim, waba, None),
        "ban_state": waba.ban_state,
    }


def business_node(business: Business) -> dict[str, Any]:
    return {
        "id": business.id,
        "name": business.name,
        "verification_status": business.verification_status,
    }


def app_node(app: App) -> dict[str, Any]:
    return {
        "id": app.app_id,
        "name": app.name,
        "link": f"https://www.facebook.com/games/?app_id={app.app_id}",
    }


def tier_limit(tier: str) -> int:
    return TIER_LIMITS.get(tier, 0)
