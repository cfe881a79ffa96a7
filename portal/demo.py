"""``flask demo``: a demo database, and the portal with the provider sandbox beside it."""

from __future__ import annotations

import os

import click
import httpx
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask.globals import app_ctx
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.serving import run_simple

from provisioning import accounts, companies, partners, platform_events
from provisioning.audit import SYSTEM
from provisioning.partners import Environment, Provider
from provisioning.platform_events import EventEndpoint
from provisioning.tenancy import Role

from .extensions import db
from .providers import outbound_policy


@click.group("demo", cls=AppGroup)
@with_appcontext
def demo() -> None:
    """Demo mode: sample data and the provider sandbox (refused in production)."""
    if current_app.config["PORTAL_ENV"] == "production":
        raise click.ClickException(
            "demo commands are refused in production: they create a platform admin with "
            "the published demo password and start the provider sandbox, whose control API "
            "takes no authentication. Create admins with 'flask admins create'."
        )


DEMO_PASSWORD = "demo-password-2026"
ADMIN_EMAIL = "admin@demo.example"
DEMO_RECEIVER = "The demo's events receiver (/demo/events)"
COMPANY_USERS = {
    "Acme Retail": [("owner@acme.example", Role.ADMIN), ("agent@acme.example", Role.MEMBER)],
    "Globex Logistics": [("owner@globex.example", Role.ADMIN)],
}
# The sandbox is seeded with the same partner credentials (see seed_sandbox).
META_APP = {"app_id": "1000000000001", "app_secret": "demo-meta-app-secret"}
META_CONFIG_ID = "2000000000002"
META_VERIFY_TOKEN = "demo-meta-verify-token"
D360_PARTNER = {"partner_id": "demoPA", "api_key": "demo-360-partner-key"}
D360_WEBHOOK_SECRET = "demo-360-webhook-secret"
TWILIO_MASTER = {"account_sid": "AC" + "d" * 32, "auth_token": "demo-twilio-auth-token"}


def partner_values(sandbox_url: str, public_url: str) -> dict[Provider, dict[str, str]]:
    """Partner configurations that point every provider at the sandbox."""
    return {
        Provider.META: {
            **META_APP,
            "config_id": META_CONFIG_ID,
            "graph_api_version": "v25.0",
            "webhook_verify_token": META_VERIFY_TOKEN,
            "graph_base_url": f"{sandbox_url}/meta/graph",
            "sdk_url": f"{sandbox_url}/meta/connect/en_US/sdk.js",
            "dialog_origin": sandbox_url,
            "twilio_partner_solution_id": "SOL" + "0" * 29,
        },
        Provider.DIALOG360: {
            **D360_PARTNER,
            "api_base_url": f"{sandbox_url}/dialog360/hub/api/v2",
            "hub_url": f"{sandbox_url}/dialog360/hub-ui",
            "waba_base_url": f"{sandbox_url}/dialog360/waba",
            "redirect_url": f"{public_url}/onboarding/360dialog/return",
            "webhook_url": f"{public_url}/webhooks/360dialog",
            "webhook_secret": D360_WEBHOOK_SECRET,
        },
        Provider.TWILIO: {**TWILIO_MASTER, "api_base_url": f"{sandbox_url}/twilio"},
    }


def seed_database(sandbox_url: str, public_url: str) -> bool:
    """Create the demo admin, companies, users and partner configurations once.

    On a later start the demo configurations are pointed at ``sandbox_url`` and
    ``public_url`` again when those moved (another port), so every flow keeps working.
    Always ends its transaction: a long-running command must not keep one open.
    """
    try:
        if accounts.find_user(db.session, ADMIN_EMAIL) is not None:
            _point_configurations_at(sandbox_url, public_url)
            _events_endpoint_at(public_url)
            db.session.commit()
            return False
        accounts.create_user(
            db.session, SYSTEM, ADMIN_EMAIL, name="Demo Admin", password=DEMO_PASSWORD,
            platform_admin=True,
        )  # fmt: skip
        for name, users in COMPANY_USERS.items():
            company = companies.create_company(db.session, SYSTEM, name, is_demo=True)
            for email, role in users:
                user = accounts.create_user(db.session, SYSTEM, email, password=DEMO_PASSWORD)
                accounts.set_membership(db.session, SYSTEM, user, company, role)
        for provider, values in partner_values(sandbox_url, public_url).items():
            partners.create_configuration(
                db.session, SYSTEM, provider, Environment.SANDBOX, "", values,
                outbound=outbound_policy(sandbox_url),
            )  # fmt: skip
        _events_endpoint_at(public_url)
        db.session.commit()
        return True
    finally:
        db.session.remove()


