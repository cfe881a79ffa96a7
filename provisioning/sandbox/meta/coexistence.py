"""Coexistence: a number onboarded from the WhatsApp Business app shares its contacts and chat
history with the partner (``POST /{phone}/smb_app_data``), and what the business sends from
the app comes back as echoes.

Shapes follow Meta's pages (developers.facebook.com/documentation/business-messaging/whatsapp/):

- ``embedded-signup/onboarding-business-app-users`` (Synchronizing WhatsApp Business app
  data): ``messaging_product=whatsapp`` with ``sync_type`` ``smb_app_state_sync`` (contacts)
  or ``history`` answers ``{"messaging_product": "whatsapp", "request_id"}``; each sync type
  once per onboarding, within 24 hours of onboarding; an answer says nothing of whether the
  business shares its history.
- ``webhooks/reference/history``: three phases (0: day 0-1, 1: day 1-90, 2: day 90-180
  before onboarding) sent in chunks (``metadata.phase``, ``chunk_order``, ``progress`` 0-100,
  100 when the whole sync is done); no webhook for a phase without messages; a media message
  is a ``media_placeholder`` whose asset follows in its own history webhook
  (``value.messages``) when it is at most 14 days old; a business that declined history
  sharing gets one history webhook whose ``history[].errors[]`` carries code 2593109.
- ``webhooks/reference/smb_app_state_sync``: ``state_sync[]`` contacts, action ``add`` (added
  or edited) or ``remove`` (no names); later changes to the app's contacts follow once the
  contacts sync was requested.
- ``webhooks/reference/smb_message_echoes``: ``message_echoes[]`` (from, to, id, timestamp,
  type and its content). Since the business-scoped user ids of 2026
  (``business-scoped-user-ids``) an echo also names ``to_user_id`` and the value carries a
  ``contacts[]`` entry with ``user_id``, as pywa 4.5 reads echoes; the reference page itself
  (May 2026) still shows neither.

Choices of the simulator's own, as Meta documents none: a refused request is Graph code 100
with ``error_data.details`` saying why (not a WhatsApp Business app number, the 24 hours since
onboarding are over, this sync type was already requested since the number was onboarded);
webhooks start ``DELIVERY_DELAY`` seconds after the request and follow one another every
``CHUNK_INTERVAL`` seconds on the sandbox clock. Meta exposes no Graph field for a sync's
progress, so it stays internal (control ``coexistence_status``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .base import MetaBase
from .errors import GraphError, invalid_parameter
from .graph import Call
from .state import PhoneNumber

SYNC_TYPES = ("smb_app_state_sync", "history")
SYNC_WINDOW = 24 * 3600.0
DELIVERY_DELAY = 5.0
CHUNK_INTERVAL = 10.0
CONTACTS_PER_WEBHOOK = 50
PHASE_DAYS = ((0, 1), (1, 90), (90, 180))  # days before onboarding each history phase covers
HISTORY_DECLINED = {
    "code": 2593109,
    "title": "History sync is turned off by the business from the WhatsApp Business App",
    "message": "History sync is turned off by the business from the WhatsApp Business App",
    "error_data": {"details": "History sharing is turned off by the business"},
}
NAMES = ("Ana Souza", "Bruno Lima", "Chen Wei", "Dara Okafor", "Elif Demir", "Farah Haddad")
LINES = ("Hi! Are you open on Saturday?", "Yes, from 9 to 5. See you then!",
         "Can I pick up my order tomorrow?", "Of course, it is ready.")  # fmt: skip


@dataclass
class Delivery:
    """A webhook due at ``at`` on the sandbox clock."""

    at: float
    field: str
    value: dict[str, Any]


@dataclass
class AppData:
    """A coexistence number's WhatsApp Business app data and the syncs asked of it."""

    onboarded_at: float
    contacts: list[dict[str, str]]  # full_name, first_name, phone_number
    history: list[int] = field(default_factory=lambda: [4, 6, 0])  # messages per phase
    chunk_size: int = 5
    media: int = 1  # media messages among phase 0's (their assets follow separately)
    declined: bool = False
    requests: dict[str, str] = field(default_factory=dict)  # sync type -> request id
    due: list[Delivery] = field(default_factory=list)
    progress: int | None = None  # the last history progress sent
    history_declined_sent: bool = False
    sent: int = 0


def _contact(index: int) -> dict[str, str]:
    name = NAMES[index] if index < len(NAMES) else f"Customer {index + 1}"
    return {"full_name": name, "first_name": name.split()[0], "phone_number": f"1555020{index:04d}"}


def _refused(details: str) -> GraphError:
    return GraphError(
        f"(#100) {details}", 100, error_data={"messaging_product": "whatsapp", "details": details}
    )


