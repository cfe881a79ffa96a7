"""api.twilio.com 2010: the Messages log (twilio.com/docs/messaging/api/message-resource).

The simulator sends no message of its own; its log holds what its numbers received: an
SMS handed over by ``Sandbox.deliver_text`` is a Message with direction ``inbound`` and
status ``received`` (:mod:`.inbound`). Served as the REST API serves the log: list
(newest first; ``To``, ``From``, ``DateSent``, ``DateSent<``, ``DateSent>``), fetch and
delete. A closed account keeps its history, readable with the parent's credentials
("you will still have access to historical data", help.twilio.com/articles/223135987);
deleting needs a live account.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .accounts import V2010, Principal
from .base import TwilioBase
from .errors import invalid, not_found
from .paging import page_2010
from .wire import public, rfc2822

ACC = "/api/2010-04-01/Accounts/<account_sid>"
RULES = [
    Rule(f"{ACC}/Messages.json", endpoint="messages_list", methods=["GET"]),
    Rule(f"{ACC}/Messages/<sid>.json", endpoint="message_item", methods=["GET", "DELETE"]),
]


def segments(body: str) -> int:
    """SMS segments: 160 GSM characters alone, 153 when concatenated; 70/67 in UCS-2.
    (ASCII stands in for the GSM-7 alphabet.)"""
    single, part = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / part)


def _day(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise invalid(name, "use YYYY-MM-DD") from exc


class MessagesMixin(TwilioBase):
    """The account's Messages log."""

    def messages_path(self, account_sid: str) -> str:
        return f"{V2010}/Accounts/{account_sid}/Messages"

    def record_message(
        self,
        *,
        account_sid: str,
        from_: str,
        to: str,
        body: str,
        direction: str,
        status: str,
        messaging_service_sid: str | None = None,
    ) -> dict[str, Any]:
        """Put one Message in ``account_sid``'s log and return it."""
        now = self.clock.time()
        sid = self.sandbox.ids.sid("SM")
        uri = f"{self.messages_path(account_sid)}/{sid}"
        message = {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": rfc2822(now),
            "date_sent": rfc2822(now),
            "date_updated": rfc2822(now),
            "direction": direction,
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": messaging_service_sid,
            "num_media": "0",
            "num_segments": str(segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": to,
            "uri": f"{uri}.json",
            "_sent_at": now,
        }
        self.messages[sid] = message
        return message

    def messages_list(self, request: Request, principal: Principal, account_sid: str) -> Response:
        self.reach_2010(principal, account_sid)  # any status: the history stays readable
        args = request.args
        items = [m for m in self.messages.values() if m["account_sid"] == account_sid]
        for name, field in (("To", "to"), ("From", "from")):
            if args.get(name):
                items = [m for m in items if m[field] == args[name]]
        bounds = (
            ("DateSent", lambda day, ref: day == ref),
            ("DateSent<", lambda day, ref: day <= ref),
            ("DateSent>", lambda day, ref: day >= ref),
        )
        for name, keep in bounds:
            if args.get(name):
                ref = _day(args[name], name)
                items = [m for m in items if keep(_sent_day(m), ref)]
        items.sort(key=lambda m: m["_sent_at"], reverse=True)  # newest first
        path = f"{self.messages_path(account_sid)}.json"
        return json_response(page_2010(request, [public(m) for m in items], "messages", path))

    def message_item(
        self, request: Request, principal: Principal, account_sid: str, sid: str
    ) -> Response:
        if request.method == "DELETE":
            self.active_2010(principal, account_sid, request.path)
        else:
            self.reach_2010(principal, account_sid)
        message = self.messages.get(sid)
        if message is None or message["account_sid"] != account_sid:
            raise not_found(request.path.removeprefix("/api"))
        if request.method == "DELETE":
            del self.messages[sid]
            return Response(status=204)
        return json_response(public(message))


def _sent_day(message: dict[str, Any]) -> dt.date:
    return dt.datetime.fromtimestamp(message["_sent_at"], dt.UTC).date()
