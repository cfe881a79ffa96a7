"""Production refuses the debugger, the demo commands, the sandbox and a weak SECRET_KEY."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from portal import create_app
from portal.config import ConfigError
from portal.production import secret_key_weakness
from provisioning.crypto import Keyring

ROOT = Path(__file__).resolve().parent.parent
STRONG_SECRET_KEY = "fualSTu2CRF347VIvCsY8Mk1Z34TaKRNwWYdqs0caCRH9OQ68UuMrbd6_3ezertb"


def production_overrides(tmp_path: Path, **extra) -> dict:
    return {
        "PORTAL_ENV": "production",
        "SECRET_KEY": STRONG_SECRET_KEY,
        "KEYRING": Keyring.generate(),
        "INSTANCE_PATH": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'production.db'}",
        **extra,
    }


@pytest.fixture(autouse=True)
def _no_debug_in_the_environment(monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("PROVIDER_ENVIRONMENT", raising=False)


def test_a_strong_production_configuration_starts(tmp_path):
    app = create_app(production_overrides(tmp_path))
    assert app.config["PROVIDER_ENVIRONMENT"] == "production" and not app.debug


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("x", "is 1 bytes long"),
        ("k" * 31, "is 31 bytes long"),
        ("change-me-to-a-long-random-value-0123456789", "looks like a placeholder"),
        ("Your-Production-Secret-Key-Goes-Here-1234", "looks like a placeholder"),
        ("x" * 64, "too regular"),
        ("ab" * 20, "too regular"),
        ("0123456789" * 4, "too regular"),
        ("abcdefghijklmnopqrstuvwxyzABCDEFGH", "too regular"),
    ],
)
def test_production_refuses_a_weak_secret_key(tmp_path, key, reason):
    with pytest.raises(ConfigError, match="production refuses to start: SECRET_KEY") as exc:
        create_app(production_overrides(tmp_path, SECRET_KEY=key))
    assert reason in str(exc.value)
    assert "secrets.token_urlsafe" in str(exc.value)  # how to make a good one


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: secrets.token_hex(16),
        lambda: secrets.token_hex(32),
        lambda: secrets.token_urlsafe(32),
        lambda: secrets.token_urlsafe(48),
    ],
)
def test_random_keys_are_accepted_every_time(make_key):
    keys = [make_key() for _ in range(2000)]
    assert [k for k in keys if secret_key_weakness(k)] == []


def test_development_keeps_accepting_any_key(tmp_path):
    create_app({**production_overrides(tmp_path), "PORTAL_ENV": "development", "SECRET_KEY": "x"})


def test_production_refuses_the_sandbox(tmp_path):
    with pytest.raises(ConfigError, match="PROVIDER_ENVIRONMENT=sandbox") as exc:
        create_app(production_overrides(tmp_path, PROVIDER_ENVIRONMENT="sandbox"))
    assert "PORTAL_ENV=demo" in str(exc.value)


def test_production_refuses_debug_mode(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="Werkzeug debugger"):
        create_app(production_overrides(tmp_path, DEBUG=True))
    monkeypatch.setenv("FLASK_DEBUG", "1")  # what flask run --debug sets
    with pytest.raises(ConfigError, match="Werkzeug debugger"):
        create_app(production_overrides(tmp_path))


def test_every_refusal_is_named_at_once(tmp_path):
    with pytest.raises(ConfigError) as exc:
        create_app(production_overrides(tmp_path, SECRET_KEY="x", PROVIDER_ENVIRONMENT="sandbox"))
    assert "SECRET_KEY" in str(exc.value) and "PROVIDER_ENVIRONMENT" in str(exc.value)


def tables(database: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{database}")
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.fixture
def busy_port():
    """A port that is taken: a server that should never start fails at once, not hangs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield str(sock.getsockname()[1])


@pytest.mark.parametrize("command", [["demo", "seed"], ["demo", "run"]])
def test_demo_commands_are_refused_in_production(tmp_path, command, busy_port):
    app = create_app(production_overrides(tmp_path))
    if command[1] == "run":
        command = [*command, "--port", busy_port, "--sandbox-port", busy_port]
    result = app.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1, result.output
    assert "demo commands are refused in production" in result.output
    assert "Traceback" not in result.output
    assert tables(tmp_path / "production.db") == []  # no schema, no demo admin


def test_demo_commands_still_work_outside_production(tmp_path):
    app = create_app({**production_overrides(tmp_path), "PORTAL_ENV": "demo"})
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.example" in result.output


def flask_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``flask --app wsgi ARGS`` in a production environment (a refusal exits at once;
    the timeout is a backstop only)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PORTAL_ENV": "production",
        "SECRET_KEY": STRONG_SECRET_KEY,
        "ENCRYPTION_KEYS": Keyring.generate().env_value(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("flag", ["--debug", "--debugger"])
def test_flask_run_with_the_debugger_is_refused_in_production(tmp_path, flag, busy_port):
    result = flask_cli(tmp_path, "run", flag, "--port", busy_port)
    assert result.returncode == 1
    assert "Configuration error: production refuses to start: debug mode" in result.stderr
    assert "Running on" not in result.stderr + result.stdout


def test_flask_demo_seed_is_refused_in_production(tmp_path):
    result = flask_cli(tmp_path, "demo", "seed")
    assert result.returncode == 1
    assert "Error: demo commands are refused in production" in result.stderr
    assert "Traceback" not in result.stderr
