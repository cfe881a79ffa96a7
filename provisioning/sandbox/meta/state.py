"""The Meta simulator's state: apps, businesses, WABAs, phone numbers, tokens, codes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

# Tiers and what each means in unique users per 24 h (M-limits; -1 is "unlimited" in the
# deprecated integer field max_daily_conversation_per_phone, M-wh/business_capability_update).
TIER_LIMITS = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1000,
    "TIER_2K": 2000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": -1,
    "TIER_NOT_SET": 0,
}
# The tiers a business portfolio's messaging limit moves through since October 2025
# (M-limits: 250 -> 2K -> 10K -> 100K -> unlimited; the 1K tier is gone).
PORTFOLIO_TIERS = ("TIER_250", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")
QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN", "NA")
# phone_number_quality_update is a throughput event now (M-wh/phone_number_quality_update).
THROUGHPUT_EVENTS = ("ONBOARDING", "THROUGHPUT_UPGRADE")

# Fields an app can subscribe to at app level (App Dashboard > WhatsApp > Configuration).
DEFAULT_APP_FIELDS = (
    "messages",
    "account_update",
    "account_alerts",
    "account_review_update",
    "business_capability_update",
    "message_template_status_update",
    "message_template_quality_update",
    "message_template_components_update",
    "template_category_update",
    "phone_number_name_update",
    "phone_number_quality_update",
    "security",
    "smb_app_state_sync",
    "smb_message_echoes",
    "history",
)


@dataclass
class App:
    app_id: str
    secret: str
    name: str
    webhook_url: str | None = None
    verify_token: str | None = None
    fields: set[str] = field(default_factory=lambda: set(DEFAULT_APP_FIELDS))
    system_user_id: str = ""
    system_user_token: str = ""


@dataclass
class Business:
    """A business portfolio: it owns WABAs and, since October 2025, the messaging limit
    that every number of every one of its WABAs shares (M-limits)."""

    id: str
    name: str
    verification_status: str = "verified"
    messaging_limit: str = "TIER_250"


@dataclass
class Waba:
    id: str
    name: str
    business_id: str
    partner_app_id: str | None
    created: float
    currency: str = "USD"
    timezone_id: str = "1"
    namespace: str = ""
    account_review_status: str = "APPROVED"
    # app id -> override callback (None: subscribed without override)
    subscribed_apps: dict[str, dict[str, str] | None] = field(default_factory=dict)
    ban_state: str | None = None  # SCHEDULE_FOR_DISABLE | DISABLE | REINSTATE
    ban_date: str | None = None
    restrictions: list[dict[str, Any]] = field(default_factory=list)
    phone_ids: list[str] = field(default_factory=list)
    template_ids: list[str] = field(default_factory=list)  # oldest first (listing order)
    assigned_users: dict[str, list[str]] = field(default_factory=dict)
    # management-call budget: None = not enforced (control_set_call_budget)
    call_budget: int | None = None
    budget_window: float = 3600.0
    calls: list[float] = field(default_factory=list)


@dataclass
class PhoneNumber:
    id: str
    waba_id: str
    number: str  # E.164 digits without "+", e.g. "15550100001"
    verified_name: str
    created: float
    status: str = "PENDING"
    name_status: str = "APPROVED"
    quality_rating: str = "GREEN"
    throughput_level: str = "STANDARD"  # STANDARD (80 mps) | HIGH (1,000 mps), M-tput
    code_verification_status: str = "VERIFIED"
    account_mode: str = "LIVE"
    is_on_biz_app: bool = False
    is_official_business_account: bool = False
    pin: str | None = None
    # A display name under review: /register fails with 2388001 until then (M-reg).
    name_ready_at: float | None = None
    register_attempts: list[float] = field(default_factory=list)
    last_onboarded_time: float | None = None
    webhook_override: dict[str, str] | None = None
    # a display name change (numbers.NumbersMixin): Graph's new_display_name, new_name_status
    new_display_name: str | None = None
    new_name_status: str | None = None

    @property
    def registered(self) -> bool:
        return self.status == "CONNECTED"


@dataclass
class Template:
    """A message template of a WABA (Graph's WhatsAppBusinessHSM node)."""

    id: str
    waba_id: str
    name: str
    language: str
    category: str
    components: list[dict[str, Any]]
    created: float
    status: str = "PENDING"
    parameter_format: str = "POSITIONAL"
    rejected_reason: str = "NONE"
    quality_score: str = "UNKNOWN"
    quality_date: float = 0.0
    previous_category: str | None = None
    correct_category: str | None = None  # an announced re-categorisation, until applied
    library_template_name: str | None = None
    pauses: int = 0
    raw: dict[str, Any] | None = None  # served as is in listings (a malformed template)


@dataclass
class Token:
    value: str
    app_id: str
    kind: str  # SYSTEM_USER (BISU from ES, or the partner's admin system user) | APP
    user_id: str
    issued_at: float
    waba_ids: list[str] = field(default_factory=list)  # newest first (fact sheet §1.5)
    business_ids: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    lists_targets: bool = True  # debug_token names the WABAs in granular_scopes
    all_partner_wabas: bool = False  # the partner's admin system user: every shared WABA
    revoked: bool = False
    expires_at: int = 0  # 0 = never (BISU tokens never expire by default)


@dataclass
class AuthCode:
    code: str
    app_id: str
    token: str
    issued_at: float
    redirect_uri: str | None = None
    used: bool = False


def ban_date(epoch: float) -> str:
    """``ban_info.waba_ban_date`` as Meta writes it: "April 17, 2025" (M-wh/account_update)."""
    day = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return f"{day:%B} {day.day}, {day.year}"


def format_display_number(number: str) -> str:
    """Graph's ``display_phone_number`` ("+1 555-010-0001"); webhooks use bare digits."""
    if number.startswith("1") and len(number) == 11:
        return f"+1 {number[1:4]}-{number[4:7]}-{number[7:]}"
    return f"+{number[:2]} {number[2:]}"


def graph_time(epoch: float) -> str:
    """Graph's datetime format: ``2026-01-01T00:00:00+0000``."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class VerificationCode:
    """The last code ``request_code`` sent to a number (numbers.NumbersMixin)."""

    code: str
    method: str  # SMS | VOICE
    language: str
    sent_at: float
    wrong_attempts: int = 0


@dataclass
class NameReview:
    """A display name under review: a new number's (``initial``) or a requested change."""

    requested_name: str
    decide_at: float
    initial: bool = False
    rejection: str | None = None  # control_reject_display_name: the review rejects


@dataclass
class ObaRequest:
    """A number's latest request for the Official Business Account badge."""

    status: str  # PENDING | APPROVED | REJECTED | CANCELLED
    requested_at: float
    decide_at: float
    details: dict[str, Any] = field(default_factory=dict)
    decided_at: float | None = None
    rejection: str | None = None  # control_reject_oba: the review rejects with this message
