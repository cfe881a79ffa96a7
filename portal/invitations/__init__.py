"""Company invitations: sending one (:func:`send`, for the team page and the API), and the
invitee's side (``routes``: accept with a new account, or confirm)."""

from __future__ import annotations

from flask import current_app

from provisioning import invitations
from provisioning.audit import Actor
from provisioning.errors import DomainError
from provisioning.invitations import CompanyInvitation
from provisioning.tenancy import Company, Role

from ..extensions import db
from ..jobs import enqueue
from ..links import public_url


def send(actor: Actor, company: Company, email: str, role: Role) -> tuple[CompanyInvitation, str]:
    """Invite ``email`` and wake the mail job; the invitation and its link (for a portal
    without a mail server, outside production, to pass on). Production without a mail
    server refuses: the link would reach nobody."""
    mail_server = current_app.config.get("SMTP_URL")
    if not mail_server and current_app.config["PORTAL_ENV"] == "production":
        raise DomainError(
            "Invitations are sent by e-mail: the platform has no mail server (SMTP_URL)."
        )
    invitation, token = invitations.invite(
        db.session, actor, company, email, role,
        link=lambda token: public_url("invitations.accept", token=token),
    )  # fmt: skip
    enqueue("mail.send")
    return invitation, public_url("invitations.accept", token=token)
