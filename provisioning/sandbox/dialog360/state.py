"""The 360dialog simulator's records and their wire shapes (fact sheet §3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

# Channel lifecycle the simulator drives over time (fact sheet "Lifecycle and partner
# webhooks"); any other status string is accepted by set_status (enums are open sets).
LIFECYCLE = ("created", "submitted", "ready", "running")
DEFAULT_TIMELINE = {"submitted": 60.0, "ready": 240.0, "running": 300.0}


def iso(ts: float | None) -> str | None:
    """A UTC timestamp as the Partner API prints it."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Partner:
    id: str
    api_keys: list[str]
    username: str | None = None
    password: str | None = None
    brand_name: str = "Sandbox Partner"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    partner_redirect_url: str | None = None
    direct_payment: bool = False
    echo_state: bool = True
    legacy_token_auth: bool = True
    token_ttl: int = 86400
    auto_approve_change_requests: bool = False

    def to_json(self) -> dict[str, Any]:
        # GET /partners/{pid} (fact sheet §3, NET GetPartnerPublicData.cs)
        return {
            "id": self.id,
            "brand_name": self.brand_name,
            "logo_url": None,
            "webhook_url": self.webhook_url,
            "partner_redirect_url": self.partner_redirect_url,
            "country": "DE",
            "allow_client_to_add_phone_no": True,
            "settings": {},
            "payment_required": self.direct_payment,  # deprecated upstream, still sent
            "onboarding_deeplink_add_params": None,
            "blocked_new_submission": False,
            "billing_system": "direct_payment" if self.direct_payment else "partner_payment",
            "publishable_key": None,
        }


@dataclass
class Client:
    id: str
    partner_id: str
    name: str
    email: str
    created_at: float
    partner_payload: str | None = None
    password: str | None = None
    max_channels: int = 10
    modified_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        # Client object (fact sheet §3 "Client object")
        return {
            "id": self.id,
            "name": self.name,
            "status": "active",
            "max_channels": self.max_channels,
            "organisation": self.name,
            "meta_info": {
                "business_vertical": None,
                "timezone": "UTC",
                "about": None,
                "business_description": None,
                "use_case": None,
            },
            "contact_info": self.contact_info(),
            "contact_user": {"phone": None, "email": self.email, "name": self.name},
            "partner_payload": self.partner_payload,
            "created_at": iso(self.created_at),
            "created_by": {"user_id": self.id, "user_name": self.email},
            "modified_at": iso(self.modified_at or self.created_at),
            "modified_by": {"user_id": self.id, "user_name": self.email},
            "suspicious": False,
        }

    def contact_info(self) -> dict[str, Any]:
        return {
            "webpage_url": None,
            "phone": None,
            "language": "en",
            "country": None,
            "street_name": None,
            "city": None,
            "email": self.email,
            "full_name": self.name,
            "zip_code": None,
        }


@dataclass
class Waba:
    id: str  # 360dialog's internal id, ...WA
    external_id: str  # Meta's WABA id
    client_id: str
    partner_id: str
    name: str
    namespace: str
    fb_business_id: str
    status: str = "created"
    fb_account_status: str = "pending"
    webhook: dict[str, Any] | None = None  # /waba_webhook

    def to_json(self) -> dict[str, Any]:
        # GET /partners/{pid}/waba_accounts/{waId} (fact sheet §3)
        return {
            "status": self.status,
            "id": self.id,
            "name": self.name,
            "namespace": self.namespace,
            "partner_id": self.partner_id,
            "client_id": self.client_id,
            "external_id": self.external_id,
            "timezone_id": "1",
            "fb_business_id": self.fb_business_id,
        }


@dataclass
class Channel:
    id: str
    client_id: str
    partner_id: str
    waba_id: str
    phone_number: str
    phone_name: str
    phone_number_id: str  # Meta's phone number id
    app_id: str
    created_at: float
    status: str = "created"
    modified_at: float = 0.0
    billing_started_at: float | None = None
    terminated_at: float | None = None
    current_limit: str = "TIER_250"
    current_quality_rating: str = "GREEN"
    api_key_permission: bool = True
    revoked: bool = False
    cancellation_requested: bool = False
    # lifecycle: seconds per remaining step; None means "stays here until moved"
    timeline: dict[str, float | None] = field(default_factory=dict)
    next_at: float | None = None
    last_key_at: float | None = None
    webhook: dict[str, Any] | None = None  # /v1/configs/webhook
    multi_enabled: bool = False
    multi_destinations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ApiKey:
    id: str
    channel_id: str
    api_key: str
    address: str
    app_id: str
    created_at: float
    revoked: bool = False

    def to_json(self, *, masked: bool = False) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "api_key": "*" * len(self.api_key) if masked else self.api_key,
            "app_id": self.app_id,
        }


