"""The ISV A2P 10DLC registration as a provisioning run (fact sheet §4, steps 1-5).

Every object Twilio creates is recorded on the brand row (``provider_config_json``) as
soon as it exists, so a resumed run continues where it stopped. Every create is also
recorded as intended (committed) before it is sent, and carries a deterministic friendly
name or description (:func:`_name`, with the brand row's id): after a lost answer the
object is looked up by it, in the same attempt or the next one, never created twice.
The brand and the campaign are found by what they were created from.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import clients, health, platform_events
from ..audit import SYSTEM
from ..backoff import exponential
from ..db import affected_rows, utcnow
from ..errors import DomainError, Rejected
from ..partners import PartnerConfiguration, Provider
from ..runs import Flow, StepContext, Wait, register_flow
from ..tenancy import Company
from . import brand_types, campaign_numbers
from .api import Creation, TwilioApi
from .models import Tenant10DLCBrand, TwilioSubaccount
from .numbers import ensure_subaccount, subaccount_client

PROFILES, PRODUCTS = "customer_profiles", "trust_products"  # TrustHub's two bundle kinds
SECONDARY_PROFILE_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
A2P_TRUST_PRODUCT_POLICY = "RNb0d4771c2c98518d916a3d4cd70a8f8b"
STARTER_PROFILE_POLICY = "RN806dd6cd175f314e1f96a9727ee271f4"  # sole proprietors
SOLE_PROP_TRUST_PRODUCT_POLICY = "RN670d5d2e282a6130ae063b234b6019c8"
USECASE_TO_SERVICE = {"MARKETING": "marketing", "2FA": "verification", "POLLING_VOTING": "poll"}
MAX_WAIT = dt.timedelta(hours=6)
INTENDED = "intended"  # provider_config_json: the keys whose create was sent
NAME_LENGTH = 64  # Twilio's limit for friendly names
CAMPAIGN_STOPPED = {  # campaign statuses that stop the company's 10DLC messages
    "SUSPENDED": "The 10DLC campaign was suspended by the carriers: "
    + (brand_types.EXPLANATIONS[30990]),
    "EXPIRED": "The 10DLC campaign expired at The Campaign Registry: register a new one.",
    "DELETED": "The 10DLC campaign was deleted (or expired) at The Campaign Registry: "
    "register a new one.",
}


class MinInterval:
    """At most one call per ``seconds`` per key (Twilio: 1 request/s for brands, campaigns)."""

    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds, self._lock = seconds, threading.Lock()
        self._last: dict[str, float] = {}

    def wait(self, key: str) -> None:
        with self._lock:
            delay = self._last.get(key, 0.0) + self.seconds - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._last[key] = time.monotonic()


BRAND_AND_CAMPAIGN_CALLS = MinInterval(1.0)


def _brand(ctx: StepContext) -> Tenant10DLCBrand:
    brand = ctx.session.get(Tenant10DLCBrand, ctx.run.context["brand_row_id"])
    if brand is None or brand.company_id != ctx.run.company_id:
        raise DomainError("The brand submission of this run is gone.")
    return brand


def _clients(ctx: StepContext) -> tuple[PartnerConfiguration, TwilioSubaccount, TwilioApi]:
    config = ctx.session.get(PartnerConfiguration, ctx.run.partner_configuration_id)
    if config is None:
        raise DomainError("The Twilio partner configuration of this run was deleted.")
    company = ctx.session.get(Company, ctx.run.company_id)
    if company is None:
        raise DomainError("The company of this run was deleted.")
    transport = ctx.services.get("transport")
    sub = ensure_subaccount(ctx.session, SYSTEM, company, config, transport, commit=ctx.durable)
    return config, sub, subaccount_client(sub, config, transport)


def _name(brand: Tenant10DLCBrand, what: str) -> str:
    """The friendly name of one of the brand's objects: unique to this submission."""
    suffix = f" {what} #{brand.id}"
    return brand.legal_business_name[: NAME_LENGTH - len(suffix)] + suffix


def _remember(ctx: StepContext, brand: Tenant10DLCBrand, **sids: Any) -> None:
    brand.provider_config_json = {**(brand.provider_config_json or {}), **sids}
    ctx.record_ids(**sids)
    ctx.durable()


def _intended(ctx: StepContext, brand: Tenant10DLCBrand, key: str) -> bool:
    """Whether ``key``'s create was sent before; if not, record (commit) that it will be."""
    config = brand.provider_config_json or {}
    if key in config.get(INTENDED, []):
        return True
    brand.provider_config_json = {**config, INTENDED: [*config.get(INTENDED, []), key]}
    ctx.durable()
    return False


