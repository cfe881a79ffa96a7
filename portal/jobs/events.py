"""The delivery of platform events to the endpoints the platform registered
(:mod:`provisioning.platform_events`): due deliveries, signed, one attempt each."""

from __future__ import annotations

import logging

from flask import current_app

from provisioning import audit, platform_events
from provisioning.platform_events import EventEndpoint

from ..extensions import db

log = logging.getLogger("portal.jobs")


def deliver_events() -> dict:
    """Send every due delivery once; an endpoint failing for over a day is disabled."""
    transport = current_app.config.get("EVENTS_TRANSPORT")  # tests: an in-process one
    with platform_events.http_client(transport) as client:
        counts = platform_events.deliver_due(db.session, platform_events.http_sender(client))
    for endpoint_id in counts["disabled"]:
        endpoint = db.session.get_one(EventEndpoint, endpoint_id)
        audit.record(db.session, audit.SYSTEM, "event_endpoint.disabled", endpoint,
                     label=endpoint.url, reason=endpoint.disabled_reason)  # fmt: skip
        log.warning("event endpoint %d disabled: %s", endpoint_id, endpoint.disabled_reason)
    db.session.commit()
    return counts
