"""Seed a sandbox with the partner identities the demo configurations use."""

from __future__ import annotations

from provisioning.sandbox import Sandbox

from . import demo


def speed_up_for_a_live_demo(sandbox: Sandbox) -> None:
    """Seconds instead of minutes for a 360dialog channel to go live, for a template's,
    a display name's and an official business account's review (a person waits)."""
    sandbox.dialog360.control_set_channel_timeline(submitted=3, ready=3, running=3)
    for simulator in (sandbox.meta, sandbox.dialog360, sandbox.twilio):
        simulator.control_set_template_review(seconds=10)
    sandbox.meta.control_set_display_name_review(seconds=10)
    sandbox.meta.control_set_oba_review(seconds=20)


def seed_sandbox(sandbox: Sandbox, public_url: str) -> None:
    """Create the Meta app, the 360dialog partner and the Twilio master account."""
    sandbox.meta.control_seed_app(
        app_id=demo.META_APP["app_id"],
        app_secret=demo.META_APP["app_secret"],
        name="Demo Partner App",
        webhook_url=f"{public_url}/webhooks/meta",
        verify_token=demo.META_VERIFY_TOKEN,
    )
    sandbox.dialog360.control_seed_partner(
        partner_id=demo.D360_PARTNER["partner_id"],
        api_key=demo.D360_PARTNER["api_key"],
        webhook_url=f"{public_url}/webhooks/360dialog",
        webhook_secret=demo.D360_WEBHOOK_SECRET,
        redirect_url=f"{public_url}/onboarding/360dialog/return",
    )
    # The local demo's webhook URLs carry a port (:5000), which 360dialog would refuse.
    sandbox.dialog360.control_allow_loopback_ports(enabled=True)
    sandbox.twilio.control_seed_master(
        account_sid=demo.TWILIO_MASTER["account_sid"],
        auth_token=demo.TWILIO_MASTER["auth_token"],
        friendly_name="Demo ISV",
    )
