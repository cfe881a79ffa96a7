import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.config import ConfigError, load
from provisioning.tenancy import User
from tests.conftest import Auth
from tests.test_production_lockdown import STRONG_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent


def test_admins_create_reads_the_password_from_stdin(app, session, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["admins", "create", "Boss@Example.com"], input="a-long-password\n")
    assert result.exit_code == 0, result.output
    user = session.scalars(select(User).where(User.email == "boss@example.com")).one()
    assert user.is_platform_admin and user.password_hash != "a-long-password"
    assert Auth(client).login("boss@example.com", "a-long-password").status_code == 302
    again = runner.invoke(args=["admins", "create", "boss@example.com"], input="a-long-password\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(args=["admins", "create", "x@example.com"], input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output


@pytest.mark.parametrize(
    ("email", "stdin", "message"),
    [
        ("boss@example.com", "", "no password on standard input"),
        ("boss@example.com", "\n", "no password on standard input"),
        ("not-an-email", "a-long-password\n", "is not an e-mail address"),
    ],
)
def test_admins_create_refuses_bad_input_with_exit_code_2(app, session, email, stdin, message):
    result = app.test_cli_runner().invoke(args=["admins", "create", email], input=stdin)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output
    assert session.scalars(select(User)).all() == []


def test_production_refuses_to_start_without_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load(tmp_path, {"PORTAL_ENV": "production"})
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS"):
        load(tmp_path, {"PORTAL_ENV": "production", "SECRET_KEY": STRONG_SECRET_KEY})


def test_development_generates_and_keeps_its_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    first, second = load(tmp_path), load(tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["KEYRING"].keys == second["KEYRING"].keys
    assert (tmp_path / "keyring.json").stat().st_mode & 0o077 == 0


def test_wsgi_prints_one_clear_message_in_production_without_secrets(tmp_path):
    env = {"PORTAL_ENV": "production", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Configuration error: SECRET_KEY is not set: production needs a long random value"
    )


def test_postgres_urls_use_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert load(tmp_path)["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


# Typed settings ------------------------------------------------------------------------


def test_every_bad_setting_is_named_at_once_with_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "prod")
    monkeypatch.setenv("PROXY_FIX_HOPS", "two")
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "1e6")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "maybe")
    with pytest.raises(ConfigError) as exc:
        load(tmp_path)
    message = str(exc.value)
    assert "PORTAL_ENV must be one of 'development', 'demo' or 'production', not 'prod'" in message
    assert "PROXY_FIX_HOPS: input should be a valid integer" in message
    assert "MAX_CONTENT_LENGTH must be a positive number of bytes, not '1e6'" in message
    assert "SESSION_COOKIE_SECURE must be on or off" in message


def test_overrides_are_validated_like_the_environment(tmp_path):
    with pytest.raises(ConfigError, match="JOB_POLL_SECONDS must be more than 0"):
        load(tmp_path, {"SECRET_KEY": "x", "JOB_POLL_SECONDS": 0})


def test_a_secret_of_the_wrong_type_is_refused_without_being_echoed(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY: input should be a valid string") as exc:
        load(tmp_path, {"SECRET_KEY": 8675309})
    assert "8675309" not in str(exc.value)


def test_empty_variables_take_their_defaults_and_modes_settle_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("JOB_POLL_SECONDS", "")
    monkeypatch.setenv("CELERY_BROKER_URL", "")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "off")
    monkeypatch.setenv("PROVIDER_URL_ALLOWLIST", "A.example.com *.b.example.com")
    config = load(tmp_path, {"SECRET_KEY": "x"})
    assert (config["JOB_POLL_SECONDS"], config["CELERY_BROKER_URL"]) == (5.0, None)
    assert config["JOB_RUNNER"] == "inprocess" and config["HSTS_SECONDS"] == 0
    assert config["SESSION_COOKIE_SECURE"] is config["REMEMBER_COOKIE_SECURE"] is False
    assert config["PROVIDER_URL_ALLOWLIST"] == ("a.example.com", "*.b.example.com")
    assert config["PROVIDER_ENVIRONMENT"] == "sandbox"
    assert "pool_pre_ping" not in config["SQLALCHEMY_ENGINE_OPTIONS"]  # no round trip per checkout
