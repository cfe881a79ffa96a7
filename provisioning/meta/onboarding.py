"""Meta Embedded Signup as a provisioning flow: code -> token -> WABA -> numbers -> channels.

Every step checks what Meta and the database already hold first (fact sheet §1.4-1.7).
The authorization code lives 30 s and is used once: it is exchanged by the first step
and then dropped; neither it nor the token is ever logged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, clients
from ..channels import Channel, mark_needing_reauthorization
from ..db import utcnow
from ..errors import AuthError, DomainError, ProviderError, Rejected
from ..events import WebhookEvent
from ..health import upsert_channel
from ..partners import PartnerConfiguration, Provider
from ..phones import digits_of
from ..runs import Flow, ProvisioningRun, StepContext, Wait, register_flow
from ..tenancy import tenant_select
from .api import GraphClient
from .coexistence_sync import start_after_signup as start_coexistence_syncs
from .lifecycle import count_registration_call
from .models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from .portfolios import apply_limit, client_portfolio, portfolio_for, tier

COEXISTENCE = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
FINISH_EVENTS = {"FINISH", "FINISH_ONLY_WABA", COEXISTENCE}
# Documented finishes of flows the platform does not launch (M-ver): refused in words.
UNSUPPORTED_FINISHES = {
    "FINISH_OBO_MIGRATION": "The signup migrated an On-Behalf-Of account, which this "
    "platform does not offer. Connect the number with the standard signup instead.",
    "FINISH_GRANT_ONLY_API_ACCESS": "The signup only granted API access to an existing "
    "account and shared no WhatsApp Business Account to manage. Connect again and choose "
    "the account and number to use.",
}
# Fields every version we support has; the messaging limit field depends on the version.
BASE_PHONE_FIELDS = (
    "display_phone_number,verified_name,name_status,quality_rating,throughput,status,"
    "code_verification_status,platform_type,is_on_biz_app,health_status"
)
PORTFOLIO_LIMIT_SINCE = (24, 0)  # whatsapp_business_manager_messaging_limit (M-limits)
NAME_READY = ("APPROVED", "AVAILABLE_WITHOUT_REVIEW")
NAME_WAIT = dt.timedelta(minutes=30)
MAX_NAME_WAITS = 96  # two days of checks, then the run stops and says why
PARTNER_EVENT_WINDOW = dt.timedelta(hours=1)
PIN_EXPLANATIONS = {
    "133005": "The number already has a two-step verification PIN that differs from ours. "
    "Turn off two-step verification for the number in WhatsApp Manager, then retry.",
    "133016": "Meta allows 10 registration attempts per number in 72 hours and this number "
    "reached the limit. Wait 72 hours, then retry.",
}
WEBHOOK_EXPLANATIONS = {
    "100": "Meta refused the webhook override because the app is not subscribed to receive "
    "messages: subscribe the app to the messages field (App Dashboard > WhatsApp > "
    "Configuration) and to the account, then retry.",
    "2200": "Meta could not verify the webhook callback URL: it must be reachable over HTTPS "
    "and answer Meta's GET with the challenge for our verify token. Check the partner "
    "configuration's callback URL and verify token, then retry.",
}
CERTIFICATE_PENDING = "2388001"  # "Cannot Create Certificate": the display name is not ready


def phone_fields(version: str) -> str:
    """The number fields to read, as the configured Graph version names them:
    ``whatsapp_business_manager_messaging_limit`` from v24.0, the deprecated
    ``messaging_limit_tier`` before (M-limits; issue 13 item 1)."""
    match = re.fullmatch(r"v([0-9]+)\.([0-9]+)", version or "")
    modern = match is None or (int(match[1]), int(match[2])) >= PORTFOLIO_LIMIT_SINCE
    limit = "whatsapp_business_manager_messaging_limit" if modern else "messaging_limit_tier"
    return f"{BASE_PHONE_FIELDS},{limit}"


def _explained(exc: ProviderError, explanations: dict[str, str]) -> ProviderError:
    """The same error with a plain explanation for codes we know."""
    if exc.code not in explanations:
        return exc
    return type(exc)(
        exc.provider, explanations[exc.code], exc.http_status, exc.code, exc.subcode,
        exc.trace_id, exc.retry_after,
    )  # fmt: skip


def graph(ctx: StepContext) -> tuple[GraphClient, PartnerConfiguration]:
    config = ctx.session.get(PartnerConfiguration, ctx.run.partner_configuration_id)
    if config is None:
        raise DomainError("The Meta partner configuration of this run was deleted.")
    return clients.meta_graph(config, ctx.services.get("transport")), config


def token_of(ctx: StepContext) -> str:
    token = (ctx.run.secret_input or {}).get("access_token")
    if token:
        return token
    stored = client_row(ctx)
    if stored is None or not stored.access_token:
        raise DomainError("No business token: start the signup again.")
    return stored.access_token


def client_row(ctx: StepContext) -> MetaWhatsAppClient | None:
    waba_id = ctx.run.context.get("waba_id")
    if not waba_id:
        return None
    return ctx.session.scalars(
        tenant_select(MetaWhatsAppClient, ctx.run.company_id).where(
            MetaWhatsAppClient.waba_id == waba_id
        )
    ).one_or_none()


def exchange_code(ctx: StepContext) -> None:
    """Swap the single-use code for the business token (never retried: the code is spent)."""
    secret = dict(ctx.run.secret_input or {})
    if secret.get("access_token"):
        return
    code = secret.pop("code", None)
    if not code:
        raise DomainError("The signup returned no authorization code. Start the signup again.")
    client, config = graph(ctx)
    try:
        with client:
            token = client.exchange_code(config.value("app_id"), config.value("app_secret"), code)
    except Rejected as exc:
        if ctx.step.attempts > 1:  # an earlier attempt may have spent the code
            raise Rejected(
                "meta",
                "The signup code was already used or expired (it lives 30 seconds and works "
                "once). Please connect again.",
                exc.http_status, exc.code, exc.subcode, exc.trace_id,
            ) from exc  # fmt: skip
        raise
    ctx.run.secret_input = {**secret, "access_token": token}


def find_assets(ctx: StepContext) -> None:
    """The WABA and numbers. The WABA comes from the finish event; else from the token's
    granular scopes; else (since mid-2026 debug_token may list none) from the WABAs the
    customer's business shared with the partner, or from its PARTNER_ADDED /
    PARTNER_APP_INSTALLED webhook (issue 13 item 6)."""
    context = dict(ctx.run.context)
    event = context.get("event") or {}
    data = event.get("data") or {}
    client, config = graph(ctx)
    token = token_of(ctx)
    with client:
        waba_id = data.get("waba_id") or context.get("waba_id")
        if not waba_id:
            waba_id = _discover_waba(ctx, client, config, token, data.get("business_id"))
        waba = client.get(
            f"/{waba_id}", token, fields="id,name,owner_business_info,business_verification_status"
        )
        # Every number of the WABA, the one picked in the popup first: a WABA may hold
        # several, and coexistence finishes carry none (fact sheet §1.3).
        numbers = [data["phone_number_id"]] if data.get("phone_number_id") else []
        if event.get("event") != "FINISH_ONLY_WABA":
            numbers += [
                n["id"] for n in client.phone_numbers(waba_id, token) if n["id"] not in numbers
            ]
    owner = waba.get("owner_business_info") or {}
    context.update(
        waba_id=str(waba_id),
        waba_name=waba.get("name", ""),
        business_id=data.get("business_id") or owner.get("id"),
        business_name=owner.get("name", ""),
        business_verification_status=waba.get("business_verification_status"),
        phone_number_ids=numbers,
    )
    ctx.run.context = context
    ctx.record_ids(waba_id=str(waba_id), phone_number_ids=numbers)


def _discover_waba(
    ctx: StepContext,
    client: GraphClient,
    config: PartnerConfiguration,
    token: str,
    business_id: str | None,
) -> str:
    scopes = client.debug_token(token, config.value("app_id"), config.value("app_secret"))
    found = _waba_from_scopes(scopes)
    system_token = config.value("system_user_token")
    if not found and business_id and system_token:
        shared = client.client_wabas(str(business_id), system_token)
        found = str(shared[-1]["id"]) if shared else None
    if not found and business_id:
        found = _waba_from_partner_event(ctx.session, str(business_id))
    if not found:
        raise Rejected(
            "meta",
            "The signup shared no WhatsApp Business Account we can find: Meta's answer named "
            "none, and no partner event for the business arrived. Connect again and pick the "
            "account in the Facebook window.",
        )
    return found


def _waba_from_scopes(debug: dict[str, Any]) -> str | None:
    for scope in debug.get("granular_scopes") or []:
        if scope.get("scope") in ("whatsapp_business_management", "whatsapp_business_messaging"):
            targets = scope.get("target_ids") or []
            if targets:
                return str(targets[0])
    return None


def _waba_from_partner_event(session: Session, business_id: str) -> str | None:
    """The WABA of the newest recent PARTNER_ADDED / PARTNER_APP_INSTALLED webhook of the
    business (partner events are keyed by the business, M-wh/account_update)."""
    recent = session.scalars(
        select(WebhookEvent.payload)
        .where(
            WebhookEvent.provider == Provider.META,
            WebhookEvent.event_type == "account_update",
            WebhookEvent.received_at >= utcnow() - PARTNER_EVENT_WINDOW,
            WebhookEvent.payload.contains(business_id),
        )
        .order_by(WebhookEvent.id.desc())
        .limit(20)
    )
    for payload in recent:
        for entry in json.loads(payload).get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                info = value.get("waba_info") or {}
                if (
                    str(entry.get("id")) == business_id
                    and value.get("event") in ("PARTNER_ADDED", "PARTNER_APP_INSTALLED")
                    and info.get("waba_id")
                ):
                    return str(info["waba_id"])
    return None


def store_client(ctx: StepContext) -> None:
    """Create the company's client for the WABA, or reauthorize it (swap the token)."""
    session, run = ctx.session, ctx.run
    waba_id = run.context["waba_id"]
    other = session.scalars(
        select(MetaWhatsAppClient.company_id).where(MetaWhatsAppClient.waba_id == waba_id)
    ).first()
    if other is not None and other != run.company_id:
        raise DomainError("This WhatsApp Business Account is connected to another company.")
    client = client_row(ctx)
    action = "meta_client.reauthorize" if client else "meta_client.create"
    if client is None:
        client = MetaWhatsAppClient(company_id=run.company_id, waba_id=waba_id)
        session.add(client)
    client.partner_configuration_id = run.partner_configuration_id
    client.business_id = run.context.get("business_id")
    client.name = run.context.get("waba_name") or client.name
    if client.business_id:
        client.portfolio = portfolio_for(
            session, run.company_id, client.business_id, run.context.get("business_name")
        )
        verification = run.context.get("business_verification_status")
        client.portfolio.verification_status = verification or client.portfolio.verification_status
    client.access_token = token_of(ctx)
    client.status, client.reauthorization_reason = "active", None
    session.flush()
    ctx.record_ids(client_id=client.id)
    audit.record(session, audit.SYSTEM, action, client, label=client.name or waba_id)