def _once(ctx: StepContext, brand: Tenant10DLCBrand, key: str, creation: Creation) -> str:
    """The sid under ``key``: known, found after an earlier attempt, or created once.

    The creation's lookup finds the object by what its create gave it (a deterministic
    name): it runs when an earlier attempt sent the create, and when this one gets no
    answer.
    """
    known = (brand.provider_config_json or {}).get(key)
    if known:
        return known
    found = creation.looked_up() if _intended(ctx, brand, key) else None
    sid = (found or creation.run()).sid
    _remember(ctx, brand, **{key: sid})
    return sid


def _sole(brand: Tenant10DLCBrand) -> bool:
    return brand.brand_type == brand_types.SOLE_PROPRIETOR


def customer_profile(ctx: StepContext) -> None:
    """Step 1: the secondary customer profile with its business, person and address (a
    starter profile with the person and address for a sole proprietor)."""
    brand = _brand(ctx)
    config, _, client = _clients(ctx)
    if _sole(brand):
        _starter_profile(ctx, brand, config, client)
        return
    profile = _once(ctx, brand, "customer_profile_sid", client.bundle(
        PROFILES, _name(brand, "secondary profile"), brand.owner_email,
        SECONDARY_PROFILE_POLICY,
    ))  # fmt: skip
    business = _once(ctx, brand, "business_info_sid", client.trusthub_item(
        "end_users", _name(brand, "business information"),
        "customer_profile_business_information", {
            "business_name": brand.legal_business_name,
            "business_identity": "direct_customer",
            "business_type": brand.business_type,
            "business_industry": brand.industry_vertical,
            "business_registration_identifier": "EIN",
            "business_registration_number": brand.business_registration_number.replace("-", ""),
            "business_regions_of_operation": "USA_AND_CANADA",
            "website_url": brand.business_website,
        },
    ))  # fmt: skip
    first, _, last = brand.owner_name.partition(" ")
    representative = _once(ctx, brand, "representative_sid", client.trusthub_item(
        "end_users", _name(brand, "authorized representative"), "authorized_representative_1", {
            "first_name": first, "last_name": last or first, "email": brand.owner_email,
            "phone_number": brand.owner_phone, "business_title": brand.owner_title,
            "job_position": "Director",
        },
    ))  # fmt: skip
    document = _address_document(ctx, brand, client, brand.legal_business_name)
    _complete_profile(ctx, brand, config, client, profile, [business, representative, document],
                      SECONDARY_PROFILE_POLICY)  # fmt: skip


def _starter_profile(
    ctx: StepContext, brand: Tenant10DLCBrand, config: PartnerConfiguration, client: TwilioApi
) -> None:
    profile = _once(ctx, brand, "customer_profile_sid", client.bundle(
        PROFILES, _name(brand, "starter profile"), brand.owner_email, STARTER_PROFILE_POLICY,
    ))  # fmt: skip
    first, _, last = brand.owner_name.partition(" ")
    person = _once(ctx, brand, "representative_sid", client.trusthub_item(
        "end_users", _name(brand, "sole proprietor"), "starter_customer_profile_information", {
            "first_name": first, "last_name": last or first, "email": brand.owner_email,
            "phone_number": brand.owner_phone,
        },
    ))  # fmt: skip
    document = _address_document(ctx, brand, client, brand.owner_name)
    _complete_profile(ctx, brand, config, client, profile, [person, document],
                      STARTER_PROFILE_POLICY)  # fmt: skip


def _address_document(
    ctx: StepContext, brand: Tenant10DLCBrand, client: TwilioApi, customer_name: str
) -> str:
    """The business address and the supporting document that proves it to a profile."""
    address = _once(ctx, brand, "address_sid", client.address(
        _name(brand, "address"), customer_name=customer_name,
        street=brand.business_address, city=brand.business_city, region=brand.business_state,
        postal_code=brand.business_zip, iso_country=brand.country,
    ))  # fmt: skip
    return _once(ctx, brand, "address_document_sid", client.trusthub_item(
        "supporting_documents", _name(brand, "address document"), "customer_profile_address",
        {"address_sids": address},
    ))  # fmt: skip


