"""A2P 10DLC numbers: a US or Canadian local number sends SMS to the US only from the
Messaging Service of a registered campaign (carriers block unregistered 10DLC traffic
with 30034). The company's campaign service is the one its active brand's registration
made (:mod:`.onboarding`); its local numbers join it when the campaign exists and when
they are bought later.

Adding a number to a service is not paid and Twilio refuses a second add (21710), so a
lost answer is settled by reading the number in the service.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, phones
from ..errors import DomainError, ProviderError, Rejected
from .api import TwilioApi
from .brand_types import SOLE_PROPRIETOR
from .models import SmsPhoneNumber, Tenant10DLCBrand

ALREADY_IN_A_SERVICE = "21710"
# Campaign statuses: Twilio's resource says VERIFIED, its events say success
CAMPAIGN_LIVE = frozenset({"VERIFIED", "SUCCESS", "APPROVED", "ACTIVE"})
CAMPAIGN_PENDING = frozenset({"IN_PROGRESS", "PENDING", "SUBMITTED"})


def is_10dlc(row: SmsPhoneNumber) -> bool:
    """A North American local number (10DLC): not toll-free, +1."""
    return row.phone_number.startswith("+1") and not phones.is_toll_free(row.phone_number)


def _active_brand(session: Session, company_id: int) -> Tenant10DLCBrand | None:
    return session.scalars(
        select(Tenant10DLCBrand).where(
            Tenant10DLCBrand.company_id == company_id, Tenant10DLCBrand.is_active.is_(True)
        )
    ).one_or_none()


def campaign_service(session: Session, company_id: int) -> str | None:
    """The Messaging Service of the company's campaign, once the campaign exists."""
    brand = _active_brand(session, company_id)
    config = (brand.provider_config_json or {}) if brand is not None else {}
    return config.get("messaging_service_sid") if config.get("campaign_sid") else None


def one_number_rule(session: Session, row: SmsPhoneNumber, service: str) -> str | None:
    """Why ``row`` may not join a sole proprietor's campaign, which sends from one number
    (the carriers' rule), or None."""
    brand = _active_brand(session, row.company_id) if row.company_id else None
    if brand is None or brand.brand_type != SOLE_PROPRIETOR:
        return None
    sender = session.scalars(
        select(SmsPhoneNumber).where(
            SmsPhoneNumber.messaging_service_sid == service, SmsPhoneNumber.id != row.id
        )
    ).first()
    if sender is None:
        return None
    return (
        f"A sole proprietor's campaign sends from one number, {sender.phone_number}: "
        "release it to use this one, or register a standard brand for more numbers."
    )


def send_check(session: Session, row: SmsPhoneNumber) -> tuple[bool, str] | None:
    """A 10DLC number sends to the US from its company's live campaign only: carriers
    block it otherwise (error 30034)."""
    if not is_10dlc(row) or row.company_id is None:
        return None
    blocked = "US carriers block SMS from a 10DLC number outside a campaign (error 30034): "
    brand = _active_brand(session, row.company_id)
    service = campaign_service(session, row.company_id)
    if brand is None or service is None:
        return False, blocked + "register the brand and campaign on the A2P 10DLC page."
    status = (brand.campaign_status or "").upper()
    if row.messaging_service_sid != service:
        rule = one_number_rule(session, row, service)
        return False, blocked + (rule or "it has not joined the campaign's Messaging Service yet.")
    if status in CAMPAIGN_LIVE:
        return True, "It sends for the company's registered 10DLC campaign."
    if status in CAMPAIGN_PENDING or not status:
        return False, "Its 10DLC campaign is in review by the carriers (usually days)."
    return False, f"Its 10DLC campaign is {status.lower()}: see the A2P 10DLC page."


def attach(
    session: Session, actor: audit.Actor, row: SmsPhoneNumber, client: TwilioApi, service: str
) -> bool:
    """Put ``row`` in the campaign's service ``service``; True when this call added it."""
    if row.messaging_service_sid == service:
        return False
    if row.status != "active" or not row.provider_phone_id:
        raise DomainError("Only an active number can join the 10DLC campaign.")
    if rule := one_number_rule(session, row, service):
        raise DomainError(rule)
    try:
        client.service_number(service, row.provider_phone_id).run()
    except ProviderError as exc:
        if exc.code != ALREADY_IN_A_SERVICE:
            raise
        if client.service_number(service, row.provider_phone_id).looked_up() is None:
            raise DomainError(
                f"{row.phone_number} already sends for another Messaging Service at Twilio: "
                "remove it there first."
            ) from exc
    row.messaging_service_sid = service
    audit.record(session, actor, "number.campaign_attach", row, label=row.phone_number,
                 company_id=row.company_id, messaging_service_sid=service)  # fmt: skip
    return True


def attach_all(
    session: Session, actor: audit.Actor, company_id: int, client: TwilioApi
) -> list[SmsPhoneNumber]:
    """Every active 10DLC number of the company not yet in its campaign's service, added
    (those added are returned); nothing before the campaign exists. A number Twilio will
    not add stays out, its page says why; a failure worth retrying stops here."""
    service = campaign_service(session, company_id)
    if service is None:
        return []
    rows = session.scalars(
        select(SmsPhoneNumber)
        .where(SmsPhoneNumber.company_id == company_id, SmsPhoneNumber.status == "active")
        .order_by(SmsPhoneNumber.id)
    ).all()
    joined = []
    for row in (r for r in rows if is_10dlc(r)):
        try:
            if attach(session, actor, row, client, service):
                joined.append(row)
        except (DomainError, Rejected) as exc:
            reason = str(exc)[:300]
            audit.record(session, actor, "number.campaign_attach_refused", row,
                         label=row.phone_number, company_id=company_id, reason=reason)  # fmt: skip
    return joined


def join_after_purchase(
    session: Session, actor: audit.Actor, row: SmsPhoneNumber, client: TwilioApi
) -> str | None:
    """A number just bought joins the company's campaign service when it is a 10DLC number
    and the campaign exists; what stopped it, in words, or None. The purchase stands
    either way (the campaign run adds numbers left out when it next finishes)."""
    service = campaign_service(session, row.company_id) if row.company_id else None
    if service is None or not is_10dlc(row):
        return None
    try:
        attach(session, actor, row, client, service)
    except (DomainError, ProviderError) as exc:
        return f"{row.phone_number} could not join the 10DLC campaign yet: {exc}"
    return None
