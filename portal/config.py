"""Configuration: defaults -> environment -> overrides (tests), as one typed model.

:class:`Settings` reads every variable documented in the README's configuration
reference from the environment; overrides given to ``create_app`` under the same names
are validated the same way, and a bad value stops the start with a message naming the
variable and what is wrong with it. Production has no default for a secret: a missing
one stops the start with a message naming it; debug mode, the provider sandbox and a
weak ``SECRET_KEY`` stop it too (``portal/production.py``). Development and demo
generate the secret key and the keyring on first start and keep them in the instance
folder.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse_many
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from provisioning.crypto import Keyring, KeyringError

from . import production as production_mode

MODES = ("development", "demo", "production")
JOB_RUNNERS = ("inprocess", "celery", "manual")
LOG_FORMATS = ("json", "console")
MIN_METRICS_TOKEN = 24
HSTS_DEFAULT = 2 * 365 * 86400  # two years, what hstspreload.org recommends
# Connections older than this are replaced at checkout (idle timeouts of firewalls and
# poolers); no pre-ping round trip on every checkout: a connection found dead
# invalidates the pool and the job layer retries what it interrupted.
POOL_RECYCLE_SECONDS = 1800

# Where rate limit counts may live (limits' storage URLs): one process, or shared by all.
RATELIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+sentinel", "redis+cluster", "memcached")

HOST_PATTERN = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")


class ConfigError(RuntimeError):
    """The environment does not allow the portal to start; the message says why."""


def database_url(raw: str | None, instance_path: Path) -> str:
    if not raw:
        return f"sqlite:///{instance_path / 'portal.db'}"
    # psycopg 3 is the PostgreSQL driver; accept the usual spellings of the URL.
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def host_allowlist(raw: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``PROVIDER_URL_ALLOWLIST``: host names (``*.example.com`` for its subdomains)."""
    items = re.split(r"[\s,]+", raw) if isinstance(raw, str) else list(raw or ())
    hosts = tuple(item.strip().lower() for item in items if item.strip())
    for host in hosts:
        if not HOST_PATTERN.fullmatch(host):
            raise ValueError(
                f"{host!r} is not a host name (no scheme, port or path; '*.example.com' "
                "allows its subdomains)"
            )
    return hosts


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number of seconds, not {value!r}") from None
    if math.isnan(seconds):
        raise ValueError(f"must be a number of seconds, not {value!r}")
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def _more_than_zero(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be more than 0")
    return seconds


def _bytes(value: Any) -> int:
    text = str(value).strip()
    if not text.isdecimal() or not text.isascii() or int(text) <= 0:
        raise ValueError(f"must be a positive number of bytes, not {value!r}")
    return int(text)


def _rate_limit(value: Any) -> str:
    """One rate limit in the notation of ``limits``: ``600 per minute``, ``10/second``."""
    try:
        items = parse_many(str(value))
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ValueError(f"must be one rate limit like '600 per minute', not {value!r}")
    return str(value).strip()


def _storage_url(value: str) -> str:
    scheme = value.partition("://")[0]
    if "://" not in value or scheme not in RATELIMIT_SCHEMES:
        raise ValueError(f"must be a URL of {', '.join(s + '://' for s in RATELIMIT_SCHEMES)}")
    return value


def _token(value: str) -> str:
    if len(value) < MIN_METRICS_TOKEN:
        raise ValueError(f"must be at least {MIN_METRICS_TOKEN} characters")
    return value


def _flag(value: Any) -> Any:
    """The spellings of on and off people write; anything else is refused."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"must be on or off (1/0, true/false, yes/no), not {value!r}")
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]
PositiveSeconds = Annotated[float, BeforeValidator(_seconds), AfterValidator(_more_than_zero)]
Bytes = Annotated[int, BeforeValidator(_bytes)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Hosts = Annotated[tuple[str, ...], NoDecode, BeforeValidator(host_allowlist)]
RateLimit = Annotated[str, BeforeValidator(_rate_limit)]


class Settings(BaseSettings):
    """Every environment variable the portal reads, typed, with its default.

    Field names are the variables' names (in any case). Defaults that depend on the
    mode (``None`` here) are settled from ``PORTAL_ENV`` once the values are read.
    """

    model_config = SettingsConfigDict(
        case_sensitive=False, env_ignore_empty=True, extra="ignore", validate_default=True
    )

    portal_env: Literal["development", "demo", "production"] = "development"
    database_url: str | None = None
    secret_key: str | None = None
    encryption_keys: str | None = None
    encryption_keyring_file: str | None = None
    # production in production, else the sandbox
    provider_environment: Literal["sandbox", "production"] | None = None
    public_base_url: str = "http://127.0.0.1:5000"
    sandbox_url: str = "http://127.0.0.1:5001"
    proxy_fix_hops: Annotated[int, Field(ge=0)] = 0
    log_level: str = "INFO"
    # json (one object per line) | console (for people); docs/observability.md
    log_format: Literal["json", "console"] | None = None  # json in production
    # a scraper of GET /metrics sends it as a bearer token (docs/observability.md)
    metrics_token: Annotated[str, AfterValidator(_token)] | None = None
    session_cookie_secure: Flag | None = None  # on in production
    # a sign-in lasts at most this long, and ends after this long without a request
    session_lifetime_seconds: PositiveSeconds = 12 * 3600.0
    session_idle_seconds: PositiveSeconds = 30 * 60.0
    # deleting old sign-in data (throttle counters, sessions, reset links); 0: never
    auth_purge_seconds: Seconds = 3600.0
    # production: provider URLs may name these hosts besides the providers' own
    provider_url_allowlist: Hosts = ()
    # larger request bodies are refused with 413 before they are read
    max_content_length: Bytes = 1024 * 1024
    # inprocess (threads) | celery (workers; the default with a broker) | manual (tests)
    job_runner: Literal["inprocess", "celery", "manual"] | None = None
    celery_broker_url: str | None = None
    job_queue_prefix: str = ""  # two portals on one Redis
    broker_timeout_seconds: PositiveSeconds = 5.0
    job_poll_seconds: PositiveSeconds = 5.0
    quality_sync_interval_seconds: Seconds = 3600.0
    # every template account listed again (webhooks keep templates current in between)
    template_sync_interval_seconds: Seconds = 21600.0
    tollfree_poll_seconds: Seconds = 900.0  # toll-free verifications in review
    # a WABA named by Meta webhooks is listed again at most once per this interval
    meta_refresh_seconds: Seconds = 30.0
    run_lease_seconds: PositiveSeconds = 300.0
    smtp_url: str | None = None  # alert emails; none: the portal list only
    # the platform API's limits per API key (docs/api.md); credentials reads count twice
    api_rate_limit: RateLimit = "600 per minute"
    api_credentials_rate_limit: RateLimit = "60 per minute"
    # where the counts live: memory:// (each process counts alone) or a Redis all share;
    # none: the Celery broker's Redis when there is one, else memory://
    ratelimit_storage_url: Annotated[str, AfterValidator(_storage_url)] | None = None
    mail_from: str = "alerts@localhost"
    # security headers (portal/security_headers.py)
    hsts_seconds: Seconds | None = None  # two years in production, else none
    csp_report_uri: str | None = None

    @model_validator(mode="after")
    def _settle(self) -> Settings:
        production = self.portal_env == "production"
        if self.provider_environment is None:
            self.provider_environment = "production" if production else "sandbox"
        if self.session_cookie_secure is None:
            self.session_cookie_secure = production
        if self.log_format is None:
            self.log_format = "json" if production else "console"
        if self.hsts_seconds is None:
            self.hsts_seconds = HSTS_DEFAULT if production else 0
        self.celery_broker_url = self.celery_broker_url or None
        if self.job_runner is None:
            self.job_runner = "celery" if self.celery_broker_url else "inprocess"
        if self.job_runner == "celery" and not self.celery_broker_url:
            raise ValueError("JOB_RUNNER=celery needs CELERY_BROKER_URL (redis://host:6379/0)")
        if self.ratelimit_storage_url is None:
            broker = self.celery_broker_url or ""
            redis = broker.startswith(("redis://", "rediss://"))
            self.ratelimit_storage_url = broker if redis else "memory://"
        return self

    def flask_config(self, instance_path: Path) -> dict[str, Any]:
        """The Flask config these settings make."""
        secure = bool(self.session_cookie_secure)
        return {
            "PORTAL_ENV": self.portal_env,
            "SQLALCHEMY_DATABASE_URI": database_url(self.database_url, instance_path),
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": POOL_RECYCLE_SECONDS},
            "SECRET_KEY": self.secret_key,
            "ENCRYPTION_KEYS": self.encryption_keys,
            "ENCRYPTION_KEYRING_FILE": self.encryption_keyring_file,
            "PROVIDER_ENVIRONMENT": self.provider_environment,
            "PUBLIC_BASE_URL": self.public_base_url,
            "SANDBOX_URL": self.sandbox_url,
            "PROXY_FIX_HOPS": self.proxy_fix_hops,
            "LOG_LEVEL": self.log_level,
            "LOG_FORMAT": self.log_format,
            "METRICS_TOKEN": self.metrics_token,
            "SESSION_COOKIE_NAME": "portal_session",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": secure,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_SECURE": secure,
            "PERMANENT_SESSION_LIFETIME": self.session_lifetime_seconds,
            "SESSION_IDLE_SECONDS": self.session_idle_seconds,
            "AUTH_PURGE_SECONDS": self.auth_purge_seconds,
            "WTF_CSRF_TIME_LIMIT": 3600 * 8,
            "PROVIDER_TRANSPORT": None,  # tests inject the sandbox's httpx transport here
            "PROVIDER_URL_ALLOWLIST": self.provider_url_allowlist,
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "JOB_RUNNER": self.job_runner,
            "CELERY_BROKER_URL": self.celery_broker_url,
            "CELERY": {},  # extra Celery settings
            "JOB_QUEUE_PREFIX": self.job_queue_prefix,
            "BROKER_TIMEOUT_SECONDS": self.broker_timeout_seconds,
            "JOB_POLL_SECONDS": self.job_poll_seconds,
            "QUALITY_SYNC_INTERVAL_SECONDS": self.quality_sync_interval_seconds,
            "TEMPLATE_SYNC_INTERVAL_SECONDS": self.template_sync_interval_seconds,
            "TOLLFREE_POLL_SECONDS": self.tollfree_poll_seconds,
            "META_REFRESH_SECONDS": self.meta_refresh_seconds,
            "RUN_LEASE_SECONDS": self.run_lease_seconds,
            "SMTP_URL": self.smtp_url or None,
            "API_RATE_LIMIT": self.api_rate_limit,
            "API_CREDENTIALS_RATE_LIMIT": self.api_credentials_rate_limit,
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_url,
            "MAIL_FROM": self.mail_from,
            "HSTS_SECONDS": int(self.hsts_seconds or 0),
            "CSP_REPORT_URI": self.csp_report_uri or None,
        }


def read_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """The settings from the environment, with ``overrides`` (same names) on top."""
    given = {
        name.lower(): value
        for name, value in (overrides or {}).items()
        if name.lower() in Settings.model_fields
    }
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError("; ".join(_explain(error) for error in exc.errors())) from None


def _explain(error: ErrorDetails) -> str:
    """One line naming the variable and what is wrong (never echoing a secret)."""
    name = str(error["loc"][0]).upper() if error["loc"] else ""
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error":
        message = str(ctx.get("error", error["msg"]))
    elif error["type"] == "literal_error":
        message = f"must be one of {ctx.get('expected', '')}, not {error['input']!r}"
    else:  # pydantic's own words, without the value (it may be a secret)
        message = ": " + error["msg"][0].lower() + error["msg"][1:]
        return f"{name}{message}"
    return f"{name} {message}" if name else message


def load(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from defaults, the environment and overrides."""
    overrides = dict(overrides or {})
    settings = read_settings(overrides)
    production = settings.portal_env == "production"
    config = settings.flask_config(instance_path)
    config.update({k: v for k, v in overrides.items() if k.lower() not in Settings.model_fields})
    lifetime = config["PERMANENT_SESSION_LIFETIME"]
    if isinstance(lifetime, dt.timedelta):
        lifetime = lifetime.total_seconds()
    if lifetime <= 0:
        raise ConfigError("PERMANENT_SESSION_LIFETIME must be more than 0")
    if not config["SECRET_KEY"]:
        if production:
            raise ConfigError("SECRET_KEY is not set: production needs a long random value")
        config["SECRET_KEY"] = _persisted_secret(instance_path / "secret_key")
    if production and (refusals := production_mode.refusals(config)):
        raise ConfigError("production refuses to start: " + "; ".join(refusals))
    config["KEYRING"] = config.get("KEYRING") or _keyring(config, instance_path, production)
    return config


def _persisted_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _keyring(config: dict[str, Any], instance_path: Path, production: bool) -> Keyring:
    try:
        if config["ENCRYPTION_KEYS"]:
            return Keyring.from_env_value(config["ENCRYPTION_KEYS"])
        if config["ENCRYPTION_KEYRING_FILE"]:
            return Keyring.load(Path(config["ENCRYPTION_KEYRING_FILE"]))
        if production:
            raise ConfigError(
                "ENCRYPTION_KEYS is not set: production needs the encryption keyring "
                "(or ENCRYPTION_KEYRING_FILE naming a keyring file)"
            )
        instance_path.mkdir(parents=True, exist_ok=True)
        return Keyring.load_or_create(instance_path / "keyring.json")
    except KeyringError as exc:
        raise ConfigError(str(exc)) from exc
