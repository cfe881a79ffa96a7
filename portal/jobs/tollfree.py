"""The toll-free verification poll: requests in review (or changed by an event) are
fetched, so their status and rejection reasons stay current when events are missed."""

from __future__ import annotations

from provisioning.partners import PartnerConfiguration
from provisioning.twilio import numbers, tollfree
from provisioning.twilio.api import TwilioApi

from ..extensions import db
from ..providers import provider_transport


def poll_tollfree_verifications() -> int:
    """Fetch every request due; run again, it changes nothing new. Returns how many
    changed status."""
    transport = provider_transport()
    try:

        def client_of(company_id: int) -> TwilioApi | None:
            sub = numbers.subaccount_of(db.session, company_id)
            if sub is None or not sub.account_sid or sub.status != "active":
                return None
            config = db.session.get(PartnerConfiguration, sub.partner_configuration_id)
            if config is None:
                return None
            return numbers.subaccount_client(sub, config, transport)

        changed = tollfree.poll(db.session, client_of, db.session.commit)
        db.session.commit()
        return changed
    finally:
        transport.close()
