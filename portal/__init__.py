"""The web layer: ``create_app`` wires configuration, extensions and blueprints."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from provisioning import crypto, models  # noqa: F401 (registers every table)
from provisioning.db import configure_sqlite

from . import config as portal_config
from .extensions import csrf, db, login_manager, migrate

PACKAGE = Path(__file__).resolve().parent
# An installed wheel carries templates/ and migrations/ inside the package (setup.py);
# a source tree (and an editable install of it) keeps them at its top.
INSTALLED = (PACKAGE / "templates").is_dir()
ROOT = PACKAGE if INSTALLED else PACKAGE.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the portal. ``overrides`` win over the environment (tests use them)."""
    # The instance folder: ``instance/`` in a source tree; Flask's default for an
    # installed package (``<prefix>/var/portal-instance``), never inside site-packages.
    instance = (overrides or {}).get("INSTANCE_PATH") or (None if INSTALLED else ROOT / "instance")
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(instance) if instance else None,
    )
    app.config.update(portal_config.load(Path(app.instance_path), overrides))
    register_logging(app)
    register_webhook_fast_lane(app)
    register_observability(app)
    register_extensions(app)
    register_proxy_fix(app)
    register_security_headers(app)
    register_input_checks(app)
    register_blueprints(app)
    register_errors(app)
    register_cli(app)
    register_template_helpers(app)
    register_jobs(app)
    return app


def register_logging(app: Flask) -> None:
    from .observability import register_logging as register_structured_logging

    register_structured_logging(app)  # JSON lines in production (docs/observability.md)
    # httpx logs full request URLs at INFO; ours are logged redacted by provisioning.http.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from .log_redaction import register as register_log_redaction

    register_log_redaction(app)  # request logs: webhook tokens in paths masked


def register_webhook_fast_lane(app: Flask) -> None:
    from .webhooks.ingest import install

    install(app)  # inside the observability middleware: counted and given a request id


def register_observability(app: Flask) -> None:
    from .observability import register

    register(app)  # request ids and metrics first: they see every request; GET /metrics


def register_extensions(app: Flask) -> None:
    crypto.use_keyring(app.config["KEYRING"])
    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    from .auth.session import load_user

    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"


def register_proxy_fix(app: Flask) -> None:
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def register_security_headers(app: Flask) -> None:
    from .security_headers import register

    register(app)


def register_input_checks(app: Flask) -> None:
    from .input_checks import register

    register(app)  # before the blueprints: their id rules take its converter


def register_blueprints(app: Flask) -> None:
    from . import access
    from .admin.dialog360 import bp as admin_dialog360_bp
    from .admin.events import bp as admin_events_bp
    from .admin.routes import bp as admin_bp
    from .admin.twilio import bp as admin_twilio_bp
    from .api_keys.events import bp as event_endpoints_bp
    from .api_keys.routes import bp as api_keys_bp
    from .auth.account import bp as account_bp
    from .auth.reset import bp as password_reset_bp
    from .auth.routes import bp as auth_bp
    from .company.routes import bp as company_bp
    from .fleet.routes import bp as fleet_bp
    from .health import bp as health_bp
    from .hosted.manage import bp as onboarding_links_bp
    from .hosted.routes import bp as hosted_bp
    from .invitations.routes import bp as invitations_bp
    from .message_templates.routes import bp as templates_bp
    from .notifications.routes import bp as notifications_bp
    from .numbers.coexistence import bp as number_coexistence_bp
    from .numbers.profile import bp as number_profile_bp
    from .numbers.routes import bp as numbers_bp
    from .offboarding.routes import bp as offboarding_bp
    from .onboarding.returns import bp as return_bp
    from .onboarding.routes import bp as onboarding_bp
    from .sandbox_admin.routes import bp as sandbox_bp
    from .twilio.a2p import bp as a2p_bp
    from .twilio.regulatory import bp as regulatory_bp
    from .twilio.routes import bp as twilio_bp
    from .twilio.senders import bp as senders_bp
    from .twilio.tollfree import bp as tollfree_bp
    from .webhooks.routes import bp as webhooks_bp

    blueprints = (
        auth_bp,
        account_bp,
        password_reset_bp,
        health_bp,
        admin_bp,
        admin_dialog360_bp,
        admin_events_bp,
        admin_twilio_bp,
        company_bp,
        onboarding_bp,
        onboarding_links_bp,
        hosted_bp,
        return_bp,
        sandbox_bp,
        twilio_bp,
        senders_bp,
        a2p_bp,
        tollfree_bp,
        regulatory_bp,
        templates_bp,
        numbers_bp,
        offboarding_bp,
        number_profile_bp,
        number_coexistence_bp,
        webhooks_bp,
        fleet_bp,
        notifications_bp,
        invitations_bp,
        api_keys_bp,
        event_endpoints_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    from .api import register as register_api

    register_api(app)  # /api/v1 (docs/api.md)
    from .demo_events import register as register_demo_events

    register_demo_events(app)  # outside production: the demo's events receiver
    access.mark_method_views(app)
    access.enforce_markers(app)


def register_errors(app: Flask) -> None:
    from .errors import register

    register(app)


def register_cli(app: Flask) -> None:
    from .cli import register

    register(app)


def register_jobs(app: Flask) -> None:
    from .jobs import install

    install(app)  # every job is listed in portal/jobs/catalog.py


def register_template_helpers(app: Flask) -> None:
    from .templating import register

    register(app)
