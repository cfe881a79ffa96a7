"""Configuration: defaults -> environment -> overrides (tests).

Every variable read here is documented in the README's configuration reference.
Production has no default for a secret: a missing one stops the start with a message
naming it; debug mode, the provider sandbox and a weak ``SECRET_KEY`` stop it too
(``portal/production.py``). Development and demo generate the secret key and the keyring
on first start and keep them in the instance folder.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from pathlib import Path
from typing import Any

from provisioning.crypto import Keyring, KeyringError

from . import production as production_mode

MODES = ("development", "demo", "production")


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


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


JOB_RUNNERS = ("inprocess", "celery", "manual")
LOG_FORMATS = ("json", "console")
MIN_METRICS_TOKEN = 24
HSTS_DEFAULT = 2 * 365 * 86400  # two years, what hstspreload.org recommends


HOST_PATTERN = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")


def host_allowlist(raw: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``PROVIDER_URL_ALLOWLIST``: host names (``*.example.com`` for its subdomains)."""
    items = re.split(r"[\s,]+", raw) if isinstance(raw, str) else list(raw or ())
    hosts = tuple(item.strip().lower() for item in items if item.strip())
    for host in hosts:
        if not HOST_PATTERN.fullmatch(host):
            raise ConfigError(
                f"PROVIDER_URL_ALLOWLIST: {host!r} is not a host name (no scheme, port or "
                "path; '*.example.com' allows its subdomains)"
            )
    return hosts


