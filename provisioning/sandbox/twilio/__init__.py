"""Twilio simulator: api.twilio.com 2010, Messaging v1/v2, TrustHub v1, Events v1."""

from .simulator import TwilioSimulator

__all__ = ["TwilioSimulator"]
