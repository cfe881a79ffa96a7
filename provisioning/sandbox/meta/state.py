"""The Meta simulator's state: apps, businesses, WABAs, phone numbers, tokens, codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Fact sheet §1.7: tiers and what each means in unique users per 24 h (UNLIMITED: -1,
# Meta's exact number for "unlimited" in max_daily_conversations_per_business is [unknown]).
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
QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN", "NA")

# Fields an app can subscribe to at app level (App Dashboard > WhatsApp > Configuration).
DEFAULT_APP_FIELDS = (
    "messages",
    "account_update",
    "account_alerts",
    "account_review_update",
    "business_capability_update",
    "message_template_status_update",
    "message_template_quality_update",
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
    id: str
    name: str
    verification_status: str = "verified"


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
    messaging_limit: str = "TIER_250"
    code_verification_status: str = "VERIFIED"
    account_mode: str = "LIVE"
    is_on_biz_app: bool = False
    is_official_business_account: bool = False
    pin: str | None = None
    register_attempts: list[float] = field(default_factory=list)
    last_onboarded_time: float | None = None
    webhook_override: dict[str, str] | None = None

    @property
    def registered(self) -> bool:
        return self.status == "CONNECTED"


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


def format_display_number(number: str) -> str:
    """Graph's ``display_phone_number`` ("+1 555-010-0001"); webhooks use bare digits."""
    if number.startswith("1") and len(number) == 11:
        return f"+1 {number[1:4]}-{number[4:7]}-{number[7:]}"
    return f"+{number[:2]} {number[2:]}"


def graph_time(epoch: float) -> str:
    """Graph's datetime format: ``2026-01-01T00:00:00+0000``."""
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
