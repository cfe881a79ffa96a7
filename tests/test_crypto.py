import logging
import re

import pytest
from sqlalchemy import Text, select, text, type_coerce
from sqlalchemy.orm import Session

from portal.extensions import db
from provisioning import crypto
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.crypto import Keyring, KeyringError
from provisioning.partners import Environment, PartnerConfiguration, Provider, create_configuration

PLANTED = "planted-secret-7f3a9c"


def meta_values(secret: str = PLANTED) -> dict[str, str]:
    return {
        "app_id": "123456789",
        "app_secret": secret,
        "config_id": "987654321",
        "graph_api_version": "v25.0",
        "webhook_verify_token": "verify-token-1",
        "graph_base_url": "https://graph.facebook.com",
        "sdk_url": "https://connect.facebook.net/en_US/sdk.js",
        "dialog_origin": "https://www.facebook.com",
    }


def raw_secrets(session: Session, config_id: int) -> str:
    return session.scalar(
        select(type_coerce(PartnerConfiguration.secrets, Text())).where(
            PartnerConfiguration.id == config_id
        )
    )


def test_round_trip_and_format():
    keyring = Keyring.generate()
    token = keyring.encrypt("hello", "t.c")
    assert token.startswith(f"enc:v1:{keyring.primary}:")
    assert keyring.decrypt(token, "t.c") == "hello"
    assert keyring.encrypt("hello", "t.c") != token  # fresh nonce every time


def test_ciphertext_is_bound_to_its_column():
    keyring = Keyring.generate()
    token = keyring.encrypt("hello", "a.secret")
    with pytest.raises(KeyringError, match="does not decrypt"):
        keyring.decrypt(token, "b.secret")


def test_a_wrong_key_fails_clearly_never_garbage():
    token = Keyring.generate().encrypt("hello", "t.c")
    other = Keyring.generate()
    kid = token.split(":")[2]
    with pytest.raises(KeyringError, match="not in the keyring"):
        other.decrypt(token, "t.c")
    impostor = Keyring({kid: b"\0" * 32}, kid)
    with pytest.raises(KeyringError, match="key is wrong or the value was tampered"):
        impostor.decrypt(token, "t.c")


def test_env_value_round_trip():
    keyring = Keyring.generate()
    keyring.add_primary()
    again = Keyring.from_env_value(keyring.env_value())
    assert again.primary == keyring.primary and again.keys == keyring.keys
    with pytest.raises(KeyringError):
        Keyring.from_env_value("nonsense")


def test_planted_secret_is_nowhere_in_plaintext(app, session, caplog, database_url):
    caplog.set_level(logging.DEBUG)
    config = create_configuration(
        session, SYSTEM, Provider.META, Environment.SANDBOX, "Meta", meta_values()
    )
    session.commit()
    assert PLANTED not in raw_secrets(session, config.id)
    assert PLANTED not in repr(config)
    entries = session.scalars(select(AuditEntry)).all()
    assert entries and all(PLANTED not in str(e.details) for e in entries)
    assert PLANTED not in caplog.text
    session.expire_all()
    assert session.get(PartnerConfiguration, config.id).value("app_secret") == PLANTED
    if database_url.startswith("sqlite"):
        session.connection().exec_driver_sql("SELECT 1")  # the row is in the file's journal
        dump = "\n".join(session.connection().connection.driver_connection.iterdump())
        assert "app_id" in dump and PLANTED not in dump


def test_rotation_reencrypts_every_secret(app, session):
    config = create_configuration(
        session, SYSTEM, Provider.META, Environment.SANDBOX, "Meta", meta_values()
    )
    session.commit()
    keyring = crypto.active_keyring()
    old_primary = keyring.primary
    assert f":{old_primary}:" in raw_secrets(session, config.id)
    new_primary = keyring.add_primary()
    try:
        assert crypto.reencrypt_all(session, db.metadata, keyring) == 1
        session.commit()
        assert re.match(rf"enc:v1:{new_primary}:", raw_secrets(session, config.id))
        # Without the old key, everything still decrypts.
        crypto.use_keyring(Keyring({new_primary: keyring.keys[new_primary]}, new_primary))
        session.expire_all()
        assert session.get(PartnerConfiguration, config.id).value("app_secret") == PLANTED
        assert crypto.reencrypt_all(session, db.metadata, crypto.active_keyring()) == 0
    finally:
        crypto.use_keyring(keyring)


def test_keys_rotate_cli_persists_the_new_key(app, tmp_path, session, monkeypatch):
    path = tmp_path / "keyring.json"
    keyring = Keyring.load_or_create(path)
    previous = app.config["KEYRING"]
    crypto.use_keyring(keyring)
    monkeypatch.setitem(app.config, "KEYRING", keyring)
    try:
        config = create_configuration(
            session, SYSTEM, Provider.META, Environment.SANDBOX, "Meta", meta_values()
        )
        session.commit()
        result = app.test_cli_runner().invoke(args=["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "1 secret(s) re-encrypted" in result.output
        on_disk = Keyring.load(path)
        assert on_disk.primary != next(iter(on_disk.keys)) and len(on_disk.keys) == 2
        assert f":{on_disk.primary}:" in raw_secrets(session, config.id)
    finally:
        crypto.use_keyring(previous)


def test_rotate_refuses_an_environment_keyring(app):
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code != 0 and "ENCRYPTION_KEYS" in result.output


def test_raw_sql_shows_only_ciphertext(session):
    create_configuration(session, SYSTEM, Provider.META, Environment.SANDBOX, "M", meta_values())
    session.commit()
    rows = session.execute(text("SELECT secrets FROM partner_configurations")).scalars().all()
    assert rows and all(r.startswith("enc:v1:") and PLANTED not in r for r in rows)