def _point_configurations_at(sandbox_url: str, public_url: str) -> None:
    """Update the sandbox configurations whose URLs differ from this start's."""
    for provider, values in partner_values(sandbox_url, public_url).items():
        config = partners.active_configuration(db.session, provider, Environment.SANDBOX)
        if config is None:
            continue
        settings = dict(config.settings or {})
        moved = {k: v for k, v in values.items() if k in settings and settings[k] != v}
        if moved:
            values = {**settings, **moved}
            partners.update_configuration(
                db.session, SYSTEM, config, config.environment, config.name, values,
                outbound=outbound_policy(sandbox_url),
            )  # fmt: skip


def _events_endpoint_at(public_url: str) -> None:
    """The demo's events receiver (portal/demo_events.py), registered as an endpoint of
    every event, the relayed messages too (they go only to endpoints that name them); a
    start on another port moves it."""
    from .demo_events import receiver_url

    url = receiver_url(public_url)
    every = sorted(platform_events.CATALOG)
    ours = db.session.scalars(
        select(EventEndpoint).where(EventEndpoint.description == DEMO_RECEIVER)
    ).first()
    if ours is None:
        platform_events.add_endpoint(
            db.session, SYSTEM, url, check_url=lambda _url: None, description=DEMO_RECEIVER,
            event_types=every,
        )  # fmt: skip
        return
    if ours.url != url:
        ours.url = url
    if ours.event_types != every:
        ours.event_types = every


def demo_urls(host: str, port: int, sandbox_port: int) -> tuple[str, str]:
    """(portal URL, sandbox URL) for servers on ``host``; the environment's
    PUBLIC_BASE_URL / SANDBOX_URL win (a proxy or a port mapping in front)."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return (
        os.environ.get("PUBLIC_BASE_URL") or f"http://{reachable}:{port}",
        os.environ.get("SANDBOX_URL") or f"http://{reachable}:{sandbox_port}",
    )


def print_logins() -> None:
    click.echo(f"\n  Demo logins (password for all: {DEMO_PASSWORD})")
    click.echo(f"    platform admin   {ADMIN_EMAIL}")
    for name, users in COMPANY_USERS.items():
        for email, role in users:
            click.echo(f"    {role.label:<16} {email}  ({name})")
    click.echo("")


@demo.command("seed")
def seed() -> None:
    """Migrate the database and add the demo data (once)."""
    upgrade()
    created = seed_database(
        current_app.config["SANDBOX_URL"], current_app.config["PUBLIC_BASE_URL"]
    )
    click.echo("Demo data created." if created else "Demo data already present.")
    print_logins()


@demo.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, envvar="PORT", show_default=True, help="Portal port.")
@click.option("--sandbox-port", default=5001, envvar="SANDBOX_PORT", show_default=True)
def run(host: str, port: int, sandbox_port: int) -> None:
    """Seed if needed, start the provider sandbox, and serve the portal."""
    from provisioning.sandbox import Sandbox
    from provisioning.sandbox.server import serve

    from .sandbox_seed import seed_sandbox, speed_up_for_a_live_demo

    public_url, sandbox_url = demo_urls(host, port, sandbox_port)
    app = app_ctx.app  # the application itself: werkzeug serves it from other threads
    app.config.update(PUBLIC_BASE_URL=public_url, SANDBOX_URL=sandbox_url)
    upgrade()
    seed_database(sandbox_url, public_url)
    # the sandbox's webhooks reach the portal over the network, at PUBLIC_BASE_URL
    sandbox = Sandbox(seed=2026, base_url=sandbox_url, outbound_transport=httpx.HTTPTransport())
    seed_sandbox(sandbox, public_url)
    speed_up_for_a_live_demo(sandbox)
    serve(sandbox, host, sandbox_port)
    app.extensions["job_runner"].start_poller()
    click.echo(f"\n  Provider sandbox: {sandbox_url}")
    click.echo(f"  Portal:           {public_url}")
    print_logins()
    # app.run() is a no-op inside the flask CLI; serve with werkzeug directly.
    run_simple(host, port, app, threaded=True)
