"""What customers see of a number: its display name, WhatsApp business profile and picture,
and the Official Business Account badge (issue 17 item 3). The services the number's
profile page calls, and the ``phone_number_name_update`` webhook's effect.

A display name change is put on the number's row (``new_display_name``, ``new_name_status``
PENDING_REVIEW, ``name_requested_at``) and made durable before Meta is asked, so a lost
answer loses no request; a refusal clears it. Meta's decision arrives by webhook: an
approved change of a registered number takes effect when the number registers again
("re-registering before approval has no effect"), one of a number not registered at once;
a rejection keeps Meta's reason, explained in plain words with what it costs, and alerts
the company. The page reads Meta's status each time and the row follows it.

Meta's pages (developers.facebook.com): display names (documentation/business-messaging/
whatsapp/display-names, and the Help Center's display name guidelines it links: at least 3
characters, no emoji or symbols such as trademark signs, no URL formatting; 75 characters
is the vendored spec's limit), phone_number_name_update (.../webhooks/reference/
phone_number_name_update), business profiles (.../business-phone-numbers/business-profiles:
about 1-139 characters, address 256, description 512, e-mail 128, two http(s) websites of
256, the verticals), Official Business Accounts (.../official-business-accounts).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from .. import audit
from ..channels import Channel
from ..db import utcnow
from ..errors import DomainError, ProviderError, Retryable, Unreachable
from ..health import observe
from ..partners import PartnerConfiguration
from . import numbers as graph_numbers
from . import profile as graph_profile
from .lifecycle import NumberAccess
from .models import MetaWhatsAppPhoneNumber

PENDING, APPROVED, DECLINED = "PENDING_REVIEW", "APPROVED", "DECLINED"
NAME_LENGTH = (3, 75)
URL_LIKE = re.compile(r"(?i)(https?://|www\.|\.(com|net|org|io|co|info|biz|shop)\b)")
LIMITS = {"about": 139, "address": 256, "description": 512, "email": 128}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WEBSITE_RE = re.compile(r"^https?://\S+$")
MAX_WEBSITES, WEBSITE_LIMIT = 2, 256
MAX_PICTURE_BYTES = 5 * 1024 * 1024
PICTURE_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
# Meta's verticals and the words WhatsApp shows for them ("" leaves it unset).
VERTICALS = {
    "": "Not set", "AUTO": "Automotive", "BEAUTY": "Beauty, spa and salon",
    "APPAREL": "Clothing and apparel", "EDU": "Education", "ENTERTAIN": "Entertainment",
    "EVENT_PLAN": "Event planning and service", "FINANCE": "Finance and banking",
    "GROCERY": "Food and grocery", "GOVT": "Public service", "HOTEL": "Hotel and lodging",
    "HEALTH": "Medical and health", "NONPROFIT": "Non-profit",
    "PROF_SERVICES": "Professional services", "RETAIL": "Shopping and retail",
    "TRAVEL": "Travel and transportation", "RESTAURANT": "Restaurant",
    "ALCOHOL": "Alcoholic beverages", "ONLINE_GAMBLING": "Online gambling and gaming",
    "PHYSICAL_GAMBLING": "Gambling and gaming (not online)", "OTC_DRUGS": "Over-the-counter drugs",
    "NOT_A_BIZ": "Not a business", "OTHER": "Other",
}  # fmt: skip


@dataclass
class ProfilePage:
    """What Meta holds for the number's page."""

    profile: graph_profile.BusinessProfile
    oba: graph_numbers.ObaStatus


# -- the page -------------------------------------------------------------------------------
def read(number: MetaWhatsAppPhoneNumber, reach: NumberAccess) -> ProfilePage:
    """Meta's business profile and badge; the row's display name follows Meta's status."""
    with reach.graph:
        refresh_name(number, graph_numbers.display_name_status(reach.graph, reach.phone_id,
                                                               reach.token))  # fmt: skip
        profile = graph_profile.get_profile(reach.graph, reach.phone_id, reach.token)
        oba = graph_numbers.oba_status(reach.graph, reach.phone_id, reach.token)
    return ProfilePage(profile, oba)


def refresh_name(number: MetaWhatsAppPhoneNumber, meta: graph_numbers.DisplayName) -> None:
    """Meta is the truth: with no change under review there (applied, or never received),
    the row asks for nothing either."""
    number.verified_name = meta.verified_name or number.verified_name
    number.name_status = meta.name_status or number.name_status
    if meta.new_name_status:
        number.new_display_name = meta.new_display_name or number.new_display_name
        number.new_name_status = meta.new_name_status
        if meta.new_name_status != DECLINED:
            number.name_rejection_reason = None
    elif number.new_name_status is not None:
        _forget_request(number)


