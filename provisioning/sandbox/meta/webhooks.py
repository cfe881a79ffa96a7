"""Webhooks from Meta to the platform: §2.3 envelope, routing, X-Hub-Signature-256."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from ..core import dumps
from .base import MetaBase
from .state import App, Waba

# Fact sheet §1.6 (M-override): overrides apply only to message-type fields; template and
# account fields always go to the app's callback URL.
MESSAGE_FIELDS = frozenset(
    {"messages", "smb_message_echoes", "smb_app_state_sync", "history", "message_echoes"}
)
# Partner-level events reach the partner app without a per-WABA subscription (ES completion
# fires account_update before the platform calls subscribed_apps).
PARTNER_FIELDS = frozenset({"account_update"})


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(app secret, exact body bytes)>`` (fact sheet §2.2)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhooksMixin(MetaBase):
    """Builds, routes, signs and sends webhooks; can duplicate or reorder deliveries."""

    def envelope(self, entry_id: str, field_name: str, value: dict[str, Any]) -> dict[str, Any]:
        """§2.3's envelope. ``entry[].id`` is the WABA, except for the partner events of
        ``account_update``, where it is the business (M-wh/account_update)."""
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": entry_id,
                    "time": int(self.clock.time()),
                    "changes": [{"value": value, "field": field_name}],
                }
            ],
        }

    def destinations(
        self, waba: Waba, field_name: str, phone_id: str | None = None
    ) -> list[tuple[App, str]]:
        """(app, url) pairs: every app subscribed to the WABA that wants this field."""
        app_ids = list(waba.subscribed_apps)
        if (
            field_name in PARTNER_FIELDS
            and waba.partner_app_id
            and waba.partner_app_id not in app_ids
        ):
            app_ids.append(waba.partner_app_id)
        result = []
        for app_id in app_ids:
            app = self.apps.get(app_id)
            if app is None or field_name not in app.fields:
                continue
            url = app.webhook_url
            if field_name in MESSAGE_FIELDS:
                override = waba.subscribed_apps.get(app_id)
                phone = self.phones.get(phone_id or "")
                if phone is not None and phone.webhook_override:
                    url = phone.webhook_override["override_callback_uri"]
                elif override:
                    url = override["override_callback_uri"]
            if url:
                result.append((app, url))
        return result

    def emit_webhook(
        self,
        waba_id: str,
        field_name: str,
        value: dict[str, Any],
        phone_id: str | None = None,
        *,
        entry_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Send one change about the WABA to every destination (``entry_id`` overrides the
        envelope's id); returns what was (or will be) delivered."""
        waba = self.wabas[waba_id]
        payload = self.envelope(entry_id or waba_id, field_name, value)
        body = dumps(payload)  # UTF-8, non-ASCII kept (signature is over these bytes)
        sent = []
        for app, url in self.destinations(waba, field_name, phone_id):
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": sign(app.secret, body),
                "User-Agent": "facebookexternalua",
            }
            self._deliver(url, body, headers)
            sent.append({"app_id": app.app_id, "url": url, "payload": payload})
        return sent

    def _deliver(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        copies = 2 if self.delivery["duplicate"] else 1
        for _ in range(copies):
            if self.delivery["reorder"]:
                # hold this one back; it goes out after the next webhook (or on flush/tick)
                self.held.append((url, body, headers))
                if len(self.held) > 1:
                    self.flush_held(newest_first=True)
            else:
                self.sandbox.outbound.send("meta", url, body, headers)

    def flush_held(self, *, newest_first: bool = True) -> int:
        """Send held-back deliveries, newest first (so they arrive out of order)."""
        held, self.held = self.held, []
        for url, body, headers in reversed(held) if newest_first else held:
            self.sandbox.outbound.send("meta", url, body, headers)
        return len(held)