def _complete_profile(
    ctx: StepContext,
    brand: Tenant10DLCBrand,
    config: PartnerConfiguration,
    client: TwilioApi,
    profile: str,
    items: list[str],
    policy: str,
) -> None:
    """Attach the items and the ISV's primary profile, then evaluate and submit."""
    primary = config.value("primary_customer_profile_sid") or _primary_profile(ctx, config)
    _assign(ctx, brand, "profile_assigned", client, PROFILES, profile, [*items, primary])
    _evaluate_and_submit(client, PROFILES, profile, policy)


def _primary_profile(ctx: StepContext, config: PartnerConfiguration) -> str:
    master = clients.twilio_master(config, ctx.services.get("transport"))
    profiles = master.approved_customer_profiles()
    if not profiles:
        raise Rejected(
            "twilio",
            "The ISV has no approved Primary Business Profile in Twilio's console; "
            "create it there first (type ISV Reseller or Partner).",
        )
    return profiles[0].sid


def _assign(
    ctx: StepContext,
    brand: Tenant10DLCBrand,
    key: str,
    client: TwilioApi,
    kind: str,
    bundle_sid: str,
    object_sids: list[str],
) -> None:
    """Attach each object to the bundle once; after a lost answer, the bundle's
    assignments are read before attaching again."""
    done = set((brand.provider_config_json or {}).get(key) or [])
    if not set(object_sids) - done:
        return
    if _intended(ctx, brand, key):
        done |= client.assigned(kind, bundle_sid)
        _remember(ctx, brand, **{key: sorted(done)})
    for sid in [s for s in object_sids if s not in done]:
        client.assignment(kind, bundle_sid, sid).run()
        done.add(sid)
        _remember(ctx, brand, **{key: sorted(done)})


def _evaluate_and_submit(client: TwilioApi, kind: str, bundle_sid: str, policy: str) -> None:
    if client.bundle_status(kind, bundle_sid) != "draft":
        return  # submitted already
    evaluation = client.evaluate_bundle(kind, bundle_sid, policy)
    if evaluation.status != "compliant":
        problems = "; ".join(
            f"{r.get('friendly_name') or r.get('object_type')}: {r.get('failure_reason', '')}"
            for r in (evaluation.results or [])
            if not r.get("passed", True)
        )
        raise Rejected(
            "twilio", f"Twilio found the registration incomplete: {problems or 'noncompliant'}"
        )
    client.submit_bundle(kind, bundle_sid)


def trust_product(ctx: StepContext) -> None:
    """Step 2: the A2P trust product holding the messaging profile and the customer profile."""
    brand = _brand(ctx)
    _, _, client = _clients(ctx)
    policy = SOLE_PROP_TRUST_PRODUCT_POLICY if _sole(brand) else A2P_TRUST_PRODUCT_POLICY
    product = _once(ctx, brand, "trust_product_sid", client.bundle(
        PRODUCTS, _name(brand, "A2P trust product"), brand.owner_email, policy,
    ))  # fmt: skip
    if _sole(brand):  # the mobile number is the one the verification text goes to
        info_item = client.trusthub_item(
            "end_users", _name(brand, "sole proprietor A2P"), "sole_proprietor_information",
            {"brand_name": brand.dba_name or brand.legal_business_name,
             "vertical": brand.industry_vertical, "mobile_phone_number": brand.owner_phone},
        )  # fmt: skip
    else:
        info_item = client.trusthub_item(
            "end_users",
            _name(brand, "messaging profile"),
            "us_a2p_messaging_profile_information",
            {"company_type": brand.company_type},
        )
    info = _once(ctx, brand, "messaging_profile_sid", info_item)
    profile = brand.provider_config_json["customer_profile_sid"]
    _assign(ctx, brand, "product_assigned", client, PRODUCTS, product, [info, profile])
    _evaluate_and_submit(client, PRODUCTS, product, policy)


A2P_EVENT_TYPES = [
    f"com.twilio.messaging.compliance.{kind}"
    for kind in (
        "brand-registration.brand-registered", "brand-registration.brand-failure",
        "brand-registration.brand-verified", "brand-registration.brand-unverified",
        "campaign-registration.campaign-submitted", "campaign-registration.campaign-approved",
        "campaign-registration.campaign-failure",
        "campaign-registration.campaign-deleted",  # expired (not renewed) or removed
    )
]  # fmt: skip


