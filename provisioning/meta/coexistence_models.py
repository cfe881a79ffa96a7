"""The coexistence sync of a WhatsApp Business app number: one row per number (issue 17
item 4), for the onboarding Meta last reported.

Meta accepts each sync (contacts, history) once per onboarding and only within 24 hours
of it, and exposes no Graph field for a sync's progress: this row is what the platform
knows, from its own requests and from the ``smb_app_state_sync`` and ``history`` webhooks.
A request is *requested* when the platform sent it (or may have: an answer lost after the
call counts), and *confirmed* once Meta answered it, refused it as already requested, or
sent a webhook for it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, created_at, intpk, updated_at
from ..tenancy import CompanyOwned
from .models import MetaWhatsAppPhoneNumber

NOT_REQUESTED, UNCONFIRMED, REQUESTED = "not_requested", "unconfirmed", "requested"
RECEIVING, IN_PROGRESS, COMPLETE, DECLINED = "receiving", "in_progress", "complete", "declined"


class MetaCoexistenceSync(CompanyOwned, Base):
    __tablename__ = "meta_coexistence_syncs"
    __table_args__ = (Index("ix_meta_coexistence_syncs_window", "window_closes_at"),)

    id: Mapped[intpk]
    number_id: Mapped[int] = mapped_column(
        ForeignKey("meta_whatsapp_phone_numbers.id", ondelete="CASCADE"), unique=True
    )
    # Meta's last_onboarded_time, once read; the window closes 24 hours after it.
    onboarded_at: Mapped[dt.datetime | None]
    window_closes_at: Mapped[dt.datetime | None]
    window_warned_at: Mapped[dt.datetime | None]
    contacts_requested_at: Mapped[dt.datetime | None]
    contacts_confirmed_at: Mapped[dt.datetime | None]
    contacts_request_id: Mapped[str | None] = mapped_column(String(64))
    contacts_count: Mapped[int] = mapped_column(default=0)  # contact changes received
    history_requested_at: Mapped[dt.datetime | None]
    history_confirmed_at: Mapped[dt.datetime | None]
    history_request_id: Mapped[str | None] = mapped_column(String(64))
    history_progress: Mapped[int | None]  # 0-100, the furthest Meta reported
    history_phase: Mapped[int | None]  # 0: day 0-1, 1: day 1-90, 2: day 90-180
    history_messages: Mapped[int] = mapped_column(default=0)
    history_declined: Mapped[bool] = mapped_column(Boolean, default=False)
    history_completed_at: Mapped[dt.datetime | None]
    last_event_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    number: Mapped[MetaWhatsAppPhoneNumber] = relationship()

    @property
    def contacts_status(self) -> str:
        if self.contacts_requested_at is None:
            return NOT_REQUESTED
        if self.contacts_count:
            return RECEIVING
        return REQUESTED if self.contacts_confirmed_at else UNCONFIRMED

    @property
    def history_status(self) -> str:
        if self.history_declined:
            return DECLINED
        if self.history_completed_at is not None:
            return COMPLETE
        if self.history_requested_at is None:
            return NOT_REQUESTED
        if self.history_progress is not None:
            return IN_PROGRESS
        return REQUESTED if self.history_confirmed_at else UNCONFIRMED

    def requested_at(self, sync_type: str) -> dt.datetime | None:
        return (
            self.contacts_requested_at if sync_type == "smb_app_state_sync"
            else self.history_requested_at
        )  # fmt: skip

    def confirmed_at(self, sync_type: str) -> dt.datetime | None:
        return (
            self.contacts_confirmed_at if sync_type == "smb_app_state_sync"
            else self.history_confirmed_at
        )  # fmt: skip

    @property
    def all_requested(self) -> bool:
        return self.contacts_requested_at is not None and self.history_requested_at is not None
