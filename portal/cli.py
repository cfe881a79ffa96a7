"""Flask commands: ``admins``, ``keys``, ``demo`` (``db`` comes from Flask-Migrate)."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from provisioning import accounts, crypto
from provisioning.audit import SYSTEM
from provisioning.errors import DomainError
from provisioning.partners import Provider

from .extensions import db

admins = AppGroup("admins", help="Platform admins.")
keys = AppGroup("keys", help="The encryption keyring for secrets at rest.")
jobs_cli = AppGroup("jobs", help="Background jobs: runs, webhooks, sweeps, syncs.")
sync_cli = AppGroup("sync", help="The quality sync of every channel's health.")


@jobs_cli.command("work")
@click.option("--workers", default=2, show_default=True, help="Threads running jobs.")
@click.option(
    "--poll",
    type=float,
    default=None,
    help="Seconds between due-run scans (default: JOB_POLL_SECONDS).",
)
def jobs_work(workers: int, poll: float | None) -> None:
    """Run jobs in this process until interrupted (resumes unfinished runs at start)."""
    import time

    from .jobs import InProcessRunner

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxied app
    runner = InProcessRunner.install(app, workers, poll)
    runner.start_poller()
    click.echo(f"Running jobs with {workers} worker(s); Ctrl+C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        runner.stop()


class InputError(click.UsageError):
    """Bad input to a command: a clear message on standard error, exit code 2."""


@admins.command("create")
@click.argument("email")
@click.option("--name", default="", help="The admin's display name.")
def admins_create(email: str, name: str) -> None:
    """Create a platform admin; the password is read from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("no password on standard input: pipe one in (see --help)")
    try:
        user = accounts.create_user(
            db.session, SYSTEM, email, name=name, password=password, platform_admin=True
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise InputError(str(exc)) from exc
    click.echo(f"Platform admin {user.email} created.")


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new primary key to the keyring file and re-encrypt every stored secret.

    Safe while the portal runs and when started twice at once: running processes pick
    the new key up from the file, and rotations wait for each other."""
    try:
        new_id, count = crypto.rotate(db.session, db.metadata, current_app.config["KEYRING"])
        db.session.commit()
    except crypto.KeyringError as exc:
        db.session.rollback()
        raise InputError(str(exc)) from exc
    click.echo(f"New primary key {new_id}; {count} secret(s) re-encrypted.")


@keys.command("reencrypt")
def keys_reencrypt() -> None:
    """Re-encrypt every stored secret under the current primary key."""
    try:
        count = crypto.reencrypt(db.session, db.metadata, current_app.config["KEYRING"])
        db.session.commit()
    except crypto.KeyringError as exc:
        db.session.rollback()
        raise InputError(f"{exc}; nothing was changed") from exc
    click.echo(f"{count} secret(s) re-encrypted.")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key as an ENCRYPTION_KEYS entry (id:base64key)."""
    click.echo(crypto.Keyring.generate().env_value())


@sync_cli.command("quality")
@click.option(
    "--provider",
    type=click.Choice([p.value for p in Provider]),
    default=None,
    help="Only this provider (default: all three).",
)
@click.option("--company", "company_slug", default=None, help="Only this company (its slug).")
def sync_quality(provider: str | None, company_slug: str | None) -> None:
    """Refresh every channel's status, quality rating and messaging limit; print what
    changed per provider. Exits 1 when a provider's pass failed entirely."""
    from provisioning.sync import summary
    from provisioning.tenancy import Company

    from .jobs.sync import run_sync

    company_id = None
    if company_slug:
        company = db.session.scalars(
            select(Company).where(Company.slug == company_slug)
        ).one_or_none()
        if company is None:
            raise click.BadParameter(
                f"no company has the slug {company_slug!r}.", param_hint="--company"
            )
        company_id = company.id
    runs = run_sync([Provider(provider)] if provider else None, company_id)
    for run in runs:
        click.echo(summary(run))
        for error in run.errors[:20]:
            click.echo(f"  {error['target']}: {error['error']}")
    if any(run.status == "failed" for run in runs):
        sys.exit(1)


@sync_cli.command("dialog360-webhooks")
def sync_dialog360_webhooks() -> None:
    """Point every connected 360dialog channel's messaging webhook at this portal with its
    own secret (channels connected before the secret existed need this once)."""
    from provisioning.dialog360.onboarding import point_all_webhooks

    from .providers import provider_transport

    base = current_app.config["PUBLIC_BASE_URL"]
    pointed, errors = point_all_webhooks(db.session, base, provider_transport())
    db.session.commit()
    click.echo(f"{pointed} channel webhook(s) pointed at the portal.")
    for error in errors:
        click.echo(f"  {error}", err=True)
    if errors:
        sys.exit(1)


def register(app: Flask) -> None:
    from .demo import demo

    for group in (admins, keys, jobs_cli, sync_cli, demo):
        app.cli.add_command(group)


@jobs_cli.command("failures")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--name", default=None, help="Only this job, e.g. provisioning.execute_run.")
def jobs_failures(limit: int, name: str | None) -> None:
    """List the latest jobs that failed for good (every retry spent), newest first."""
    from provisioning import job_failures

    failures = job_failures.recent(db.session, limit, name)
    if not failures:
        click.echo("No failed jobs.")
    for failure in failures:
        args = ", ".join(str(arg) for arg in failure.args)
        error = (failure.error.splitlines() or [""])[0][:200]
        click.echo(
            f"{failure.failed_at:%Y-%m-%d %H:%M:%S} #{failure.id} {failure.name}({args}) "
            f"after {failure.attempts} attempt(s): {error}"
        )


@jobs_cli.command("list")
def jobs_list() -> None:
    """List every job of the catalog: queue, retries, time limit and schedule."""
    from .jobs import JOBS, periodic_schedule

    schedule = periodic_schedule(current_app.config)
    for spec in sorted(JOBS.values(), key=lambda spec: (spec.queue, spec.name)):
        every = f"every {schedule[spec.name]:g}s" if spec.name in schedule else "on demand"
        click.echo(
            f"{spec.queue:<9} {spec.name:<30} retries {spec.retries}, "
            f"limit {spec.time_limit:g}s, {every}"
        )