def event_subscription(ctx: StepContext) -> None:
    """Statuses come as events: a sink and a subscription in the subaccount (§4)."""
    brand = _brand(ctx)
    _, sub, client = _clients(ctx)
    base = (ctx.services.get("public_base_url") or "").rstrip("/")
    destination = f"{base}/webhooks/twilio/events/{sub.events_token()}"
    description = f"A2P 10DLC status #{brand.id}"  # no PII in a sink's description
    sink = _once(ctx, brand, "event_sink_sid", client.event_sink(description, destination))
    _once(ctx, brand, "event_subscription_sid",
          client.event_subscription(description, sink, A2P_EVENT_TYPES))  # fmt: skip


def _billable_once(ctx: StepContext, creation: Creation, pace: str) -> Any:
    """What a billable create made: looked up when an earlier attempt sent it, else
    created once (paced per account) and confirmed as the step's effect."""
    if not ctx.intend():
        found = creation.looked_up()
        if found is not None:
            return found
    BRAND_AND_CAMPAIGN_CALLS.wait(pace)
    created = creation.run()
    ctx.done_effect()
    return created


def brand_registration(ctx: StepContext) -> None:
    """Step 3: the brand (billable): requested once; a lost answer is looked up."""
    brand = _brand(ctx)
    if brand.provider_brand_id:
        return
    _, _, client = _clients(ctx)
    options: dict[str, Any] = {"brand_type": "SOLE_PROPRIETOR" if _sole(brand) else "STANDARD"}
    if brand.brand_type == brand_types.LOW_VOLUME_STANDARD:
        options["skip_automatic_sec_vet"] = True  # low-volume: no secondary vetting
    registration = client.brand_registration(
        brand.provider_config_json["customer_profile_sid"],
        a2p_profile_bundle_sid=brand.provider_config_json["trust_product_sid"],
        **options,
    )
    created = _billable_once(ctx, registration, f"brand:{client.account_sid}")
    brand.provider_brand_id = created.sid
    apply_brand_status(ctx.session, brand, created.status)


def wait_for_brand_approval(ctx: StepContext) -> None:
    """Step 3b: brands take days; events or polling move the run on."""
    brand = _brand(ctx)
    _, _, client = _clients(ctx)
    if not brand.provider_brand_id:
        raise DomainError("The brand of this run was never registered.")
    remote = client.fetch_brand(brand.provider_brand_id)
    apply_brand_status(ctx.session, brand, remote.status, remote.failure_reason)
    apply_brand_identity(ctx.session, brand, remote.identity_status, remote.brand_score)
    if brand.provider_status == "APPROVED" and not awaiting_otp(brand):
        return
    if brand.provider_status == "FAILED":
        reason = brand.provider_status_reason or "no reason given"
        plain = brand_types.explain(reason=reason)
        raise Rejected(
            "twilio", f"The brand was not approved: {reason}" + (f" ({plain})" if plain else "")
        )
    if awaiting_otp(brand):
        # the owner's YES arrives as brand-verified; polling backs off up to an hour
        seconds = exponential(ctx.step.attempts, 300, 3600)
        raise Wait(otp_message(brand), utcnow() + dt.timedelta(seconds=seconds))
    seconds = exponential(ctx.step.attempts, 300, MAX_WAIT.total_seconds())
    review = f"Brand {brand.provider_status}: waiting for the carriers' review"
    raise Wait(review, utcnow() + dt.timedelta(seconds=seconds))


def apply_brand_status(
    session: Session, brand: Tenant10DLCBrand, status: str | None, reason: Any = None
) -> None:
    """Record a brand status (from polling or an event); approval freezes the snapshot.
    A change is announced (``brand.updated``) once, whoever else applies it at once."""
    if not status:
        return
    before = brand.provider_status
    changed = _compare_and_set(session, brand, "provider_status", status)
    if reason:
        brand.provider_status_reason = str(reason)[:2000]
    if status == "APPROVED" and brand.provider_approved_at is None:
        _stamp_approval(session, brand)
    if changed:
        announce_brand(session, brand, before)


def awaiting_otp(brand: Tenant10DLCBrand) -> bool:
    """A sole proprietor's approved brand whose owner has not confirmed the text yet."""
    return (
        _sole(brand)
        and brand.provider_status == "APPROVED"
        and brand.identity_status not in ("VERIFIED", "VETTED_VERIFIED")
    )


def otp_deadline(brand: Tenant10DLCBrand) -> dt.datetime | None:
    if brand.otp_sent_at is None:
        return None
    return brand.otp_sent_at + dt.timedelta(hours=brand_types.OTP_VALID_HOURS)


