"""The toll-free verification poll: requests in review (or changed by an event) are
fetched, so their status and rejection reasons stay current when events are missed."""

from __future__ import annotations

from provisioning.twilio import tollfree

from ..extensions import db
from ..providers import provider_transport


def poll_tollfree_verifications() -> int:
    """Fetch every request due; run again, it changes nothing new. Returns how many
    changed status."""
    transport = provider_transport()
    try:
        changed = tollfree.poll(
            db.session,
            lambda company_id: tollfree.subaccount_api(db.session, company_id, transport),
            db.session.commit,
        )
        db.session.commit()
        return changed
    finally:
        transport.close()
