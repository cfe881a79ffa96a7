"""Webhook ingest: verify with a secret cached per process, store in one INSERT.

A webhook's secret is read and decrypted once per process and kept with the version of
the row it came from (:class:`Secret`). The event's INSERT stores it only while that row
still has that version (one statement, ``INSERT ... SELECT ... WHERE EXISTS``), so a
secret rotated by an admin takes effect at once: the INSERT stores nothing, the secret
is read again and the delivery is checked again with the new one. A delivery that does
not verify with the cached secret is checked again with a freshly read one (it may be
signed with a secret rotated a moment ago). A cached hit costs no lookup and no decrypt:
the signature check, then the INSERT, which is the request's one commit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, exists, select, type_coerce
from sqlalchemy.orm import Session

from . import metrics
from .event_store import EventStore
from .events import NewEvent, insert_event
from .partners import Environment, PartnerConfiguration, Provider

ATTEMPTS = 3  # a secret rotated this many times during one request: refused, sent again


class Unverified(Exception):
    """The delivery is not signed with the current secret: 403."""


class Unconfigured(Unverified):
    """There is no secret to verify it with (no configuration, unknown account)."""


@dataclass(frozen=True)
class Secret:
    """Values read (and decrypted) from one row, equal to another read of the same row
    at the same version; ``unchanged`` holds while the row still has that version."""

    version: Hashable
    values: Mapping[str, str] = field(compare=False, repr=False)
    unchanged: ColumnElement[bool] = field(compare=False, repr=False)
    params: Mapping[str, Any] = field(compare=False, repr=False)  # ``unchanged``'s
    company_id: int | None = field(default=None, compare=False)

    def value(self, name: str) -> str:
        return self.values.get(name) or ""


Loader = Callable[[Session], Secret | None]


class SecretCache:
    """Secrets by name, kept for the life of the process and read again when a delivery
    does not verify with one or its row changed. Only secrets that exist are kept."""

    def __init__(self) -> None:
        self._secrets: dict[Hashable, Secret] = {}

    def get(self, store: EventStore, name: Hashable, load: Loader, fresh: bool = False):
        if not fresh and (secret := self._secrets.get(name)) is not None:
            return secret
        secret = store.read(load)
        if secret is None:
            self._secrets.pop(name, None)
        else:
            self._secrets[name] = secret
        return secret

    def clear(self) -> None:
        self._secrets.clear()


SECRETS = SecretCache()


def ingest_delivery(
    store: EventStore,
    name: Hashable,
    load: Loader,
    verify: Callable[[Secret], bool],
    event: Callable[[Secret], NewEvent],
    cache: SecretCache = SECRETS,
) -> bool:
    """Verify a delivery with the secret ``name`` (read by ``load``) and store
    ``event(secret)``: True, or False when it was stored before. Raises
    :class:`Unverified`; ``event`` may raise ``DomainError`` (a malformed body)."""
    secret = cache.get(store, name, load)
    if secret is None or not verify(secret):
        secret = _verified(store, name, load, verify, cache)
    for _ in range(ATTEMPTS):
        statement = insert_event(store.dialect, secret.unchanged, returning=False)
        new = event(secret)
        stored = store.insert(statement, {**new.params(), **secret.params})
        if stored:
            metrics.webhook_stored(new.provider.value, True)
            return True
        current = cache.get(store, name, load, fresh=True)
        if current == secret:
            metrics.webhook_stored(new.provider.value, False)
            return False  # the row is as it was: the event was stored before
        secret = _verified(store, name, load, verify, cache, current)
    raise Unverified(f"{name!r} changed {ATTEMPTS} times while a delivery was stored")


def _verified(store, name, load, verify, cache, secret: Secret | None = None) -> Secret:
    secret = secret or cache.get(store, name, load, fresh=True)
    if secret is None:
        raise Unconfigured(f"there is no secret {name!r}")
    if not verify(secret):
        raise Unverified(f"the delivery is not signed with the current secret of {name!r}")
    return secret


_CONFIG = PartnerConfiguration
_SEALED = type_coerce(_CONFIG.secrets, Text)  # the ciphertext: a new nonce on every write
# The version follows every update; the ciphertext also tells a row deleted and created
# again under the same id (SQLite may reuse it) from the one cached.
CONFIGURATION_UNCHANGED = exists().where(
    _CONFIG.id == bindparam("secret_id"),
    _CONFIG.version == bindparam("secret_version"),
    bindparam("secret_sealed") == _SEALED,
)


def configuration_secret(provider: Provider, environment: Environment | str) -> Loader:
    """Load the settings and secrets of ``provider``'s configuration in ``environment``
    (active or deactivated: webhooks are still taken while it is deactivated)."""

    def load(session: Session) -> Secret | None:
        row = session.execute(
            select(
                _CONFIG.id, _CONFIG.version, _CONFIG.settings, _CONFIG.secrets,
                _SEALED.label("sealed"),
            ).where(_CONFIG.provider == provider, _CONFIG.environment == environment)
        ).one_or_none()  # fmt: skip
        if row is None:
            return None
        params = {"secret_id": row.id, "secret_version": row.version, "secret_sealed": row.sealed}
        values = {**(row.settings or {}), **(row.secrets or {})}
        return Secret(tuple(params.values()), values, CONFIGURATION_UNCHANGED, params)

    return load