@dataclass
class Template:
    """A message template of a WABA; ``raw`` is a malformed listing item served as it is."""

    id: str  # 360dialog's template id (Partner API ``waba_templates/{id}``)
    waba_id: str
    name: str
    language: str
    category: str
    components: list[Any]
    namespace: str
    created_at: float
    external_id: str = ""  # Meta's template id
    status: str = "submitted"
    rejected_reason: str | None = None
    quality_score: str = "UNKNOWN"
    previous_category: str | None = None
    allow_category_change: bool = False
    modified_at: float = 0.0
    raw: dict[str, Any] | None = None

    def to_json(self, partner_id: str) -> dict[str, Any]:
        """A ``waba_templates[]`` item: status lowercase (fact sheet §3 enums, rapidpro
        #3316), the other fields as NET's PartnerWhatsAppBusinessApiTemplate names them."""
        if self.raw is not None:
            return dict(self.raw)
        modified = self.modified_at or self.created_at
        return {
            "id": self.id,
            "external_id": self.external_id,
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "components": self.components,
            "namespace": self.namespace,
            "status": self.status,
            "rejected_reason": self.rejected_reason,
            # Meta's listing shape; the exact 360dialog shape is [unknown]
            "quality_score": {"score": self.quality_score, "date": int(modified)},
            "previous_category": self.previous_category,
            "allow_category_change": self.allow_category_change,
            "partner_id": partner_id,
            "waba_account_id": self.waba_id,
            "created_at": iso(self.created_at),
            "modified_at": iso(modified),
        }


@dataclass
class Token:
    access_token: str
    partner_id: str
    expires_at: float


@dataclass
class SentMessage:
    id: str
    channel_id: str
    to: str
    type: str
    at: float
    status: str = "accepted"
    body: dict[str, Any] = field(default_factory=dict)


class Store:
    """Every record of one simulator instance, keyed by id."""

    def __init__(self) -> None:
        self.partners: dict[str, Partner] = {}
        self.clients: dict[str, Client] = {}
        self.wabas: dict[str, Waba] = {}
        self.channels: dict[str, Channel] = {}
        self.api_keys: dict[str, ApiKey] = {}  # by the key string
        self.tokens: dict[str, Token] = {}
        self.templates: dict[str, Template] = {}
        self.template_reviews: dict[str, float] = {}  # template id -> when it is decided
        self.template_rejections: dict[str, str] = {}  # name -> reason of its next review
        self.messages: dict[str, SentMessage] = {}
        self.balance_calls: dict[str, list[float]] = {}
        self.pending: set[str] = set()  # channel ids with a scheduled transition
        self.phone_seq = 0

    def partner_by_api_key(self, key: str) -> Partner | None:
        for partner in self.partners.values():
            if key in partner.api_keys:
                return partner
        return None

    def client_by_email(self, partner_id: str, email: str) -> Client | None:
        for client in self.clients.values():
            if client.partner_id == partner_id and client.email.lower() == email.lower():
                return client
        return None

    def channels_of(self, client_id: str, *, include_revoked: bool = False) -> list[Channel]:
        return [
            c
            for c in self.channels.values()
            if c.client_id == client_id and (include_revoked or not c.revoked)
        ]

    def channel_by_number(self, partner_id: str, phone_number: str) -> Channel | None:
        """The partner's live channel for this number, else a revoked one, else None."""
        matches = [
            c
            for c in self.channels.values()
            if c.partner_id == partner_id and c.phone_number == phone_number
        ]
        return next((c for c in matches if not c.revoked), matches[0] if matches else None)

    def active_key(self, key: str) -> ApiKey | None:
        record = self.api_keys.get(key)
        return record if record is not None and not record.revoked else None


def channel_json(store: Store, channel: Channel) -> dict[str, Any]:
    """The V2 partner channel object (fact sheet §3 "Channel object", NET PartnerChannel.cs)."""
    client = store.clients[channel.client_id]
    waba = store.wabas[channel.waba_id]
    return {
        "id": channel.id,
        "client_id": channel.client_id,
        "account_mode": "live",
        "billing_started_at": iso(channel.billing_started_at),
        "terminated_at": iso(channel.terminated_at),
        "created_at": iso(channel.created_at),
        "modified_at": iso(channel.modified_at or channel.created_at),
        "current_limit": channel.current_limit,
        "current_quality_rating": channel.current_quality_rating,
        "status": channel.status,
        "has_inbox": False,
        "is_oba": False,
        "client": {
            "id": client.id,
            "name": client.name,
            "partner_payload": client.partner_payload,
            "contact_info": client.contact_info(),
        },
        "setup_info": {
            "phone_number": channel.phone_number,
            "phone_name": channel.phone_name,
            "was_in_use": False,
            "ivr": False,
            "verification_method": "sms",
            "certificate": None,
            "new_name_status": None,
            "default_language": "en",
            "has_integration_layer": False,
            "error": None,
            "configuration_type": "cloud",
            "region": None,
            "shards_number": None,
        },
        "waba_account": {
            "id": waba.id,
            # Meta's WABA id; the sheet's step 3 reads it from the channel (§2 "IDs")
            "external_id": waba.external_id,
            "status": waba.status,
            "fb_account_status": waba.fb_account_status,
            "namespace": waba.namespace,
            "on_behalf_of_business_info": {
                "id": waba.fb_business_id,
                "name": client.name,
                "status": "approved" if channel.status == "running" else "submitted",
                "type": "OWNER",
            },
        },
        "integration": {"enabled": True, "app_id": channel.app_id, "state": "running"},
        # V2 additions. The sheet does not say what the top-level external_id names; the
        # simulator puts Meta's phone number id there (the WABA's is in waba_account).
        "external_id": channel.phone_number_id,
        "version": 2,
        "is_migrated": False,
        "availability_status": None,
        "profile_info": {},
        "project": {"id": None, "name": None, "license_model": None, "inbox": False},
    }