def subscribe_webhooks(ctx: StepContext) -> None:
    """Subscribe the app to the WABA, then (when an override callback is configured) point
    each number's webhooks at it: two calls, in that order (M-override). Meta checks the
    override with a GET to the callback, which ``/webhooks/meta`` answers. Repeating
    either call is harmless."""
    client, config = graph(ctx)
    override = config.value("webhook_callback_url")
    numbers = (ctx.run.context.get("phone_number_ids") or []) if override else []
    token = token_of(ctx)
    try:
        with client:
            client.subscribe_app(ctx.run.context["waba_id"], token)
            for phone_id in numbers:
                client.override_number_callback(
                    phone_id, token, override, config.value("webhook_verify_token")
                )
    except Rejected as exc:
        raise _explained(exc, WEBHOOK_EXPLANATIONS) from exc
    row = client_row(ctx)
    if row is not None:
        row.subscribed_at = utcnow()


def register_numbers(ctx: StepContext) -> None:
    """Register numbers that need it with a stored PIN; never loop on a PIN error.

    Graph is asked first whether the number is registered, so an attempt after a lost
    answer (or a dead worker) finds the registration done instead of repeating it. The
    PIN is committed before ``/register``, which sets it at Meta, and a stored PIN is
    always reused: a repeated register is then harmless.
    """
    client, _ = graph(ctx)
    token = token_of(ctx)
    coexistence = (ctx.run.context.get("event") or {}).get("event") == COEXISTENCE
    fields = "status,platform_type,is_on_biz_app,name_status"
    with client:
        for phone_id in ctx.run.context.get("phone_number_ids") or []:
            phone = client.get(f"/{phone_id}", token, fields=fields)
            if coexistence or phone.get("is_on_biz_app"):
                continue  # a WhatsApp Business app number is registered already
            if is_registered(phone):
                _confirm_lost_registration(ctx, phone_id)
                continue
            if phone.get("name_status") and phone["name_status"] not in NAME_READY:
                _wait_for_display_name(ctx, f"its display name is {phone['name_status']}")
            row = phone_row(ctx, phone_id)
            row.pin = row.pin or f"{secrets.randbelow(10**6):06d}"
            ctx.intend()  # the step's one-shot effect is on record...
            count_registration_call(row)
            ctx.durable()  # ...and so is the PIN Meta is about to keep
            try:
                client.register(phone_id, token, row.pin)
            except Rejected as exc:
                if exc.code == CERTIFICATE_PENDING:
                    _wait_for_display_name(ctx, "Meta cannot create its certificate yet (2388001)")
                if exc.code in PIN_EXPLANATIONS:
                    raise Rejected(
                        "meta", _pin_explanation(row, exc.code), exc.http_status, exc.code,
                        exc.subcode, exc.trace_id,
                    ) from exc  # fmt: skip
                raise
            row.registered_at = utcnow()
            ctx.durable()
    if ctx.step.effect_intended_at is not None:
        ctx.done_effect()


