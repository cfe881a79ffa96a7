"""Seed a sandbox with the partner identities the demo configurations use."""

from __future__ import annotations

from provisioning.sandbox import Sandbox

from . import demo


def speed_up_for_a_live_demo(sandbox: Sandbox) -> None:
    """Seconds instead of minutes for a 360dialog channel to go live (a person waits)."""
    sandbox.dialog360.control_set_channel_timeline(submitted=3, ready=3, running=3)


def seed_sandbox(sandbox: Sandbox, public_url: str) -> None:
    """Create the Meta app, the 360dialog partner and the Twilio master account."""
    sandbox.meta.control_seed_app(
        **demo.META_APP,
        name="Demo Partner App",
        webhook_url=f"{public_url}/webhooks/meta",
        verify_token=demo.META_VERIFY_TOKEN,
    )
    sandbox.dialog360.control_seed_partner(
        **demo.D360_PARTNER,
        webhook_url=f"{public_url}/webhooks/360dialog",
        webhook_secret=demo.D360_WEBHOOK_SECRET,
        redirect_url=f"{public_url}/onboarding/360dialog/return",
    )
    # The local demo's webhook URLs carry a port (:5000), which 360dialog would refuse.
    sandbox.dialog360.control_allow_loopback_ports(enabled=True)
    sandbox.twilio.control_seed_master(**demo.TWILIO_MASTER, friendly_name="Demo ISV")
