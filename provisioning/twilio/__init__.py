"""Twilio integration: the official SDK wired to httpx (``sdk.make_client``)."""
