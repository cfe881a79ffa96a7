"""Key rotation while the portal runs, and two rotations at once (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from portal.extensions import db
from provisioning import crypto
from provisioning.audit import SYSTEM
from provisioning.crypto import Keyring, KeyringError
from provisioning.partners import Environment, PartnerConfiguration, Provider, create_configuration
from tests.test_crypto import PLANTED, meta_values

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def keyring_file(scratch_app, tmp_path):
    """A migrated scratch database holding one secret, under a keyring kept in a file."""
    path = tmp_path / "keyring.json"
    keyring = Keyring.load_or_create(path)
    previous = crypto.active_keyring()
    crypto.use_keyring(keyring)
    upgrade()
    create_configuration(db.session, SYSTEM, Provider.META, Environment.SANDBOX, "M", meta_values())
    db.session.commit()
    try:
        yield path
    finally:
        crypto.use_keyring(previous)


def readable_with(path: Path) -> list[str]:
    """Every stored secret of the partner configurations, decrypted with the file's keys."""
    keyring = Keyring.load(path)
    with Session(db.engine) as session:
        tokens = session.scalars(select(type_coerce(PartnerConfiguration.secrets, Text()))).all()
    return [keyring.decrypt(token, "partner_configurations.secrets") for token in tokens]


def test_two_rotations_at_once_keep_every_secret_readable(keyring_file):
    errors: list[BaseException] = []
    engine = db.engine

    def rotate() -> None:
        try:
            with Session(engine) as session:  # a process of its own: its own keyring copy
                crypto.rotate(session, db.metadata, Keyring.load(keyring_file))
                session.commit()
        except BaseException as exc:
            errors.append(exc)

    for _ in range(10):
        threads = [threading.Thread(target=rotate) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert all(PLANTED in secrets for secrets in readable_with(keyring_file))
    assert len(Keyring.load(keyring_file).keys) == 21  # every rotation's key is kept


def test_a_running_process_follows_a_rotation_made_elsewhere(keyring_file):
    running = crypto.active_keyring()  # loaded at start, as a web process's
    other = Keyring.load(keyring_file)
    new_id, count = crypto.rotate(db.session, db.metadata, other)
    db.session.commit()
    assert count == 1 and new_id not in running.keys
    db.session.expire_all()
    config = db.session.scalars(select(PartnerConfiguration)).one()
    assert config.value("app_secret") == PLANTED  # the unknown key id made it re-read the file
    assert running.encrypt("x", "t.c").startswith(f"enc:v1:{new_id}:")  # and write with it


def test_no_secret_is_written_under_a_key_the_file_lacks(keyring_file):
    keyring = Keyring.load(keyring_file)
    keyring.add_primary()  # never saved: nobody else could read what it encrypts
    with pytest.raises(KeyringError, match="not in the keyring file"):
        keyring.encrypt("secret", "t.c")


def test_concurrent_rotate_commands(keyring_file, scratch_database_url, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": scratch_database_url,
        "ENCRYPTION_KEYRING_FILE": str(keyring_file),
        "SECRET_KEY": "x",
    }
    env.pop("ENCRYPTION_KEYS", None)
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "keys", "rotate"]
    for _ in range(2):
        processes = [
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(2)
        ]
        for process in processes:
            output = process.communicate(timeout=120)[0].decode()
            assert process.returncode == 0, output
        assert all(PLANTED in secrets for secrets in readable_with(keyring_file))


def test_keys_reencrypt_with_a_wrong_key_says_so_and_changes_nothing(app, session):
    create_configuration(session, SYSTEM, Provider.META, Environment.SANDBOX, "M", meta_values())
    session.commit()
    previous = crypto.active_keyring()
    stranger = Keyring.generate()
    app.config["KEYRING"] = stranger
    try:
        result = app.test_cli_runner().invoke(args=["keys", "reencrypt"])
    finally:
        app.config["KEYRING"] = previous
    assert result.exit_code == 2
    assert "not in the keyring" in result.output and "nothing was changed" in result.output
    assert "Traceback" not in result.output
    token = session.scalar(select(type_coerce(PartnerConfiguration.secrets, Text())))
    assert f":{previous.primary}:" in token
