"""Coexistence jobs: the warning before Meta's 24 hours to synchronize a WhatsApp Business
app number's contacts and history close (``provisioning.meta.coexistence_sync``)."""

from __future__ import annotations

from provisioning.meta import coexistence_sync

from ..extensions import db


def warn_closing_windows() -> int:
    """One alert per number whose sync was not asked for while less than four hours of the
    window remain; run again, it raises none twice."""
    raised = coexistence_sync.warn_closing_windows(db.session)
    db.session.commit()
    return raised