class CoexistenceMixin(MetaBase):
    """``smb_app_data``, the contacts and history webhooks on the clock, and echoes."""

    # -- Graph ----------------------------------------------------------------------------
    def smb_app_data(self, call: Call, phone_id: str) -> dict[str, Any]:
        """``POST /{phone}/smb_app_data``: start one sync; its webhooks follow on the clock."""
        token = self.authenticate(call)
        phone = self.phone_for(call, phone_id, token)
        product = call.params.get("messaging_product")
        if not product:
            raise invalid_parameter("The parameter messaging_product is required")
        if str(product).lower() != "whatsapp":
            raise invalid_parameter(
                f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".'
            )
        sync_type = str(call.params.get("sync_type") or "")
        if not sync_type:
            raise invalid_parameter("The parameter sync_type is required")
        if sync_type not in SYNC_TYPES:
            choices = "{SMB_APP_STATE_SYNC, HISTORY}"
            raise invalid_parameter(
                f'Param sync_type must be one of {choices} - got "{sync_type}".'
            )
        if not phone.is_on_biz_app:
            raise _refused(
                "This phone number was not onboarded from the WhatsApp Business app: it has no "
                "app contacts or chat history to synchronize."
            )
        data = self.app_data(phone)
        if self.clock.time() > data.onboarded_at + SYNC_WINDOW:
            raise _refused(
                "The 24 hours to synchronize WhatsApp Business app data after onboarding are "
                "over: the business must offboard and complete Embedded Signup again."
            )
        if sync_type in data.requests:
            raise _refused(
                f"The {sync_type} synchronization was already requested for this phone number: "
                "it can be requested once per onboarding."
            )
        request_id = self.sandbox.ids.alnum(24)
        data.requests[sync_type] = request_id
        start = self.clock.time() + DELIVERY_DELAY
        if sync_type == "smb_app_state_sync":
            data.due += self._contact_deliveries(phone, data, start)
        else:
            data.due += self._history_deliveries(phone, data, start)
        data.due.sort(key=lambda delivery: delivery.at)
        return {"messaging_product": "whatsapp", "request_id": request_id}

    # -- state ----------------------------------------------------------------------------
    def app_data(self, phone: PhoneNumber) -> AppData:
        """The number's app data; a new onboarding allows each sync once more."""
        onboarded_at = phone.last_onboarded_time or phone.created
        data = self.coexistence.get(phone.id)
        if data is None:
            data = AppData(onboarded_at, [_contact(i) for i in range(3)])
            self.coexistence[phone.id] = data
        elif data.onboarded_at != onboarded_at:
            data.onboarded_at, data.requests, data.due = onboarded_at, {}, []
            data.progress, data.history_declined_sent = None, False
        return data

    def tick_coexistence(self) -> None:
        """Send every coexistence webhook that is due."""
        now = self.clock.time()
        for phone_id in list(self.coexistence):
            self._send_due(phone_id, now=now)

    def _send_due(
        self, phone_id: str, *, now: float | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Send due deliveries in order; each is taken out before it is sent (sending lets go
        of the sandbox lock, and a concurrent tick must not send it twice)."""
        data, phone = self.coexistence.get(phone_id), self.phones.get(phone_id)
        if data is None or phone is None:
            self.coexistence.pop(phone_id, None)
            return []
        sent: list[dict[str, Any]] = []
        count = 0
        while data.due and (now is None or data.due[0].at <= now):
            if limit is not None and count >= limit:
                break
            delivery = data.due.pop(0)
            count += 1
            self._note(data, delivery)
            sent += self.emit_webhook(phone.waba_id, delivery.field, delivery.value, phone.id)
        return sent

    @staticmethod
    def _note(data: AppData, delivery: Delivery) -> None:
        data.sent += 1
        for entry in delivery.value.get("history") or []:
            if "errors" in entry:
                data.history_declined_sent = True
            else:
                data.progress = entry["metadata"]["progress"]

    # -- what the webhooks carry ------------------------------------------------------------
    def _value(self, phone: PhoneNumber, **content: Any) -> dict[str, Any]:
        metadata = {"display_phone_number": phone.number, "phone_number_id": phone.id}
        return {"messaging_product": "whatsapp", "metadata": metadata, **content}

    def _contact_deliveries(
        self, phone: PhoneNumber, data: AppData, start: float
    ) -> list[Delivery]:
        stamp = str(int(self.clock.time()))
        entries = [_state_entry(contact, "add", stamp) for contact in data.contacts]
        return [
            Delivery(
                start + n * CHUNK_INTERVAL,
                "smb_app_state_sync",
                self._value(phone, state_sync=entries[i : i + CONTACTS_PER_WEBHOOK]),
            )
            for n, i in enumerate(range(0, len(entries), CONTACTS_PER_WEBHOOK))
        ]

    def _history_deliveries(
        self, phone: PhoneNumber, data: AppData, start: float
    ) -> list[Delivery]:
        """The whole history as Meta sends it: chunks per phase (none for an empty phase),
        each media message's asset right after its chunk; or the decline."""
        if data.declined:
            return [Delivery(start, "history", self._value(phone, history=[
                {"errors": [dict(HISTORY_DECLINED)]}
            ]))]  # fmt: skip
        total, done, at = sum(data.history), 0, start
        deliveries: list[Delivery] = []
        for phase, count in enumerate(data.history):
            messages = self._phase_messages(phone, data, phase, count)
            for order, first in enumerate(range(0, count, data.chunk_size), start=1):
                chunk = messages[first : first + data.chunk_size]
                done += len(chunk)
                progress = 100 if done == total else done * 100 // total
                entry = {
                    "metadata": {"phase": phase, "chunk_order": order, "progress": progress},
                    "threads": _threads(chunk),
                }
                deliveries.append(Delivery(at, "history", self._value(phone, history=[entry])))
                at += CHUNK_INTERVAL
                for _, message in chunk:
                    if message["type"] == "media_placeholder":
                        media = self._media_asset(message)
                        deliveries.append(
                            Delivery(at, "history", self._value(phone, messages=[media]))
                        )
                        at += CHUNK_INTERVAL
        return deliveries

    def _phase_messages(
        self, phone: PhoneNumber, data: AppData, phase: int, count: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """``count`` messages (thread id, message), oldest first, spread over the phase's days;
        customers write first and the business answers; phase 0's last ``media`` messages the
        business sent are media."""
        low, high = PHASE_DAYS[phase]
        users = [c["phone_number"] for c in data.contacts] or ["15550209999"]
        media_left = data.media if phase == 0 else 0
        messages: list[tuple[str, dict[str, Any]]] = []
        for i in range(count):
            days = low + (high - low) * (count - i) / (count + 1)
            user = users[(i // 2) % len(users)]
            from_business = i % 2 == 1
            message: dict[str, Any] = {
                "from": phone.number if from_business else user,
                "id": "wamid." + self.sandbox.ids.token(40),
                "timestamp": str(int(data.onboarded_at - days * 86400)),
            }
            if from_business and media_left and count - i <= 2 * media_left:
                media_left -= 1
                message.update(type="media_placeholder")
            else:
                message.update(type="text", text={"body": LINES[i % len(LINES)]})
            message["history_context"] = {"status": "READ" if not from_business else "DELIVERED"}
            messages.append((user, message))
        return messages

    def _media_asset(self, placeholder: dict[str, Any]) -> dict[str, Any]:
        ids = self.sandbox.ids
        return {
            "from": placeholder["from"],
            "id": placeholder["id"],
            "timestamp": placeholder["timestamp"],
            "type": "image",
            "image": {"caption": "Our new catalogue", "mime_type": "image/jpeg",
                      "sha256": ids.hex(64), "id": ids.digits(17)},
        }  # fmt: skip

    # -- controls ---------------------------------------------------------------------------
    def control_seed_coexistence(
        self,
        *,
        phone_number_id: str,
        contacts: int = 3,
        history: list[int] | None = None,
        chunk_size: int = 5,
        media: int = 1,
        declined: bool = False,
    ) -> dict[str, Any]:
        """Shape a WhatsApp Business app number's data: ``contacts`` in its address book,
        ``history`` messages in phases 0, 1 and 2 (default [4, 6, 0]), ``chunk_size`` messages
        per history webhook, ``media`` media messages in phase 0, and whether the business
        ``declined`` history sharing. Applies to syncs requested afterwards."""
        phone = self._biz_app_phone(phone_number_id)
        history = [4, 6, 0] if history is None else [int(n) for n in history]
        if len(history) != 3 or min(history) < 0:
            raise ValueError("history must be three message counts (phases 0, 1 and 2), each >= 0")
        if chunk_size < 1 or contacts < 0 or not 0 <= media <= history[0] // 2:
            raise ValueError("chunk_size >= 1, contacts >= 0 and media at most half of phase 0")
        data = self.app_data(phone)
        data.contacts = [_contact(i) for i in range(contacts)]
        data.history, data.chunk_size, data.media = history, chunk_size, media
        data.declined = bool(declined)
        return self.control_coexistence_status(phone_number_id=phone.id)

    def control_decline_history(
        self, *, phone_number_id: str, declined: bool = True
    ) -> dict[str, Any]:
        """The business declined (or allowed again) history sharing in the app: a history sync
        requested afterwards gets the decline (code 2593109) instead of the chunks."""
        data = self.app_data(self._biz_app_phone(phone_number_id))
        data.declined = bool(declined)
        return {"phone_number_id": phone_number_id, "declined": data.declined}

    def control_advance_coexistence(
        self, *, phone_number_id: str, deliveries: int | None = None
    ) -> dict[str, Any]:
        """Send the number's next ``deliveries`` pending webhooks now (all by default),
        whatever the clock says: a sync walked through its phases one chunk at a time."""
        sent = self._send_due(phone_number_id, limit=deliveries)
        data = self.coexistence.get(phone_number_id)
        return {"sent": sent, "pending": len(data.due) if data else 0}

    def control_app_contact(
        self,
        *,
        phone_number_id: str,
        phone_number: str,
        full_name: str = "",
        action: str = "add",
    ) -> dict[str, Any]:
        """The business adds, edits (``add``) or removes (``remove``) a contact in the app;
        once the contacts sync was requested, an smb_app_state_sync webhook says so."""
        if action not in ("add", "remove"):
            raise ValueError("action must be add or remove")
        phone = self._biz_app_phone(phone_number_id)
        data = self.app_data(phone)
        digits = "".join(ch for ch in phone_number if ch.isdigit())
        data.contacts = [c for c in data.contacts if c["phone_number"] != digits]
        name = full_name or f"Customer {digits[-4:]}"
        contact = {"full_name": name, "first_name": name.split()[0], "phone_number": digits}
        if action == "add":
            data.contacts.append(contact)
        sent: list[dict[str, Any]] = []
        if "smb_app_state_sync" in data.requests:
            entry = _state_entry(contact, action, str(int(self.clock.time())))
            value = self._value(phone, state_sync=[entry])
            sent = self.emit_webhook(phone.waba_id, "smb_app_state_sync", value, phone.id)
        return {"contacts": len(data.contacts), "sent": sent}

    def control_smb_message_echo(
        self,
        *,
        phone_number_id: str,
        to: str = "15550009999",
        text: str = "Thanks, see you soon!",
        name: str = "Ana",
    ) -> dict[str, Any]:
        """The business sends a text from the WhatsApp Business app: smb_message_echoes."""
        phone = self._biz_app_phone(phone_number_id)
        ids = self.sandbox.ids
        user_id = f"US.{ids.digits(16)}"
        echo = {
            "from": phone.number,
            "to": to,
            "to_user_id": user_id,
            "id": "wamid." + ids.token(40),
            "timestamp": str(int(self.clock.time())),
            "type": "text",
            "text": {"body": text},
        }
        contact = {"profile": {"name": name}, "wa_id": to, "user_id": user_id}
        value = self._value(phone, contacts=[contact], message_echoes=[echo])
        sent = self.emit_webhook(phone.waba_id, "smb_message_echoes", value, phone.id)
        return {"message_id": echo["id"], "user_id": user_id, "sent": sent}

    def control_coexistence_status(self, *, phone_number_id: str) -> dict[str, Any]:
        """What Meta keeps of the number's syncs (no Graph field shows it)."""
        phone = self.phones[phone_number_id]
        data = self.app_data(phone) if phone.is_on_biz_app else None
        if data is None:
            return {"phone_number_id": phone.id, "is_on_biz_app": False}
        closes = data.onboarded_at + SYNC_WINDOW
        if data.history_declined_sent:
            history_state = "declined"
        elif data.progress == 100:
            history_state = "complete"
        elif "history" in data.requests:
            history_state = "in_progress"
        else:
            history_state = "not_requested"
        return {
            "phone_number_id": phone.id,
            "is_on_biz_app": True,
            "onboarded_at": _iso(data.onboarded_at),
            "window_closes_at": _iso(closes),
            "window_open": self.clock.time() <= closes,
            "requests": dict(data.requests),
            "contacts": len(data.contacts),
            "history": list(data.history),
            "declined": data.declined,
            "history_state": history_state,
            "history_progress": data.progress,
            "pending": len(data.due),
            "next_at": _iso(data.due[0].at) if data.due else None,
        }

    def _biz_app_phone(self, phone_number_id: str) -> PhoneNumber:
        phone = self.phones[phone_number_id]
        if not phone.is_on_biz_app:
            raise ValueError(f"{phone_number_id} was not onboarded from the WhatsApp Business app")
        return phone


def _state_entry(contact: dict[str, str], action: str, stamp: str) -> dict[str, Any]:
    """One ``state_sync`` item; a removal names only the phone number."""
    shown = contact if action == "add" else {"phone_number": contact["phone_number"]}
    return {"type": "contact", "contact": dict(shown), "action": action,
            "metadata": {"timestamp": stamp}}  # fmt: skip


def _threads(chunk: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Messages grouped into one thread per WhatsApp user, in the order met."""
    threads: dict[str, list[dict[str, Any]]] = {}
    for user, message in chunk:
        threads.setdefault(user, []).append(message)
    return [{"id": user, "messages": messages} for user, messages in threads.items()]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()
