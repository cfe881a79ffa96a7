"""Coexistence: synchronizing a WhatsApp Business app number's contacts and chat history, and
reading the three webhooks that carry them and the app's own messages.

Meta's pages (developers.facebook.com/documentation/business-messaging/whatsapp/):

- ``embedded-signup/onboarding-business-app-users``: after onboarding a number from the
  WhatsApp Business app, ``POST /{phone}/smb_app_data`` with ``sync_type``
  ``smb_app_state_sync`` (contacts) then ``history`` starts each sync; each works **once per
  onboarding and only within 24 hours of it** (afterwards the business must offboard and sign
  up again). The answer ``{"messaging_product", "request_id"}`` only says the request was
  accepted; keep ``request_id`` for Meta's support.
- ``webhooks/reference/history``: ``history[]`` entries with ``metadata`` (``phase`` 0-2,
  ``chunk_order``, ``progress`` 0-100, 100 when done) and ``threads[].messages[]``; a
  webhook with ``messages[]`` instead carries the assets of earlier ``media_placeholder``
  messages; a business that declined history sharing sends ``history[].errors[]`` with code
  2593109.
- ``webhooks/reference/smb_app_state_sync``: ``state_sync[]`` contacts, ``add`` (added or
  edited) or ``remove``.
- ``webhooks/reference/smb_message_echoes``: ``message_echoes[]``, a message the business sent
  from the app; with business-scoped user ids (``business-scoped-user-ids``, 2026) an echo may
  name ``to_user_id`` and leave ``to`` out.

The parsers refuse what does not have these shapes with :class:`MalformedCoexistenceWebhook`
(a ``ValueError``). Numbers are integers in Meta's examples; a string of digits is accepted as
well. Dispatching the fields is :mod:`.webhooks`'s job: :data:`PARSERS` names the parser of
each field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .api import GraphClient, bearer

SYNC_TYPES = ("smb_app_state_sync", "history")
SYNC_WINDOW = dt.timedelta(hours=24)
HISTORY_DECLINED = 2593109  # history[].errors[].code: the business declined history sharing
PHASES = (0, 1, 2)  # 0: day 0-1, 1: day 1-90, 2: day 90-180 before onboarding


class MalformedCoexistenceWebhook(ValueError):
    """A coexistence webhook value this code cannot read (the message says why)."""


# -- the sync request ---------------------------------------------------------------------------
def start_sync(graph: GraphClient, phone_id: str, token: str, sync_type: str) -> str | None:
    """Ask Meta to start one sync of a coexistence number; the request id Meta answers
    (None if the answer has none). Never retried here: Meta accepts each sync type once, so
    after a lost answer the caller must not simply ask again; the webhooks that follow (or
    the refusal of a second request) tell what happened."""
    if sync_type not in SYNC_TYPES:
        raise ValueError(f"sync_type must be one of {', '.join(SYNC_TYPES)}")
    response = graph.request(
        "POST",
        f"/{phone_id}/smb_app_data",
        headers=bearer(token),
        json={"messaging_product": "whatsapp", "sync_type": sync_type},
        idempotent=False,
    )
    body = response.json()
    request_id = body.get("request_id") if isinstance(body, dict) else None
    return request_id if isinstance(request_id, str) and request_id else None


def onboarded_at(last_onboarded_time: str) -> dt.datetime:
    """Graph's ``last_onboarded_time`` (``2026-01-01T00:00:00+0000``) as an aware datetime."""
    try:
        return dt.datetime.strptime(last_onboarded_time, "%Y-%m-%dT%H:%M:%S%z")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a Graph time: {last_onboarded_time!r}") from exc


def window_closes_at(onboarded: dt.datetime) -> dt.datetime:
    """When the number's contacts and history can no longer be synchronized."""
    return onboarded + SYNC_WINDOW


# -- what the webhooks say ----------------------------------------------------------------------
@dataclass(frozen=True)
class SyncError:
    """An error Meta reports in a history webhook (``history[].errors[]``)."""

    code: int
    title: str
    message: str
    details: str | None = None