def otp_message(brand: Tenant10DLCBrand) -> str:
    """What the sole proprietor must do now, in plain words."""
    deadline = otp_deadline(brand)
    if deadline is not None and deadline <= utcnow():
        return (
            f"The verification text to {brand.owner_phone} expired at "
            f"{deadline:%Y-%m-%d %H:%M} UTC: send the code again, then reply YES from that phone."
        )
    until = f" by {deadline:%Y-%m-%d %H:%M} UTC" if deadline else " within 24 hours"
    return f"Waiting for the owner to reply YES to the text sent to {brand.owner_phone}{until}."


def apply_brand_identity(
    session: Session, brand: Tenant10DLCBrand, identity: Any, score: Any = None
) -> None:
    """Record the brand's identity status and trust score. A sole proprietor's brand
    approved but unverified has been texted its code: the time starts the 24 hours."""
    if identity and brand.identity_status != str(identity):
        brand.identity_status = str(identity)[:40]
    if isinstance(score, int) and brand.brand_score != score:
        brand.brand_score = score
    if awaiting_otp(brand) and brand.otp_sent_at is None:
        brand.otp_sent_at = utcnow()


def resend_otp(
    session: Session, brand: Tenant10DLCBrand, client: TwilioApi, commit: Callable[[], None]
) -> None:
    """ "Send the code again" (SmsOtp): counted and committed before the call, so a lost
    answer is never retried on its own and the cap holds."""
    if not awaiting_otp(brand):
        raise DomainError("This brand is not waiting for a verification code.")
    if brand.otp_resends >= brand_types.MAX_OTP_RESENDS:
        raise DomainError(
            f"The code was sent again {brand_types.MAX_OTP_RESENDS} times already: "
            "contact support to verify the mobile number."
        )
    claim = (
        update(Tenant10DLCBrand)
        .where(Tenant10DLCBrand.id == brand.id, Tenant10DLCBrand.otp_resends == brand.otp_resends)
        .values(otp_resends=brand.otp_resends + 1)
        .execution_options(synchronize_session=False)
    )
    claimed = affected_rows(session, claim)
    if claimed != 1:
        raise DomainError("The code is being sent again already.")
    commit()  # the claim holds even if the answer is lost
    session.refresh(brand)
    client.resend_brand_otp(brand.provider_brand_id or "")
    brand.otp_sent_at = utcnow()


def apply_campaign_status(
    session: Session, brand: Tenant10DLCBrand, status: str | None, failure: Any = None
) -> None:
    """Record the status of the brand's campaign (and a failure's ``(code, reason)``); a
    change is announced once (``campaign.updated``)."""
    if not status:
        return
    if failure:
        code, reason = failure
        brand.provider_config_json = {
            **(brand.provider_config_json or {}),
            "campaign_failure": {"code": code, "reason": str(reason or "")[:500]},
        }
    before = brand.campaign_status
    if _compare_and_set(session, brand, "campaign_status", status):
        data = {
            "campaign": campaign_data(brand),
            "changes": {"status": {"from": before, "to": status}},
        }
        platform_events.emit(session, "campaign.updated", brand.company_id,
                             f"a2p:{brand.company_id}", data)  # fmt: skip
        if status in CAMPAIGN_STOPPED:
            health.raise_company_notice(session, brand.company_id, CAMPAIGN_STOPPED[status])


def _compare_and_set(session: Session, brand: Tenant10DLCBrand, column: str, value: str) -> bool:
    """Set ``column`` to ``value`` unless it holds it already; True when this call changed
    it. A conditional ``UPDATE`` on the value read: when another worker changed it since,
    the row is read again and the change is made only if still needed."""
    attribute = getattr(Tenant10DLCBrand, column)
    for _ in range(3):
        current = getattr(brand, column)
        if current == value:
            return False
        same = attribute.is_(None) if current is None else attribute == current
        statement = (
            update(Tenant10DLCBrand)
            .where(Tenant10DLCBrand.id == brand.id, same)
            .values({column: value})
            .execution_options(synchronize_session=False)
        )
        if affected_rows(session, statement) == 1:
            set_committed_value(brand, column, value)
            return True
        session.refresh(brand, [column])
    raise DomainError("The brand keeps changing at the same moment: try again.")


def brand_data(brand: Tenant10DLCBrand) -> dict[str, Any]:
    """A brand as its events carry it."""
    return {
        "id": brand.id, "sid": brand.provider_brand_id, "status": brand.provider_status,
        "status_reason": brand.provider_status_reason, "is_active": brand.is_active,
        "approved": brand.provider_approved_at is not None, "run_id": brand.run_id,
    }  # fmt: skip


