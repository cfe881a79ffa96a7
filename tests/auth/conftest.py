"""Fixtures for the sign-in tests: a still clock for the throttle (the SMTP inbox is the
suite's, in tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from provisioning import login_throttle

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen_clock(monkeypatch):
    """The throttle's clock stands still: no delay runs out while a test runs."""
    monkeypatch.setattr(login_throttle, "utcnow", lambda: NOW)