def name_notice(number: MetaWhatsAppPhoneNumber) -> tuple[str, str] | None:
    """The state of the number's display name in plain words: (kind, text)."""
    asked = number.new_display_name
    if number.new_name_status == PENDING:
        return "info", f"“{asked}” is being reviewed by Meta. The current name stays until then."
    if number.new_name_status == APPROVED:
        return "success", (f"Meta approved “{asked}”. It replaces the current name when the "
                           "number registers again (deregister, then register, on the number's "
                           "page: two of its ten calls in 72 hours).")  # fmt: skip
    if number.new_name_status == DECLINED:
        return "error", _rejection(asked, number.name_rejection_reason)
    if number.name_status == DECLINED:
        return "error", _rejection(number.verified_name, number.name_rejection_reason)
    return None


def _rejection(name: str | None, reason: str | None) -> str:
    why = graph_numbers.name_rejection(reason)
    return f"Meta rejected the display name “{name}”: {why} {graph_numbers.DECLINED_COST}"


# -- display name ---------------------------------------------------------------------------
def display_name_problems(name: str) -> list[str]:
    """What Meta's guidelines refuse outright, checked before asking."""
    problems = []
    if not NAME_LENGTH[0] <= len(name) <= NAME_LENGTH[1]:
        problems.append(f"A display name is {NAME_LENGTH[0]} to {NAME_LENGTH[1]} characters long.")
    if any(unicodedata.category(ch) in ("So", "Cs", "Co") for ch in name):
        problems.append("A display name has no emoji or symbols such as ™ or ®.")
    if URL_LIKE.search(name):
        problems.append("A display name is not a web address.")
    return problems


def request_display_name(
    session: Session,
    durable: Callable[[], None],
    actor: audit.Actor,
    number: MetaWhatsAppPhoneNumber,
    name: str,
    reach: NumberAccess,
) -> None:
    """Ask Meta to review a new display name for the number."""
    name = " ".join((name or "").split())
    problems = display_name_problems(name)
    if problems:
        raise DomainError(" ".join(problems))
    if number.new_name_status == PENDING:
        raise DomainError(f"“{number.new_display_name}” is still being reviewed by Meta: "
                          "wait for its decision before asking for another name.")  # fmt: skip
    if name == number.verified_name:
        raise DomainError("This is already the number's display name.")
    number.new_display_name, number.new_name_status = name, PENDING
    number.name_rejection_reason, number.name_requested_at = None, utcnow()
    durable()
    try:
        with reach.graph:
            graph_numbers.request_display_name(reach.graph, reach.phone_id, reach.token, name)
    except Retryable as exc:
        raise Unreachable("meta", "Meta did not confirm the request. It is kept as asked: "
                          "this page shows Meta's own status once Meta answers again.",
                          exc.http_status) from exc  # fmt: skip
    except ProviderError:
        _forget_request(number)
        durable()
        raise
    audit.record(session, actor, "number.display_name_requested", number,
                 company_id=number.company_id, name=name)  # fmt: skip


def apply_name_decision(
    session: Session, number: MetaWhatsAppPhoneNumber, value: dict[str, Any], at: dt.datetime | None
) -> None:
    """``phone_number_name_update``: Meta's decision on a requested change, or on the
    number's current name (verified when the number reaches a higher messaging limit)."""
    decision = str(value.get("decision") or "")
    requested = str(value.get("requested_verified_name") or "")
    reason = value.get("rejection_reason")
    is_change = bool(requested) and (
        requested == number.new_display_name
        or (bool(number.verified_name) and requested != number.verified_name)
    )  # a name Meta reviews that is neither asked for here nor current: asked elsewhere
    if decision not in (APPROVED, "REJECTED"):
        if is_change:  # DEFERRED: reviewed again later
            number.new_display_name, number.new_name_status = requested, PENDING
        return
    rejected = decision == "REJECTED"
    if is_change:
        seen = number.new_name_status == DECLINED and number.new_display_name == requested
        number.new_display_name = requested
        number.name_rejection_reason = reason if rejected else None
        if rejected:
            number.new_name_status = DECLINED
        elif number.status == "CONNECTED":
            number.new_name_status = APPROVED  # in effect at the next registration
        else:
            number.verified_name, number.name_status = requested, APPROVED
            _forget_request(number)
    else:
        seen = number.name_status == DECLINED
        number.name_status = DECLINED if rejected else APPROVED
        number.name_rejection_reason = reason if rejected else None
    if rejected and not seen:
        _alert_rejection(session, number, requested or number.verified_name, reason, at)


def _alert_rejection(
    session: Session, number: MetaWhatsAppPhoneNumber, name: str, reason: Any, at: Any
) -> None:
    channel = session.get(Channel, number.channel_id) if number.channel_id else None
    if channel is not None:
        why = [graph_numbers.name_rejection(reason), graph_numbers.DECLINED_COST]
        observe(session, channel, source="webhook", at=at,
                reasons=[f"Meta rejected the display name “{name}”"], explain=why)  # fmt: skip


