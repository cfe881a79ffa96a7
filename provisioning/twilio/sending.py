"""Whether an SMS number can send now, and in plain words why not.

Each registration a number may need gives its verdict (:data:`CHECKS`): the toll-free
verification of a toll-free number (30032 without it), the 10DLC campaign of a North
American local number (30034 without it). A check answers None when it does not apply,
``(False, why)`` when it stops the number, ``(True, what)`` when it is settled; the first
objection decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from . import campaign_numbers, tollfree
from .models import SmsPhoneNumber

Verdict = tuple[bool, str] | None
CHECKS: tuple[Callable[[Session, SmsPhoneNumber], Verdict], ...] = (
    tollfree.send_check,
    campaign_numbers.send_check,
)


@dataclass(frozen=True)
class SendReadiness:
    """Whether a number can send SMS now, and in plain words why (not)."""

    can_send: bool
    reason: str


def can_send(session: Session, number: SmsPhoneNumber) -> SendReadiness:
    """Whether ``number`` can send SMS now, with the reason."""
    if number.status != "active":
        return SendReadiness(False, f"The number is {number.status}, not active.")
    if not (number.capabilities or {}).get("sms", True):
        return SendReadiness(False, "The number has no SMS capability.")
    settled = "The number is active with SMS."
    for check in CHECKS:
        verdict = check(session, number)
        if verdict is None:
            continue
        ok, reason = verdict
        if not ok:
            return SendReadiness(False, reason)
        settled = reason
    return SendReadiness(True, settled)