def campaign_data(brand: Tenant10DLCBrand) -> dict[str, Any]:
    """The brand's campaign as its events carry it."""
    return {
        "brand_id": brand.id, "sid": (brand.provider_config_json or {}).get("campaign_sid"),
        "status": brand.campaign_status, "use_case": brand.use_case,
    }  # fmt: skip


def announce_brand(session: Session, brand: Tenant10DLCBrand, before: str | None) -> None:
    """``brand.updated``: the brand's status went from ``before`` to its current one."""
    data = {
        "brand": brand_data(brand),
        "changes": {"status": {"from": before, "to": brand.provider_status}},
    }
    platform_events.emit(session, "brand.updated", brand.company_id, f"a2p:{brand.company_id}",
                         data)  # fmt: skip


def _stamp_approval(session: Session, brand: Tenant10DLCBrand) -> None:
    """Set the approval time once, with a compare-and-set.

    Two workers may approve the same brand at once (two events, or an event and the
    poll), each having read it unapproved: the later one then changes nothing, instead of
    rewriting the frozen ``provider_approved_at`` and tripping the immutability trigger.
    """
    now = utcnow()
    session.execute(
        update(Tenant10DLCBrand)
        .where(Tenant10DLCBrand.id == brand.id, Tenant10DLCBrand.provider_approved_at.is_(None))
        .values(provider_approved_at=now, provider_verified_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(brand, ["provider_approved_at", "provider_verified_at"])


def messaging_service(ctx: StepContext) -> None:
    """Step 4: a fresh Messaging Service for the campaign."""
    brand = _brand(ctx)
    _, _, client = _clients(ctx)
    usecase = USECASE_TO_SERVICE.get(brand.use_case, "notifications")
    service = client.messaging_service(_name(brand, "A2P"), usecase)
    _once(ctx, brand, "messaging_service_sid", service)


def campaign(ctx: StepContext) -> None:
    """Step 5: the campaign, once the brand is approved (requested once)."""
    brand = _brand(ctx)
    config_json = brand.provider_config_json or {}
    if config_json.get("campaign_sid"):
        return
    _, _, client = _clients(ctx)
    campaign = client.campaign(
        config_json["messaging_service_sid"],
        brand_registration_sid=brand.provider_brand_id,
        description=brand.campaign_description,
        message_flow=brand.message_flow,
        message_samples=[brand.sample_message_1, brand.sample_message_2],
        us_app_to_person_usecase="SOLE_PROPRIETOR" if _sole(brand) else brand.use_case,
        has_embedded_links="http" in (brand.sample_message_1 + brand.sample_message_2),
        has_embedded_phone=False,
        opt_in_keywords=_keywords(brand.opt_in_keywords),
        opt_out_keywords=_keywords(brand.opt_out_keywords),
        privacy_policy_url=brand.privacy_policy_url,
        terms_and_conditions_url=brand.terms_url,
    )
    created = _billable_once(ctx, campaign, f"campaign:{client.account_sid}")
    _remember(ctx, brand, campaign_sid=created.sid)
    apply_campaign_status(ctx.session, brand, created.campaign_status)


def _keywords(value: str) -> list[str]:
    return [k.strip().upper() for k in value.replace(";", ",").split(",") if k.strip()]


def numbers_join_campaign(ctx: StepContext) -> None:
    """Step 6: the company's 10DLC numbers join the campaign's Messaging Service (numbers
    bought later join it after their purchase)."""
    brand = _brand(ctx)
    _, _, client = _clients(ctx)
    joined = campaign_numbers.attach_all(ctx.session, SYSTEM, brand.company_id, client)
    ctx.record_ids(numbers_joined=[row.provider_phone_id for row in joined])


A2P_REGISTRATION = register_flow(
    Flow(
        name="twilio_a2p_10dlc",
        provider=Provider.TWILIO,
        steps=(
            ("customer_profile", customer_profile),
            ("trust_product", trust_product),
            ("event_subscription", event_subscription),
            ("brand_registration", brand_registration),
            ("wait_for_brand_approval", wait_for_brand_approval),
            ("messaging_service", messaging_service),
            ("campaign", campaign),
            ("numbers_join_campaign", numbers_join_campaign),
        ),
        max_attempts=50,
    )
)
