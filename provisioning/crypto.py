"""Secrets at rest: an AES-256-GCM keyring with key ids, rotation and encrypted columns.

A stored secret looks like ``enc:v1:<key id>:<base64url(nonce || ciphertext)>``. The
column's name is bound in as associated data, so a ciphertext copied into another
column does not decrypt. Old keys keep decrypting until ``rotate`` re-encrypts.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text, literal, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

PREFIX = "enc:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12


class KeyringError(RuntimeError):
    """The keyring is missing, malformed, or cannot decrypt a stored secret."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


@dataclass
class Keyring:
    """Named 256-bit keys; ``primary`` encrypts, every key decrypts."""

    keys: dict[str, bytes]
    primary: str
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.primary not in self.keys:
            raise KeyringError(f"primary key id {self.primary!r} is not in the keyring")
        for kid, key in self.keys.items():
            if len(key) != KEY_BYTES or ":" in kid or not kid:
                raise KeyringError(f"key {kid!r} must be {KEY_BYTES} bytes with a ':'-free id")

    def __repr__(self) -> str:
        return f"<Keyring primary={self.primary} ids={sorted(self.keys)}>"

    @classmethod
    def generate(cls, path: Path | None = None) -> Keyring:
        kid = new_key_id()
        return cls({kid: AESGCM.generate_key(bit_length=256)}, kid, path)

    @classmethod
    def from_env_value(cls, value: str) -> Keyring:
        """Parse ``ENCRYPTION_KEYS``: ``id:base64key[,id:base64key...]``, primary first."""
        keys: dict[str, bytes] = {}
        try:
            for item in value.split(","):
                kid, _, encoded = item.strip().partition(":")
                keys[kid] = _unb64(encoded)
        except ValueError as exc:
            raise KeyringError("ENCRYPTION_KEYS is not 'id:base64key[,id:base64key...]'") from exc
        if not keys or not next(iter(keys)):
            raise KeyringError("ENCRYPTION_KEYS holds no key")
        return cls(keys, next(iter(keys)))

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            data = json.loads(path.read_text())
            keys = {kid: _unb64(encoded) for kid, encoded in data["keys"].items()}
            return cls(keys, data["primary"], path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"cannot read the keyring file {path}: {exc}") from exc

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        if path.exists():
            return cls.load(path)
        keyring = cls.generate(path)
        keyring.save()
        return keyring

    def save(self) -> None:
        """Write the keyring file atomically, readable by its owner only."""
        if self.path is None:
            raise KeyringError("this keyring comes from ENCRYPTION_KEYS and has no file to save")
        data = {"primary": self.primary, "keys": {k: _b64(v) for k, v in self.keys.items()}}
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        tmp.replace(self.path)

    def env_value(self) -> str:
        ordered = [self.primary] + [k for k in self.keys if k != self.primary]
        return ",".join(f"{kid}:{_b64(self.keys[kid])}" for kid in ordered)

    def add_primary(self) -> str:
        kid = new_key_id()
        self.keys[kid] = AESGCM.generate_key(bit_length=256)
        self.primary = kid
        return kid

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.primary]).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return f"{PREFIX}{self.primary}:{_b64(nonce + sealed)}"

    def key_id_of(self, token: str) -> str:
        if not token.startswith(PREFIX):
            raise KeyringError("a stored secret is not in the 'enc:v1:' format")
        return token[len(PREFIX) :].partition(":")[0]

    def decrypt(self, token: str, context: str) -> str:
        kid = self.key_id_of(token)
        key = self.keys.get(kid)
        if key is None:
            raise KeyringError(
                f"a secret in {context} was encrypted with key {kid!r}, "
                "which is not in the keyring (was the keyring replaced?)"
            )
        blob = _unb64(token[len(PREFIX) + len(kid) + 1 :])
        try:
            opened = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
            return opened.decode()
        except (InvalidTag, ValueError) as exc:
            raise KeyringError(
                f"a secret in {context} does not decrypt with key {kid!r}: "
                "the key is wrong or the value was tampered with"
            ) from exc


class _Active:
    keyring: Keyring | None = None


def use_keyring(keyring: Keyring | None) -> None:
    """Install the process-wide keyring that encrypted columns use."""
    _Active.keyring = keyring


def active_keyring() -> Keyring:
    if _Active.keyring is None:
        raise KeyringError("no encryption keyring is configured (set ENCRYPTION_KEYS)")
    return _Active.keyring


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; ``context`` names it as associated data."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return active_keyring().encrypt(value, self.context)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return active_keyring().decrypt(value, self.context)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A dict of secrets stored as one encrypted JSON document."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return active_keyring().encrypt(json.dumps(value, sort_keys=True), self.context)

    def process_result_value(self, value: str | None, dialect: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        return json.loads(active_keyring().decrypt(value, self.context))


def encrypted_columns(metadata: Any) -> Iterator[tuple[Any, Any, str]]:
    """Every (table, column, context) of the metadata that stores a secret."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText | EncryptedJSON):
                yield table, column, column.type.context


def reencrypt_all(session: Session, metadata: Any, keyring: Keyring) -> int:
    """Re-encrypt every stored secret under the keyring's primary key; returns the count.

    Works on the raw column text, so it needs no model and changes nothing else.
    """
    count = 0
    for table, column, context in encrypted_columns(metadata):
        pk = next(iter(table.primary_key.columns))
        # type_coerce/literal read and write the ciphertext as plain text.
        rows = session.execute(
            select(pk, type_coerce(column, Text())).where(column.isnot(None))
        ).all()
        for ident, token in rows:
            if keyring.key_id_of(token) == keyring.primary:
                continue
            fresh = keyring.encrypt(keyring.decrypt(token, context), context)
            session.execute(
                update(table).where(pk == ident).values({column.name: literal(fresh, Text())})
            )
            count += 1
    return count