@dataclass(frozen=True)
class HistoryProgress:
    """One ``history[]`` entry: a chunk of a phase, or an error (the decline)."""

    phase: int | None
    chunk_order: int | None
    progress: int | None
    threads: int
    messages: int
    error: SyncError | None = None

    @property
    def declined(self) -> bool:
        return self.error is not None and self.error.code == HISTORY_DECLINED

    @property
    def complete(self) -> bool:
        return self.progress == 100


@dataclass(frozen=True)
class HistoryUpdate:
    """A ``history`` webhook value: its chunks, or the ids of media messages whose assets it
    carries."""

    phone_number_id: str
    display_phone_number: str
    chunks: tuple[HistoryProgress, ...]
    media_message_ids: tuple[str, ...] = ()

    @property
    def declined(self) -> bool:
        return any(chunk.declined for chunk in self.chunks)

    @property
    def progress(self) -> int | None:
        """The furthest progress this webhook reports (chunks arrive out of order)."""
        values = [c.progress for c in self.chunks if c.progress is not None]
        return max(values) if values else None


@dataclass(frozen=True)
class ContactChange:
    """One ``state_sync[]`` contact: ``add`` (added or edited) or ``remove``."""

    phone_number: str
    action: str
    full_name: str | None
    first_name: str | None
    at: dt.datetime | None


@dataclass(frozen=True)
class StateSync:
    """An ``smb_app_state_sync`` webhook value."""

    phone_number_id: str
    display_phone_number: str
    contacts: tuple[ContactChange, ...]

    @property
    def count(self) -> int:
        return len(self.contacts)

    @property
    def added(self) -> int:
        return sum(1 for c in self.contacts if c.action == "add")

    @property
    def removed(self) -> int:
        return sum(1 for c in self.contacts if c.action == "remove")


@dataclass(frozen=True)
class MessageEcho:
    """A message the business sent from the WhatsApp Business app (``message_echoes[]``)."""

    message_id: str
    phone_number_id: str
    from_number: str
    to: str | None
    to_user_id: str | None
    type: str
    timestamp: dt.datetime
    text: str | None = None


def parse_history(value: Any) -> HistoryUpdate:
    """A ``history`` value: chunks (``history[]``) or media assets (``messages[]``)."""
    phone_number_id, display = _metadata(value)
    entries, media = value.get("history"), value.get("messages")
    if entries is None and media is None:
        raise MalformedCoexistenceWebhook("a history value has 'history' or 'messages'")
    entries = [] if entries is None else _list(entries, "history", non_empty=True)
    media = [] if media is None else _list(media, "messages", non_empty=True)
    chunks = tuple(_history_entry(entry, i) for i, entry in enumerate(entries))
    media_ids = tuple(
        _text(_object(m, f"messages[{i}]"), "id", f"messages[{i}]") for i, m in enumerate(media)
    )
    return HistoryUpdate(phone_number_id, display, chunks, media_ids)


def parse_state_sync(value: Any) -> StateSync:
    """An ``smb_app_state_sync`` value; items of a type other than ``contact`` are left out."""
    phone_number_id, display = _metadata(value)
    changes = []
    for i, raw in enumerate(_list(value.get("state_sync"), "state_sync", non_empty=True)):
        item = _object(raw, f"state_sync[{i}]")
        if item.get("type") != "contact":
            continue
        where = f"state_sync[{i}].contact"
        contact = _object(item.get("contact"), where)
        metadata = item.get("metadata")
        stamp = metadata.get("timestamp") if isinstance(metadata, dict) else None
        changes.append(
            ContactChange(
                phone_number=_text(contact, "phone_number", where),
                action=_text(item, "action", f"state_sync[{i}]"),
                full_name=_optional_text(contact, "full_name", where),
                first_name=_optional_text(contact, "first_name", where),
                at=None if stamp is None else _time(stamp, f"state_sync[{i}].metadata.timestamp"),
            )
        )
    return StateSync(phone_number_id, display, tuple(changes))


