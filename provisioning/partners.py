"""Platform-wide partner configurations: one per provider and environment (seed 003).

Each provider declares its fields once (:data:`PROVIDERS`); forms, validation, masking
and the audit trail derive from that declaration. Non-secret fields live in
``settings`` (JSON); secret fields in ``secrets`` (one AES-GCM-encrypted JSON document).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Boolean, String, UniqueConstraint, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import audit
from .crypto import EncryptedJSON
from .db import Base, created_at, enum_column, intpk, updated_at
from .errors import DomainError
from .outbound import STRICT, OutboundPolicy


class Provider(enum.StrEnum):
    META = "meta"
    DIALOG360 = "dialog360"
    TWILIO = "twilio"

    @property
    def label(self) -> str:
        return PROVIDERS[self].label

    @property
    def brand(self) -> str:
        """The provider's own name: Meta, 360dialog, Twilio."""
        return self.label.split(" (")[0]


class Environment(enum.StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


@dataclass(frozen=True)
class Field:
    """One setting of a partner configuration."""

    name: str
    label: str
    secret: bool = False
    required: bool = False
    kind: str = "text"  # text | url
    # Names the provider account itself: it cannot change while the configuration is in use.
    identity: bool = False
    pattern: str | None = None
    pattern_hint: str = ""
    default: str = ""
    help: str = ""
    # A provider URL: the hosts it may name in production (see provisioning.outbound).
    hosts: tuple[str, ...] | None = None

    def check(self, value: str) -> str | None:
        """An error message for ``value``, or None when it is acceptable."""
        if not value:
            return "This field is required." if self.required else None
        if len(value) > 2000:
            return "This value is too long."
        if self.kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                return "Enter a full http(s) URL."
        if self.pattern and not re.fullmatch(self.pattern, value, re.ASCII):  # \d: 0-9 only
            return self.pattern_hint or "This value has the wrong format."
        return None


@dataclass(frozen=True)
class ProviderSpec:
    label: str
    fields: tuple[Field, ...]
    # Cross-field rule on the merged values: returns {field: message}.
    check: Callable[[dict[str, str]], dict[str, str]] = lambda values: {}
    # Hosts the provider's client reaches without a URL setting (the Twilio SDK's own).
    hosts: tuple[str, ...] = ()

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _one_of(*groups: tuple[str, ...], message: str) -> Callable[[dict[str, str]], dict[str, str]]:
    """At least one group must be complete; the error goes on the first group's fields."""

    def check(values: dict[str, str]) -> dict[str, str]:
        if any(all(values.get(name) for name in group) for group in groups):
            return {}
        return {name: message for name in groups[0] if not values.get(name)}

    return check


def _meta_version(values: dict[str, str]) -> dict[str, str]:
    """Graph v24.0 is the first with the portfolio's messaging limit field (M-limits)."""
    match = re.fullmatch(r"v([0-9]{2})\.([0-9])", values.get("graph_api_version") or "")
    if match and (int(match[1]), int(match[2])) < (24, 0):
        return {"graph_api_version": "Use v24.0 or later (v25.0 is the default)."}
    return {}


PROVIDERS: dict[Provider, ProviderSpec] = {
    Provider.META: ProviderSpec(
        "Meta (Tech Provider)",
        (
            Field("app_id", "App ID", required=True, pattern=r"\d{5,20}",
                  pattern_hint="Digits only.", identity=True),
            Field("app_secret", "App secret", secret=True, required=True),
            Field("config_id", "Embedded Signup configuration ID", required=True,
                  pattern=r"\d{5,20}", pattern_hint="Digits only."),
            Field("graph_api_version", "Graph API version", required=True, default="v25.0",
                  pattern=r"v\d{2}\.\d", pattern_hint="Like v25.0.",
                  help="v24.0 or later: the business portfolio's messaging limit needs it."),
            Field("system_user_token", "System-user token", secret=True,
                  help="Optional: a system user's token for partner-level calls."),
            Field("webhook_verify_token", "Webhook verify token", secret=True, required=True,
                  help="Meta sends it back in the hub.verify_token handshake."),
            Field("webhook_callback_url", "Webhook override callback URL", kind="url",
                  help="Optional: set per WABA with override_callback_uri."),
            Field("twilio_partner_solution_id", "Twilio partner solution ID",
                  help="For Twilio Tech Provider WhatsApp onboarding (setup.solutionID)."),
            Field("graph_base_url", "Graph API base URL", kind="url", required=True,
                  default="https://graph.facebook.com", hosts=("graph.facebook.com",)),
            Field("sdk_url", "JavaScript SDK URL", kind="url", required=True,
                  default="https://connect.facebook.net/en_US/sdk.js",
                  hosts=("connect.facebook.net",)),
            Field("dialog_origin", "Facebook dialog origin", kind="url", required=True,
                  default="https://www.facebook.com", hosts=("www.facebook.com",),
                  help="Embedded Signup messages are accepted from this origin and from "
                       "https://*.facebook.com."),
        ),
        _meta_version,
    ),
    Provider.DIALOG360: ProviderSpec(
        "360dialog (Partner)",
        (
            Field("partner_id", "Partner ID", required=True, pattern=r"[A-Za-z0-9_-]{2,64}",
                  pattern_hint="Letters, digits, '-' and '_'.", identity=True),
            Field("api_key", "Partner API key", secret=True,
                  help="Recommended. Or use the legacy username and password below."),
            Field("username", "Legacy username (e-mail)"),
            Field("password", "Legacy password", secret=True),
            Field("api_base_url", "Partner API base URL", kind="url", required=True,
                  default="https://hub.360dialog.io/api/v2", hosts=("hub.360dialog.io",)),
            Field("hub_url", "Partner hub URL", kind="url", required=True,
                  default="https://hub.360dialog.com", hosts=("hub.360dialog.com",)),
            Field("waba_base_url", "Messaging API base URL", kind="url", required=True,
                  default="https://waba-v2.360dialog.io", hosts=("waba-v2.360dialog.io",)),
            Field("redirect_url", "Redirect URL", kind="url", required=True,
                  help="Where the hub sends the customer back after onboarding."),
            Field("webhook_url", "Partner webhook URL", kind="url"),
            Field("webhook_secret", "Webhook signing secret", secret=True,
                  help="Verifies x-360dialog-signature on partner webhooks."),
        ),
        _one_of(("api_key",), ("username", "password"),
                message="Give an API key, or a legacy username and password."),
    ),
    Provider.TWILIO: ProviderSpec(
        "Twilio (ISV master account)",
        (
            Field("account_sid", "Master account SID", required=True, identity=True,
                  pattern=r"AC[0-9a-fA-F]{32}", pattern_hint="AC followed by 32 hex digits."),
            Field("auth_token", "Auth token", secret=True,
                  help="Or use an API key SID and secret below."),
            Field("api_key_sid", "API key SID", pattern=r"SK[0-9a-fA-F]{32}",
                  pattern_hint="SK followed by 32 hex digits."),
            Field("api_key_secret", "API key secret", secret=True),
            Field("primary_customer_profile_sid", "ISV primary customer profile SID",
                  pattern=r"BU[0-9a-fA-F]{32}", pattern_hint="BU followed by 32 hex digits.",
                  help="The approved Primary Business Profile; blank: found automatically."),
            Field("api_base_url", "API base URL override", kind="url", hosts=(),
                  help="Leave blank for Twilio's own hosts."),
        ),
        _one_of(("auth_token",), ("api_key_sid", "api_key_secret"),
                message="Give the auth token, or an API key SID and secret."),
        hosts=("*.twilio.com",),
    ),
}  # fmt: skip


def production_hosts() -> frozenset[str]:
    """Every host a provider client may reach in production (before the allowlist)."""
    return frozenset(
        host
        for spec in PROVIDERS.values()
        for host in (*spec.hosts, *(h for f in spec.fields for h in f.hosts or ()))
    )


class PartnerConfiguration(Base):
    __tablename__ = "partner_configurations"
    __table_args__ = (UniqueConstraint("provider", "environment"),)

    id: Mapped[intpk]
    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    environment: Mapped[Environment] = mapped_column(enum_column(Environment))
    name: Mapped[str] = mapped_column(String(120))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets: Mapped[dict[str, str]] = mapped_column(
        EncryptedJSON("partner_configurations.secrets"), default=dict
    )
    # Bumped by every UPDATE of the row: webhooks keep its secrets per process and store
    # an event only while the row still has the version they verified with.
    version: Mapped[int] = mapped_column(
        default=1, server_default=text("1"), onupdate=text("version + 1")
    )
    last_checked_at: Mapped[dt.datetime | None]
    last_check_ok: Mapped[bool | None]
    last_check_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    @property
    def spec(self) -> ProviderSpec:
        return PROVIDERS[self.provider]

    def value(self, name: str) -> str:
        """A setting or secret by field name ('' when unset)."""
        field = self.spec.field(name)
        source = self.secrets if field.secret else self.settings
        return (source or {}).get(name) or ""

    def has_secret(self, name: str) -> bool:
        return bool((self.secrets or {}).get(name))


class ValidationFailed(DomainError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Please correct the highlighted fields.")
        self.errors = errors


def _merge(
    spec: ProviderSpec, values: dict[str, str], current: PartnerConfiguration | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Split submitted values into settings and secrets; a blank secret keeps the old one."""
    settings: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for field in spec.fields:
        value = (values.get(field.name) or "").strip()
        if field.secret:
            value = value or (current.value(field.name) if current else "")
            if value:
                secrets[field.name] = value
        else:
            settings[field.name] = value
    return settings, secrets


def _validate(
    session: Session,
    provider: Provider,
    environment: Environment,
    settings: dict[str, str],
    secrets: dict[str, str],
    current: PartnerConfiguration | None,
    outbound: OutboundPolicy,
) -> None:
    spec = PROVIDERS[provider]
    merged = settings | secrets
    errors = {f.name: message for f in spec.fields if (message := f.check(merged.get(f.name, "")))}
    for f in spec.fields:  # provider URLs: where the outbound guard would refuse to call
        value = merged.get(f.name)
        if f.hosts is None or not value or f.name in errors:
            continue
        if message := outbound.refusal(value, f.hosts):
            errors[f.name] = message
    for name, message in spec.check(merged).items():
        errors.setdefault(name, message)
    clash = session.scalars(
        select(PartnerConfiguration.id).where(
            PartnerConfiguration.provider == provider,
            PartnerConfiguration.environment == environment,
        )
    ).first()
    if clash is not None and (current is None or clash != current.id):
        errors["environment"] = f"A {spec.label} configuration for {environment} already exists."
    if errors:
        raise ValidationFailed(errors)


def create_configuration(
    session: Session,
    actor: audit.Actor,
    provider: Provider,
    environment: Environment,
    name: str,
    values: dict[str, str],
    *,
    outbound: OutboundPolicy = STRICT,
) -> PartnerConfiguration:
    """Save a new configuration; ``outbound`` judges its provider URLs (the portal's
    policy: production hosts, the sandbox it trusts)."""
    settings, secrets = _merge(PROVIDERS[provider], values, None)
    _validate(session, provider, environment, settings, secrets, None, outbound)
    config = PartnerConfiguration(
        provider=provider,
        environment=environment,
        name=name.strip() or PROVIDERS[provider].label,
        settings=settings,
        secrets=secrets,
    )
    try:
        with session.begin_nested():  # two saves at once: the second one is told, not a 500
            session.add(config)
            session.flush()
    except IntegrityError:
        _validate(session, provider, environment, settings, secrets, None, outbound)
        raise
    audit.record(
        session,
        actor,
        "partner_configuration.create",
        config,
        label=f"{config.name} ({environment})",
        provider=provider.value,
        settings=sorted(k for k, v in settings.items() if v),
        secrets_set=sorted(secrets),
    )
    return config


def update_configuration(
    session: Session,
    actor: audit.Actor,
    config: PartnerConfiguration,
    environment: Environment,
    name: str,
    values: dict[str, str],
    clear_secrets: tuple[str, ...] = (),
    *,
    outbound: OutboundPolicy = STRICT,
) -> PartnerConfiguration:
    """Apply an edit in place (the id stays, so whatever uses it follows); a blank secret
    keeps its value unless named in ``clear_secrets``. A configuration in use keeps its
    environment and the fields naming the provider account."""
    spec = config.spec
    settings, secrets = _merge(spec, values, config)
    for name_ in clear_secrets:
        secrets.pop(name_, None)
    _validate(session, config.provider, environment, settings, secrets, config, outbound)
    old_settings, old_secrets = dict(config.settings or {}), dict(config.secrets or {})
    changed = sorted(k for k in settings if settings[k] != old_settings.get(k, ""))
    secrets_changed = sorted(
        k for k in set(secrets) | set(old_secrets) if secrets.get(k) != old_secrets.get(k)
    )
    if environment != config.environment:
        changed.append("environment")
    _refuse_moving_in_use(session, config, changed)
    if name.strip() and name.strip() != config.name:
        changed.append("name")
    config.environment = environment
    config.name = name.strip() or config.name
    config.settings, config.secrets = settings, secrets
    audit.record(
        session,
        actor,
        # Secrets changed in place: every connected number uses the new ones from now on.
        "partner_configuration.rotate" if secrets_changed else "partner_configuration.update",
        config,
        label=f"{config.name} ({config.environment})",
        changed=changed,
        secrets_changed=secrets_changed,
    )
    return config


def _refuse_moving_in_use(
    session: Session, config: PartnerConfiguration, changed: list[str]
) -> None:
    """In use, the environment and the account's identity stay: moving them would leave
    every connected number pointing at a configuration that no longer reaches them."""
    fixed = {"environment"} | {f.name for f in config.spec.fields if f.identity}
    moved = [name for name in changed if name in fixed]
    if not moved:
        return
    from .partner_usage import usage

    used = usage(session, config)
    if used.in_use:
        message = (
            f"In use by {used.describe()}: this cannot change. Rotate secrets here; a "
            "different account needs a configuration of its own."
        )
        raise ValidationFailed(dict.fromkeys(moved, message))


class ConfigurationInUse(DomainError):
    """Deleting a configuration that rows still reference."""

    def __init__(self, config: PartnerConfiguration, described: str) -> None:
        super().__init__(
            f"{config.name} ({config.environment}) is in use by {described}. It cannot be "
            "deleted: rotate its credentials with Edit, or deactivate it."
        )


class ConfigurationUnavailable(DomainError):
    """The platform deactivated the configuration: nothing new goes through it."""

    def __init__(self, config: PartnerConfiguration) -> None:
        super().__init__(
            f"{config.spec.label} is paused by the platform for now: nothing can be "
            "connected or changed through it. Numbers already connected keep working."
        )


def lock(session: Session, config: PartnerConfiguration) -> None:
    """Hold the row until the transaction ends (PostgreSQL): an onboarding that references
    it waits, so what is counted now is still true at commit."""
    session.execute(
        select(PartnerConfiguration.id)
        .where(PartnerConfiguration.id == config.id)
        .with_for_update()
    )


def delete_configuration(
    session: Session, actor: audit.Actor, config: PartnerConfiguration
) -> None:
    """Delete a configuration nothing uses; one in use raises :class:`ConfigurationInUse`.

    The count runs under the row lock, and the foreign keys restrict the delete, so a row
    referencing it that arrives meanwhile makes the delete fail rather than be orphaned.
    """
    from .partner_usage import usage

    lock(session, config)
    used = usage(session, config)
    if used.in_use:
        raise ConfigurationInUse(config, used.describe())
    try:
        with session.begin_nested():
            audit.record(
                session,
                actor,
                "partner_configuration.delete",
                config,
                label=f"{config.name} ({config.environment})",
                provider=config.provider.value,
            )
            session.delete(config)
            session.flush()
    except IntegrityError:
        raise ConfigurationInUse(config, usage(session, config).describe()) from None


def deactivate_configuration(
    session: Session, actor: audit.Actor, config: PartnerConfiguration
) -> None:
    """Pause it: no new onboarding and no sync through it; webhooks are still taken."""
    from .partner_usage import usage

    used = usage(session, config)
    config.is_enabled = False
    audit.record(
        session, actor, "partner_configuration.deactivate", config,
        label=f"{config.name} ({config.environment})",
        companies=used.companies, accounts=used.accounts, numbers=used.numbers,
    )  # fmt: skip


def activate_configuration(
    session: Session, actor: audit.Actor, config: PartnerConfiguration
) -> None:
    config.is_enabled = True
    audit.record(
        session, actor, "partner_configuration.activate", config,
        label=f"{config.name} ({config.environment})",
    )  # fmt: skip


def require_active(config: PartnerConfiguration) -> PartnerConfiguration:
    if not config.is_enabled:
        raise ConfigurationUnavailable(config)
    return config


def unusable_reason(config: PartnerConfiguration | None) -> str | None:
    """Why background work may not use a configuration now (None when it may)."""
    if config is None:
        return "its partner configuration is gone"
    if not config.is_enabled:
        return f"the partner configuration {config.name} ({config.environment}) is deactivated"
    return None


def record_check(config: PartnerConfiguration, ok: bool, message: str, at: dt.datetime) -> None:
    config.last_checked_at, config.last_check_ok = at, ok
    config.last_check_message = message[:500]


def environment_configuration(
    session: Session, provider: Provider, environment: Environment
) -> PartnerConfiguration | None:
    """The configuration of ``provider`` in ``environment``, active or not."""
    return session.scalars(
        select(PartnerConfiguration).where(
            PartnerConfiguration.provider == provider,
            PartnerConfiguration.environment == environment,
        )
    ).one_or_none()


def active_configuration(
    session: Session, provider: Provider, environment: Environment
) -> PartnerConfiguration | None:
    """The configuration companies onboard through, if there is one and it is active."""
    config = environment_configuration(session, provider, environment)
    return config if config is not None and config.is_enabled else None