def _pin_explanation(row: MetaWhatsAppPhoneNumber, code: str | None) -> str:
    text = PIN_EXPLANATIONS[code or ""]
    if code == "133005" and row.pin_stale_at is not None:
        text = (
            f"Meta told the platform on {row.pin_stale_at:%Y-%m-%d %H:%M} UTC that this "
            "number's two-step verification PIN was changed elsewhere, so the stored PIN is "
            "out of date. Set the current PIN on the number's page (or turn two-step "
            "verification off in WhatsApp Manager), then retry."
        )
    return text


def _wait_for_display_name(ctx: StepContext, why: str) -> None:
    """Registration needs the approved display name (its certificate): wait and check
    again, without spending one of Meta's 10 register attempts per 72 hours."""
    message = (
        f"The number cannot be registered yet: {why}. Meta reviews a new display name "
        "before it creates the number's certificate; the registration is tried again "
        "automatically."
    )
    if ctx.step.attempts >= MAX_NAME_WAITS:
        late = " It was still not ready after two days: check the display name in WhatsApp Manager."
        raise Rejected("meta", message + late, code=CERTIFICATE_PENDING)
    raise Wait(message, resume_at=utcnow() + NAME_WAIT)


def is_registered(phone: dict[str, Any]) -> bool:
    """Graph's word that the number is registered for Cloud API (status or platform)."""
    return phone.get("status") == "CONNECTED" or phone.get("platform_type") == "CLOUD_API"