def _env_bytes(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    if not raw.strip().isdigit() or int(raw) <= 0:
        raise ConfigError(f"{name} must be a positive number of bytes, not {raw!r}")
    return int(raw)


def load(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from defaults, the environment and overrides."""
    overrides = dict(overrides or {})
    env = os.environ
    mode = overrides.get("PORTAL_ENV") or env.get("PORTAL_ENV", "development")
    if mode not in MODES:
        raise ConfigError(f"PORTAL_ENV must be one of {', '.join(MODES)}, not {mode!r}")
    production = mode == "production"
    config: dict[str, Any] = {
        "PORTAL_ENV": mode,
        "SQLALCHEMY_DATABASE_URI": database_url(env.get("DATABASE_URL"), instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {},  # no pre-ping per checkout (a lost one fails once)
        "SECRET_KEY": env.get("SECRET_KEY"),
        "ENCRYPTION_KEYS": env.get("ENCRYPTION_KEYS"),
        "ENCRYPTION_KEYRING_FILE": env.get("ENCRYPTION_KEYRING_FILE"),
        "PROVIDER_ENVIRONMENT": env.get(
            "PROVIDER_ENVIRONMENT", "production" if production else "sandbox"
        ),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "SANDBOX_URL": env.get("SANDBOX_URL", "http://127.0.0.1:5001"),
        "PROXY_FIX_HOPS": int(env.get("PROXY_FIX_HOPS", "0")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # json (one object per line) | console (for people); docs/observability.md
        "LOG_FORMAT": env.get("LOG_FORMAT") or ("json" if production else "console"),
        # a scraper of GET /metrics sends it as a bearer token (docs/observability.md)
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "SESSION_COOKIE_NAME": "portal_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_flag("SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _env_flag("SESSION_COOKIE_SECURE", production),
        # a sign-in lasts at most this long, and ends after this long without a request
        "PERMANENT_SESSION_LIFETIME": _env_seconds("SESSION_LIFETIME_SECONDS", 12 * 3600.0),
        "SESSION_IDLE_SECONDS": _env_seconds("SESSION_IDLE_SECONDS", 30 * 60.0),
        # deleting old sign-in data (throttle counters, sessions, reset links); 0: never
        "AUTH_PURGE_SECONDS": _env_seconds("AUTH_PURGE_SECONDS", 3600.0),
        "WTF_CSRF_TIME_LIMIT": 3600 * 8,
        "PROVIDER_TRANSPORT": None,  # tests inject the sandbox's httpx transport here
        # production: provider URLs may name these hosts besides the providers' own
        "PROVIDER_URL_ALLOWLIST": env.get("PROVIDER_URL_ALLOWLIST", ""),
        # larger request bodies are refused with 413 before they are read
        "MAX_CONTENT_LENGTH": _env_bytes("MAX_CONTENT_LENGTH", 1024 * 1024),
        # inprocess (threads) | celery (workers; the default with a broker) | manual (tests)
        "JOB_RUNNER": env.get("JOB_RUNNER"),
        "CELERY_BROKER_URL": env.get("CELERY_BROKER_URL") or None,
        "CELERY": {},  # extra Celery settings
        "JOB_QUEUE_PREFIX": env.get("JOB_QUEUE_PREFIX", ""),  # two portals on one Redis
        "BROKER_TIMEOUT_SECONDS": _env_seconds("BROKER_TIMEOUT_SECONDS", 5.0),
        "JOB_POLL_SECONDS": _env_seconds("JOB_POLL_SECONDS", 5.0),
        "QUALITY_SYNC_INTERVAL_SECONDS": _env_seconds("QUALITY_SYNC_INTERVAL_SECONDS", 3600.0),
        # a WABA named by Meta webhooks is listed again at most once per this interval
        "META_REFRESH_SECONDS": _env_seconds("META_REFRESH_SECONDS", 30.0),
        "RUN_LEASE_SECONDS": _env_seconds("RUN_LEASE_SECONDS", 300.0),
        "SMTP_URL": env.get("SMTP_URL") or None,  # alert emails; none: the portal list only
        "MAIL_FROM": env.get("MAIL_FROM", "alerts@localhost"),
        # security headers (portal/security_headers.py)
        "HSTS_SECONDS": int(_env_seconds("HSTS_SECONDS", HSTS_DEFAULT if production else 0)),
        "CSP_REPORT_URI": env.get("CSP_REPORT_URI") or None,
    }
    config.update(overrides)
    config["PROVIDER_URL_ALLOWLIST"] = host_allowlist(config["PROVIDER_URL_ALLOWLIST"])
    if config["PROVIDER_ENVIRONMENT"] not in {"sandbox", "production"}:
        raise ConfigError("PROVIDER_ENVIRONMENT must be 'sandbox' or 'production'")
    if not config["JOB_RUNNER"]:
        config["JOB_RUNNER"] = "celery" if config["CELERY_BROKER_URL"] else "inprocess"
    if config["JOB_RUNNER"] not in JOB_RUNNERS:
        raise ConfigError(f"JOB_RUNNER must be one of {', '.join(JOB_RUNNERS)}")
    if config["JOB_RUNNER"] == "celery" and not config["CELERY_BROKER_URL"]:
        raise ConfigError("JOB_RUNNER=celery needs CELERY_BROKER_URL (redis://host:6379/0)")
    if config["JOB_POLL_SECONDS"] <= 0:
        raise ConfigError("JOB_POLL_SECONDS must be more than 0")
    if config["RUN_LEASE_SECONDS"] <= 0:
        raise ConfigError("RUN_LEASE_SECONDS must be more than 0")
    if config["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    if config["METRICS_TOKEN"] and len(config["METRICS_TOKEN"]) < MIN_METRICS_TOKEN:
        raise ConfigError(f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters")
    if config["BROKER_TIMEOUT_SECONDS"] <= 0:
        raise ConfigError("BROKER_TIMEOUT_SECONDS must be more than 0")
    lifetime = config["PERMANENT_SESSION_LIFETIME"]
    if isinstance(lifetime, dt.timedelta):
        lifetime = lifetime.total_seconds()
    if lifetime <= 0 or config["SESSION_IDLE_SECONDS"] <= 0:
        raise ConfigError("SESSION_LIFETIME_SECONDS and SESSION_IDLE_SECONDS must be more than 0")
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
