"""Flask commands: ``admins``, ``keys``, ``demo`` (``db`` comes from Flask-Migrate)."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from provisioning import accounts, crypto
from provisioning.audit import SYSTEM
from provisioning.errors import DomainError

from .extensions import db

admins = AppGroup("admins", help="Platform admins.")
keys = AppGroup("keys", help="The encryption keyring for secrets at rest.")
jobs_cli = AppGroup("jobs", help="Background jobs (provisioning runs).")


@jobs_cli.command("work")
@click.option("--workers", default=2, show_default=True, help="Threads running jobs.")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between due-run scans.")
def jobs_work(workers: int, poll: float) -> None:
    """Run jobs in this process until interrupted (resumes unfinished runs at start)."""
    import time

    from .jobs import InProcessRunner

    runner = InProcessRunner.install(current_app._get_current_object(), workers, poll)
    runner.start_poller()
    click.echo(f"Running jobs with {workers} worker(s); Ctrl+C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        runner.stop()


@admins.command("create")
@click.argument("email")
@click.option("--name", default="", help="The admin's display name.")
def admins_create(email: str, name: str) -> None:
    """Create a platform admin; the password is read from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = accounts.create_user(
            db.session, SYSTEM, email, name=name, password=password, platform_admin=True
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Platform admin {user.email} created.")


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new primary key to the keyring file and re-encrypt every stored secret."""
    keyring: crypto.Keyring = current_app.config["KEYRING"]
    if keyring.path is None:
        raise click.ClickException(
            "the keyring comes from ENCRYPTION_KEYS: put a new key (see 'keys generate') "
            "first in ENCRYPTION_KEYS, restart, then run 'keys reencrypt'"
        )
    new_id = keyring.add_primary()
    # Save the grown keyring first: it still holds every old key, so whatever happens to
    # the re-encryption below, every stored secret stays decryptable.
    keyring.save()
    count = crypto.reencrypt_all(db.session, db.metadata, keyring)
    db.session.commit()
    click.echo(f"New primary key {new_id}; {count} secret(s) re-encrypted.")


@keys.command("reencrypt")
def keys_reencrypt() -> None:
    """Re-encrypt every stored secret under the current primary key."""
    count = crypto.reencrypt_all(db.session, db.metadata, current_app.config["KEYRING"])
    db.session.commit()
    click.echo(f"{count} secret(s) re-encrypted.")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key as an ENCRYPTION_KEYS entry (id:base64key)."""
    click.echo(crypto.Keyring.generate().env_value())


def register(app: Flask) -> None:
    from .demo import demo

    for group in (admins, keys, jobs_cli, demo):
        app.cli.add_command(group)