def _confirm_lost_registration(ctx: StepContext, phone_id: str) -> None:
    """A registered number whose register call we made (our PIN is stored) but whose
    answer never arrived: the registration is ours."""
    row = ctx.session.scalars(
        tenant_select(MetaWhatsAppPhoneNumber, ctx.run.company_id).where(
            MetaWhatsAppPhoneNumber.phone_number_id == phone_id
        )
    ).one_or_none()
    if ctx.step.effect_intended_at and row and row.pin and row.registered_at is None:
        row.registered_at = utcnow()


def phone_row(ctx: StepContext, phone_id: str) -> MetaWhatsAppPhoneNumber:
    row = ctx.session.scalars(
        select(MetaWhatsAppPhoneNumber).where(MetaWhatsAppPhoneNumber.phone_number_id == phone_id)
    ).one_or_none()
    if row is not None and row.company_id != ctx.run.company_id:
        raise DomainError("This phone number is connected to another company.")
    if row is None:
        client = client_row(ctx)
        if client is None:
            raise DomainError("The client row is missing; retry the run.")
        row = MetaWhatsAppPhoneNumber(
            company_id=ctx.run.company_id, client=client, phone_number_id=phone_id
        )
        ctx.session.add(row)
    return row


def read_numbers(ctx: StepContext) -> None:
    """Read each number's details into its row and the company's unified channel."""
    client, config = graph(ctx)
    token = token_of(ctx)
    fields = phone_fields(config.value("graph_api_version"))
    with client:
        for phone_id in ctx.run.context.get("phone_number_ids") or []:
            apply_phone_fields(ctx.session, phone_row(ctx, phone_id), client.get(
                f"/{phone_id}", token, fields=fields
            ))  # fmt: skip
    if (ctx.run.context.get("event") or {}).get("event") == COEXISTENCE:
        start_coexistence_syncs(ctx.session, ctx.run)  # Meta's 24 hours began at onboarding
    ctx.run.secret_input = None  # the token now lives, encrypted, on the client row only


def apply_phone_fields(session: Session, row: MetaWhatsAppPhoneNumber, data: dict) -> None:
    """Copy Graph's phone-number fields (raw strings) to the row, its portfolio's limit
    and its channel."""
    before = dict(row.health_status or {})
    for name, value in phone_values(data, row).items():
        setattr(row, name, value)
    row.last_synced_at = utcnow()
    observe_portfolio_limit(session, row, source="onboarding")
    publish_number(session, row, reasons=send_readiness_drop(before, row.health_status))


def observe_portfolio_limit(session: Session, row: MetaWhatsAppPhoneNumber, *, source: str) -> None:
    """A number reports its portfolio's shared limit: apply it to the portfolio (all its
    numbers, one alert), never to this number alone."""
    portfolio = client_portfolio(session, row.client)
    if portfolio is not None and row.messaging_limit:
        apply_limit(session, portfolio, row.messaging_limit, source=source)


