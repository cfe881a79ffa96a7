"""Zero-touch WhatsApp registration (issue 17 item 7): a number the platform bought from
Twilio gets its WhatsApp verification code from its own inbound SMS, with no person
relaying it.

The bought number's SMS come to the platform (its ``SmsUrl`` is the platform's Twilio
messages webhook). When such a message is addressed to a number whose Meta registration
expects a code (even while it is still asking Meta for it: the SMS may arrive first), and
the number belongs to the same company in the Twilio pool, the code in its body is handed
to the registration, which then verifies it. Anything else is left
alone. A wrong code (someone texting six digits) is refused by Meta and the registration
asks again; nothing else changes.

It joins two providers, so it lives outside both packages, beside the job that applies
Twilio's stored events.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import SYSTEM
from .events import WebhookEvent
from .meta import registration
from .phones import digits_of
from .twilio.models import SmsPhoneNumber
from .twilio.webhooks import callback_params


def capture_code(session: Session, event: WebhookEvent) -> list[int]:
    """The registration runs a stored Twilio inbound SMS gives a code to (at most one)."""
    if not event.dedupe_key.startswith("messages:"):
        return []
    params = callback_params(event.payload)
    to = digits_of(params.get("To", ""))
    if not to or registration.code_in(params.get("Body", "")) is None:
        return []
    run = registration.expecting_code(session, to)
    if run is None:
        return []
    ours = session.scalar(
        select(SmsPhoneNumber.id).where(
            SmsPhoneNumber.phone_number == f"+{to}",
            SmsPhoneNumber.company_id == run.company_id,
            SmsPhoneNumber.status == "active",
        )
    )
    if ours is None:
        return []
    registration.give_code(session, SYSTEM, run, params["Body"])
    return [run.id]