def parse_echoes(value: Any) -> tuple[MessageEcho, ...]:
    """An ``smb_message_echoes`` value: each echo (``to`` or ``to_user_id`` names the user)."""
    phone_number_id, _ = _metadata(value)
    echoes = []
    for i, raw in enumerate(_list(value.get("message_echoes"), "message_echoes", non_empty=True)):
        where = f"message_echoes[{i}]"
        echo = _object(raw, where)
        kind = _text(echo, "type", where)
        to, to_user_id = (
            _optional_text(echo, "to", where),
            _optional_text(echo, "to_user_id", where),
        )
        if to is None and to_user_id is None:
            raise MalformedCoexistenceWebhook(f"{where} names no recipient (to or to_user_id)")
        content = echo.get(kind)
        body = content.get("body") if kind == "text" and isinstance(content, dict) else None
        echoes.append(
            MessageEcho(
                message_id=_text(echo, "id", where),
                phone_number_id=phone_number_id,
                from_number=_text(echo, "from", where),
                to=to,
                to_user_id=to_user_id,
                type=kind,
                timestamp=_time(echo.get("timestamp"), f"{where}.timestamp"),
                text=body if isinstance(body, str) else None,
            )
        )
    return tuple(echoes)


PARSERS: dict[str, Callable[[Any], object]] = {
    "history": parse_history,
    "smb_app_state_sync": parse_state_sync,
    "smb_message_echoes": parse_echoes,
}
FIELDS = frozenset(PARSERS)


# -- reading helpers ----------------------------------------------------------------------------
def _history_entry(raw: Any, index: int) -> HistoryProgress:
    where = f"history[{index}]"
    entry = _object(raw, where)
    if "errors" in entry:
        errors = _list(entry["errors"], f"{where}.errors", non_empty=True)
        error = _object(errors[0], f"{where}.errors[0]")
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        return HistoryProgress(
            None, None, None, 0, 0,
            SyncError(
                code=_number(error.get("code"), f"{where}.errors[0].code"),
                title=_optional_text(error, "title", where) or "",
                message=_optional_text(error, "message", where) or "",
                details=details if isinstance(details, str) else None,
            ),
        )  # fmt: skip
    metadata = _object(entry.get("metadata"), f"{where}.metadata")
    phase = _number(metadata.get("phase"), f"{where}.metadata.phase")
    progress = _number(metadata.get("progress"), f"{where}.metadata.progress")
    if phase not in PHASES or not 0 <= progress <= 100:
        raise MalformedCoexistenceWebhook(
            f"{where}: phase {phase} or progress {progress} is out of range"
        )
    threads = _list(entry.get("threads", []), f"{where}.threads")
    messages = sum(
        _thread_messages(thread, f"{where}.threads[{t}]") for t, thread in enumerate(threads)
    )
    chunk_order = _number(metadata.get("chunk_order"), f"{where}.metadata.chunk_order")
    return HistoryProgress(phase, chunk_order, progress, len(threads), messages)


def _thread_messages(raw: Any, where: str) -> int:
    """How many messages a history thread holds (each with an id and a type)."""
    thread = _object(raw, where)
    _text(thread, "id", where)
    messages = _list(thread.get("messages"), f"{where}.messages")
    for m, raw_message in enumerate(messages):
        message = _object(raw_message, f"{where}.messages[{m}]")
        _text(message, "id", f"{where}.messages[{m}]")
        _text(message, "type", f"{where}.messages[{m}]")
    return len(messages)


def _metadata(value: Any) -> tuple[str, str]:
    """(phone number id, display phone number) of the business number the value is about."""
    metadata = _object(_object(value, "the value").get("metadata"), "metadata")
    return _text(metadata, "phone_number_id", "metadata"), _text(
        metadata, "display_phone_number", "metadata"
    )


def _object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MalformedCoexistenceWebhook(f"{where} is not an object")
    return raw


def _list(raw: Any, where: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(raw, list) or (non_empty and not raw):
        raise MalformedCoexistenceWebhook(
            f"{where} is not a{' non-empty' if non_empty else ''} list"
        )
    return raw


def _text(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedCoexistenceWebhook(f"{where}.{key} is missing or not a string")
    return value


def _optional_text(item: dict[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedCoexistenceWebhook(f"{where}.{key} is not a string")
    return value or None


def _number(raw: Any, where: str) -> int:
    """An integer, or a string of digits (never a boolean)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    raise MalformedCoexistenceWebhook(f"{where} is not a number")


def _time(raw: Any, where: str) -> dt.datetime:
    """Meta's Unix time (a string of digits)."""
    seconds = _number(raw, where)
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedCoexistenceWebhook(f"{where} is not a time") from exc
