"""Seed the demo sandbox with the partner identities the demo configurations use."""

from __future__ import annotations

from provisioning.sandbox import Sandbox


def seed_sandbox(sandbox: Sandbox, public_url: str) -> None:
    """Filled in once the simulators expose their seed actions."""
