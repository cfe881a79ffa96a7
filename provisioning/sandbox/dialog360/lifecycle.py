"""Channel status over simulated time: created -> submitted -> ready -> running.

Each step waits its timeline duration (seconds after the previous step) and then POSTs
the partner webhook ``channel_<status>`` (fact sheet "Lifecycle and partner webhooks").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import templates
from .state import DEFAULT_TIMELINE, LIFECYCLE, Channel

if TYPE_CHECKING:
    from .base import Dialog360Base


def next_status(status: str) -> str | None:
    if status in LIFECYCLE and status != LIFECYCLE[-1]:
        return LIFECYCLE[LIFECYCLE.index(status) + 1]
    return None


def schedule(sim: Dialog360Base, channel: Channel, since: float | None = None) -> None:
    """Plan the channel's next transition from ``since`` (default: now)."""
    following = next_status(channel.status)
    delay = None
    if following is not None:
        timeline = {**DEFAULT_TIMELINE, **sim.default_timeline, **channel.timeline}
        delay = timeline.get(following)
    if delay is None:
        channel.next_at = None
        sim.store.pending.discard(channel.id)
        return
    channel.next_at = (sim.clock.time() if since is None else since) + float(delay)
    sim.store.pending.add(channel.id)


def move(sim: Dialog360Base, channel: Channel, status: str, *, emit: bool = True) -> None:
    """Set the status now and send its webhook (``channel_<status>``) when it has one."""
    channel.status = status
    channel.modified_at = sim.clock.time()
    if status == "running" and channel.billing_started_at is None:
        channel.billing_started_at = channel.modified_at
        sim.store.wabas[channel.waba_id].status = "approved"
        sim.store.wabas[channel.waba_id].fb_account_status = "verified"
    if emit and status in LIFECYCLE[1:]:
        sim.partner_webhooks.channel_event(channel, f"channel_{status}")


def advance_to(sim: Dialog360Base, channel: Channel, status: str) -> None:
    """Walk the lifecycle up to ``status`` now, sending every skipped step's webhook in order;
    other statuses (open set) are set directly."""
    if status in LIFECYCLE and channel.status in LIFECYCLE:
        target = LIFECYCLE.index(status)
        while LIFECYCLE.index(channel.status) < target:
            move(sim, channel, LIFECYCLE[LIFECYCLE.index(channel.status) + 1])
        if channel.status != status:  # backwards: set without a webhook
            move(sim, channel, status, emit=False)
    else:
        move(sim, channel, status)
    schedule(sim, channel)


def tick(sim: Dialog360Base) -> None:
    """Fire every transition that is due, oldest first, catching up over long jumps."""
    now = sim.clock.time()
    while True:
        due = [
            sim.store.channels[cid]
            for cid in sim.store.pending
            if (sim.store.channels[cid].next_at or now + 1) <= now
        ]
        if not due:
            break
        for channel in sorted(due, key=lambda c: (c.next_at, c.created_at)):
            at = channel.next_at
            following = next_status(channel.status)
            if following is None or at is None:
                sim.store.pending.discard(channel.id)
                continue
            move(sim, channel, following)
            channel.modified_at = at
            schedule(sim, channel, since=at)
    templates.review_due(sim)  # and the template reviews that became due