def _forget_request(number: MetaWhatsAppPhoneNumber) -> None:
    number.new_display_name = number.new_name_status = None
    number.name_rejection_reason = number.name_requested_at = None


# -- business profile -----------------------------------------------------------------------
def profile_problems(changes: dict[str, Any]) -> list[str]:
    """Meta's limits on the profile's fields, checked before anything is sent."""
    problems = []
    for name, limit in LIMITS.items():
        value = changes.get(name)
        if value is not None and len(value) > limit:
            problems.append(f"The {name} is at most {limit} characters long.")
    if changes.get("about") == "":
        problems.append("The about text cannot be empty.")
    email = changes.get("email")
    if email and not EMAIL_RE.match(email):
        problems.append("The e-mail address is not valid.")
    websites = changes.get("websites") or []
    if len(websites) > MAX_WEBSITES:
        problems.append(f"At most {MAX_WEBSITES} websites.")
    if any(len(w) > WEBSITE_LIMIT or not WEBSITE_RE.match(w) for w in websites):
        problems.append(f"A website starts with http:// or https:// and is at most "
                        f"{WEBSITE_LIMIT} characters long.")  # fmt: skip
    if changes.get("vertical") not in (None, *VERTICALS):
        problems.append("Choose the business's category from the list.")
    return problems


def update_profile(
    session: Session,
    actor: audit.Actor,
    number: MetaWhatsAppPhoneNumber,
    changes: dict[str, Any],
    reach: NumberAccess,
) -> None:
    """Change the profile's fields given ("" clears one); refused before any call when a
    value breaks Meta's limits."""
    problems = profile_problems(changes)
    if problems:
        raise DomainError(" ".join(problems))
    with reach.graph:
        graph_profile.update_profile(reach.graph, reach.phone_id, reach.token, **changes)
    audit.record(session, actor, "number.profile_updated", number,
                 company_id=number.company_id, fields=sorted(changes))  # fmt: skip


def picture_type(data: bytes) -> str:
    """The picture's type from its bytes (not from what the browser says): JPEG or PNG, at
    most 5 MB."""
    if not data:
        raise DomainError("Choose a picture to upload.")
    if len(data) > MAX_PICTURE_BYTES:
        raise DomainError("A profile picture is at most 5 MB.")
    for signature, file_type in PICTURE_SIGNATURES:
        if data.startswith(signature):
            return file_type
    raise DomainError("A profile picture is a JPEG or PNG image.")


def upload_picture(
    session: Session,
    actor: audit.Actor,
    number: MetaWhatsAppPhoneNumber,
    data: bytes,
    reach: NumberAccess,
) -> None:
    """Upload the picture (Meta's Resumable Upload API, resumed after a lost answer) and
    make it the profile's."""
    file_type = picture_type(data)
    app_id = _app_id(session, number)
    name = "profile-picture." + ("png" if file_type == "image/png" else "jpg")
    with reach.graph:
        handle = graph_profile.upload_picture(reach.graph, app_id, reach.token, data, file_type,
                                              name)  # fmt: skip
        graph_profile.update_profile(reach.graph, reach.phone_id, reach.token,
                                     profile_picture_handle=handle)  # fmt: skip
    audit.record(session, actor, "number.profile_picture_set", number,
                 company_id=number.company_id, bytes=len(data))  # fmt: skip


def _app_id(session: Session, number: MetaWhatsAppPhoneNumber) -> str:
    """The partner's Meta app: uploads belong to an app."""
    config_id = number.client.partner_configuration_id
    config = session.get(PartnerConfiguration, config_id) if config_id else None
    if config is None:
        raise DomainError("The Meta app of this WhatsApp account is not configured.")
    return str(config.value("app_id"))


# -- Official Business Account -------------------------------------------------------------
def request_oba(
    session: Session,
    actor: audit.Actor,
    number: MetaWhatsAppPhoneNumber,
    reach: NumberAccess,
    *,
    website: str,
    country: str,
    language: str,
    parent_brand: str | None = None,
    links: Iterable[str] = (),
    information: str | None = None,
) -> graph_numbers.ObaStatus:
    """Ask Meta for the Official Business Account badge (Meta checks the display name is
    approved and two-step verification on; its refusal is shown as Meta words it)."""
    links = [link.strip() for link in links if link and link.strip()]
    if not WEBSITE_RE.match(website or "") or any(not WEBSITE_RE.match(x) for x in links):
        raise DomainError("Websites and links start with http:// or https://.")
    with reach.graph:
        status = graph_numbers.request_oba(
            reach.graph, reach.phone_id, reach.token, business_website_url=website,
            primary_country_of_operation=country, primary_language=language,
            parent_business_or_brand=parent_brand or None, supporting_links=links,
            additional_supporting_information=information or None,
        )  # fmt: skip
    audit.record(session, actor, "number.oba_requested", number, company_id=number.company_id)
    return status