def send_readiness_drop(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """An alert reason when Meta's ``health_status`` says the number can no longer send
    (M-health: BLOCKED), with Meta's errors and their remediation."""
    state = (after or {}).get("can_send_message")
    if state != "BLOCKED" or (before or {}).get("can_send_message") == "BLOCKED":
        return []
    problems = [
        f"{e.get('error_description') or e.get('error_code')}"
        + (f" ({e['possible_solution']})" if e.get("possible_solution") else "")
        for e in health_errors(after)
    ]
    return ["cannot send messages" + (": " + "; ".join(problems) if problems else "")]


def health_errors(health: dict[str, Any]) -> list[dict[str, Any]]:
    """Every error of every entity (number, WABA, business, app) of a ``health_status``."""
    return [
        {**error, "entity_type": entity.get("entity_type")}
        for entity in (health or {}).get("entities") or []
        for error in entity.get("errors") or []
        if isinstance(error, dict)
    ]


def phone_values(data: dict[str, Any], row: MetaWhatsAppPhoneNumber) -> dict[str, Any]:
    """Graph's phone-number fields as the row's column values (a known name is kept when
    Graph leaves it out)."""
    return {
        "display_phone_number": data.get("display_phone_number") or row.display_phone_number,
        "verified_name": data.get("verified_name") or row.verified_name,
        "name_status": data.get("name_status"),
        "quality_rating": data.get("quality_rating"),
        "messaging_limit": tier(
            data.get("whatsapp_business_manager_messaging_limit")
            or data.get("messaging_limit_tier")
        ),
        "messaging_limit_tier": data.get("messaging_limit_tier"),
        "throughput_level": (data.get("throughput") or {}).get("level"),
        "is_on_biz_app": bool(data.get("is_on_biz_app")),
        "status": data.get("status"),
        "code_verification_status": data.get("code_verification_status"),
        "platform_type": data.get("platform_type"),
        "health_status": data.get("health_status") or {},
    }


def publish_number(
    session: Session,
    row: MetaWhatsAppPhoneNumber,
    *,
    source: str = "onboarding",
    status: str | None = None,
    reasons: list[str] | None = None,
) -> Channel:
    """The number as the company's unified channel (``status`` overrides the number's).
    Its messaging limit is its portfolio's (M-limits)."""
    portfolio = row.client.portfolio if row.client is not None else None
    limit = (portfolio.messaging_limit if portfolio else None) or row.messaging_limit
    channel = upsert_channel(
        session,
        row.company_id,
        Provider.META,
        row.phone_number_id,
        source=source,
        phone_number="+" + digits_of(row.display_phone_number),
        display_name=row.verified_name,
        status=status or row.status or "UNKNOWN",
        quality_rating=row.quality_rating or "UNKNOWN",
        messaging_limit=limit or row.messaging_limit_tier or "",
        needs_reauthorization=False,
        last_synced_at=row.last_synced_at,
        reasons=reasons or (),
    )
    session.flush()
    row.channel_id = channel.id
    return channel


def flag_reauthorization(session: Session, run: ProvisioningRun, exc: AuthError) -> None:
    """Credential errors: the client and its channels need the company to sign up again."""
    waba_id = run.context.get("waba_id")
    client = session.scalars(
        tenant_select(MetaWhatsAppClient, run.company_id).where(
            MetaWhatsAppClient.waba_id == waba_id
        )
    ).one_or_none()
    if client is not None:
        require_reauthorization(session, client, exc)


def require_reauthorization(session: Session, client: MetaWhatsAppClient, exc: AuthError) -> None:
    """Meta refused the client's token: flag the client and its channels until the company
    signs up again (which stores a new token and clears the flags)."""
    client.status = "reauthorization_required"
    client.reauthorization_reason = str(exc)[:500]
    mark_needing_reauthorization(
        session,
        select(MetaWhatsAppPhoneNumber.channel_id).where(
            MetaWhatsAppPhoneNumber.client_id == client.id
        ),
    )


EMBEDDED_SIGNUP = register_flow(
    Flow(
        name="meta_embedded_signup",
        provider=Provider.META,
        steps=(
            ("exchange_code", exchange_code),
            ("find_assets", find_assets),
            ("store_client", store_client),
            ("subscribe_webhooks", subscribe_webhooks),
            ("register_numbers", register_numbers),
            ("read_numbers", read_numbers),
        ),
        on_auth_error=flag_reauthorization,
    )
)
