"""Secrets at rest: an AES-256-GCM keyring with key ids, rotation and encrypted columns.

A stored secret looks like ``enc:v1:<key id>:<base64url(nonce || ciphertext)>``. The
column's name is bound in as associated data, so a ciphertext copied into another
column does not decrypt. Old keys keep decrypting until ``rotate`` re-encrypts.

A keyring kept in a file follows the file: another process's rotation is picked up
without a restart (keys only ever grow), and a secret is never written under a key the
file does not hold. :func:`rotate` serialises rotations across processes.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text, literal, select, text, type_coerce, update
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
    """Named 256-bit keys; ``primary`` encrypts, every key decrypts.

    A keyring with a ``path`` mirrors its file: :meth:`refresh` merges what another
    process saved there, and :meth:`encrypt` refuses a primary key the file lacks.
    """

    keys: dict[str, bytes]
    primary: str
    path: Path | None = field(default=None, compare=False)
    # the file as last read or written: its identity, and the key ids it holds
    _stamp: tuple[int, int, int] | None = field(default=None, init=False, compare=False)
    _on_disk: frozenset[str] = field(default=frozenset(), init=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, compare=False)

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

    @staticmethod
    def _read(path: Path) -> tuple[dict[str, bytes], str, tuple[int, int, int]]:
        try:
            with path.open() as fh:
                info = os.fstat(fh.fileno())
                data = json.load(fh)
            keys = {kid: _unb64(encoded) for kid, encoded in data["keys"].items()}
            return keys, data["primary"], (info.st_ino, info.st_mtime_ns, info.st_size)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyringError(f"cannot read the keyring file {path}: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> Keyring:
        keys, primary, stamp = cls._read(path)
        keyring = cls(keys, primary, path)
        keyring._stamp, keyring._on_disk = stamp, frozenset(keys)
        return keyring

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        with file_lock(path):
            if not path.exists():
                cls.generate(path).save()
        return cls.load(path)

    def refresh(self) -> bool:
        """Merge the keyring file when it changed on disk; True when it had.

        Costs one ``stat`` when nothing changed. The file's primary becomes ours: the
        newest rotation wins, and no key is ever dropped.
        """
        if self.path is None:
            return False
        try:
            info = os.stat(self.path)
        except OSError as exc:
            raise KeyringError(f"cannot read the keyring file {self.path}: {exc}") from exc
        if (info.st_ino, info.st_mtime_ns, info.st_size) == self._stamp:
            return False
        keys, primary, stamp = self._read(self.path)
        with self._lock:
            self.keys = {**self.keys, **keys}
            self.primary, self._stamp, self._on_disk = primary, stamp, frozenset(keys)
        return True

    def save(self) -> None:
        """Write the keyring file atomically (a unique temporary file, fsynced, renamed),
        readable by its owner only. Callers that may race hold :func:`file_lock`."""
        if self.path is None:
            raise KeyringError("this keyring comes from ENCRYPTION_KEYS and has no file to save")
        data = {"primary": self.primary, "keys": {k: _b64(v) for k, v in self.keys.items()}}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:  # mkstemp creates it 0600
                json.dump(data, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
        info = os.stat(self.path)
        with self._lock:
            self._stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
            self._on_disk = frozenset(self.keys)

    def env_value(self) -> str:
        ordered = [self.primary] + [k for k in self.keys if k != self.primary]
        return ",".join(f"{kid}:{_b64(self.keys[kid])}" for kid in ordered)

    def add_primary(self) -> str:
        kid = new_key_id()
        with self._lock:
            self.keys = {**self.keys, kid: AESGCM.generate_key(bit_length=256)}
            self.primary = kid
        return kid

    def encrypt(self, plaintext: str, context: str) -> str:
        self.refresh()
        primary = self.primary
        if self.path is not None and primary not in self._on_disk:
            raise KeyringError(
                f"key {primary!r} is not in the keyring file {self.path}: a secret written "
                "under it could not be read back, so it is not written"
            )
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[primary]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}{primary}:{_b64(nonce + sealed)}"

    def key_id_of(self, token: str) -> str:
        if not token.startswith(PREFIX):
            raise KeyringError("a stored secret is not in the 'enc:v1:' format")
        return token[len(PREFIX) :].partition(":")[0]

    def decrypt(self, token: str, context: str) -> str:
        kid = self.key_id_of(token)
        if kid not in self.keys:
            self.refresh()  # another process may have rotated since we read the file
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


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` (``<path>.lock``), held across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


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


# One number for every process that rotates keys (PostgreSQL advisory lock).
ROTATION_LOCK_ID = 0x6B657973  # "keys"


def _lock_rotations(session: Session) -> None:
    """Serialise rotations and re-encryptions in the database for this transaction.

    PostgreSQL: an advisory lock, released at commit or rollback. SQLite: the first
    write takes the database's write lock, which serialises writers already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ROTATION_LOCK_ID})


def rotate(session: Session, metadata: Any, keyring: Keyring) -> tuple[str, int]:
    """Add a new primary key to the keyring file and re-encrypt every stored secret.

    Safe to run from several processes at once: rotations are serialised by a file lock
    and a database lock; under them the file is read again (another rotation's key is
    merged, never overwritten), the grown keyring is saved before anything is
    re-encrypted, and the caller's commit ends the database lock. Returns the new key
    id and the number of secrets re-encrypted. The caller commits.
    """
    if keyring.path is None:
        raise KeyringError(
            "the keyring comes from ENCRYPTION_KEYS: put a new key (see 'keys generate') "
            "first in ENCRYPTION_KEYS on every process, then run 'keys reencrypt'"
        )
    with file_lock(keyring.path):
        _lock_rotations(session)
        keyring.refresh()
        new_id = keyring.add_primary()
        # Saved first: the file still holds every old key, so whatever happens to the
        # re-encryption below, every stored secret stays decryptable.
        keyring.save()
        count = reencrypt_all(session, metadata, keyring)
        session.flush()
    return new_id, count


def reencrypt(session: Session, metadata: Any, keyring: Keyring) -> int:
    """Re-encrypt every stored secret under the primary key, serialised with rotations."""
    _lock_rotations(session)
    keyring.refresh()
    return reencrypt_all(session, metadata, keyring)
