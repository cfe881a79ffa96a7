"""Company invitations: a company admin invites an e-mail address; the invitee accepts.

Nobody is attached to a company without their consent. An invitation names the company,
the role and the address; its one-time token (stored as a SHA-256 hash) reaches the
invitee by e-mail and expires after ``LIFETIME``. The invitee either creates an account
(no account has that address) or, signed in as the account with that address, confirms.
An invitation is spent by one conditional ``UPDATE``: it is accepted once, never after it
was revoked or expired.

The inviting admin gets the same answer whether the address has an account or not: the
invitation is created, listed as pending and e-mailed either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import ForeignKey, Index, Select, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from . import accounts, audit, mail
from .db import Base, affected_rows, enum_column, intpk, utcnow
from .errors import DomainError
from .tenancy import Company, CompanyOwned, Membership, Role, User, tenant_select
from .text import one_line
from .tokens import digest, new_token

LIFETIME = dt.timedelta(days=7)
INVALID = "This invitation is invalid, was already used, was revoked or has expired."


class InvitationInvalid(DomainError):
    def __init__(self) -> None:
        super().__init__(INVALID)


class CompanyInvitation(CompanyOwned, Base):
    __tablename__ = "company_invitations"
    __table_args__ = (Index("ix_company_invitations_company_email", "company_id", "email"),)

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[dt.datetime | None]

    company: Mapped[Company] = relationship()

    def is_open(self, now: dt.datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


def invite(
    session: Session,
    actor: audit.Actor,
    company: Company,
    email: str,
    role: Role,
    *,
    link: Callable[[str], str],
    now: dt.datetime | None = None,
) -> tuple[CompanyInvitation, str]:
    """Invite ``email`` to ``company`` as ``role`` and queue the e-mail with the link
    (``link(token)``). An open invitation of the same address is replaced. Returns the
    invitation and its token (never stored)."""
    now = now or utcnow()
    email = accounts.valid_email(email)
    if _is_member(session, company.id, email):
        raise DomainError(f"{email} is already a member of {company.name}.")
    session.execute(
        update(CompanyInvitation)
        .where(*_open(now), CompanyInvitation.company_id == company.id)
        .where(CompanyInvitation.email == email)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    token, token_hash = new_token()
    invitation = CompanyInvitation(
        company_id=company.id,
        email=email,
        role=role,
        token_hash=token_hash,
        invited_by_id=actor.user_id,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(invitation)
    session.flush()
    company_name = one_line(company.name, 120)
    # a person names themselves; an API key or the system is no one the invitee knows
    inviter = f"{one_line(actor.email)} invites you" if actor.user_id else "You are invited"
    mail.queue(
        session,
        kind="invitation",
        to=email,
        subject=f"Invitation to join {company_name} on the Partner Portal",
        body=(
            f"{inviter} to join {company_name} as "
            f"{role.label.lower()} on the Partner Portal.\n\n"
            f"Accept the invitation: {link(token)}\n\n"
            f"The link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
            "If you did not expect it, ignore this e-mail.\n"
        ),
        send_before=invitation.expires_at,
    )
    audit.record(session, actor, "invitation.create", invitation, label=email, role=role.value)
    return invitation, token


def _open(now: dt.datetime) -> tuple:
    return (
        CompanyInvitation.accepted_at.is_(None),
        CompanyInvitation.revoked_at.is_(None),
        CompanyInvitation.expires_at > now,
    )


def _is_member(session: Session, company_id: int, email: str) -> bool:
    return (
        session.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.company_id == company_id,
                Membership.is_active.is_(True),
                User.email == email,
            )
        )
        is not None
    )


def open_invitations(company_id: int, now: dt.datetime | None = None) -> Select[Any]:
    """``SELECT`` the company's open invitations."""
    return tenant_select(CompanyInvitation, company_id).where(*_open(now or utcnow()))


def pending(
    session: Session, company_id: int, now: dt.datetime | None = None
) -> list[CompanyInvitation]:
    """The company's open invitations, newest first."""
    statement = open_invitations(company_id, now).order_by(CompanyInvitation.id.desc())
    return list(session.scalars(statement))


def revoke(session: Session, actor: audit.Actor, invitation: CompanyInvitation) -> None:
    """Revoke an open invitation (the caller loaded it within its company)."""
    if not invitation.is_open(utcnow()):
        raise DomainError("This invitation is no longer pending.")
    invitation.revoked_at = utcnow()
    audit.record(session, actor, "invitation.revoke", invitation, label=invitation.email)


def find_open(session: Session, token: str, now: dt.datetime | None = None) -> CompanyInvitation:
    """The open invitation of ``token``, or ``InvitationInvalid`` (one message for all)."""
    invitation = session.scalars(
        select(CompanyInvitation).where(CompanyInvitation.token_hash == digest(token))
    ).one_or_none()
    if invitation is None or not invitation.is_open(now or utcnow()):
        raise InvitationInvalid()
    if not invitation.company.is_active:
        raise InvitationInvalid()
    return invitation


def account_of(session: Session, invitation: CompanyInvitation) -> User | None:
    return accounts.find_user(session, invitation.email)


def _spend(session: Session, token: str, now: dt.datetime) -> CompanyInvitation:
    """Mark the invitation accepted, once: of two acceptances at once, the second waits
    for the first's row lock and then matches nothing (``InvitationInvalid``)."""
    accepted = affected_rows(
        session,
        update(CompanyInvitation)
        .where(CompanyInvitation.token_hash == digest(token), *_open(now))
        .values(accepted_at=now)
        .execution_options(synchronize_session=False),
    )
    if accepted != 1:
        raise InvitationInvalid()
    invitation = session.scalars(
        select(CompanyInvitation).where(CompanyInvitation.token_hash == digest(token))
    ).one()
    session.refresh(invitation)
    return invitation


def accept(session: Session, token: str, user: User) -> Membership:
    """The signed-in ``user`` accepts: they must be the account of the invited address."""
    now = utcnow()
    invitation = find_open(session, token, now)
    if accounts.normalize_email(user.email) != invitation.email:
        raise DomainError(
            "This invitation was sent to another e-mail address: sign in with that address."
        )
    if not user.is_active:
        raise InvitationInvalid()
    return _join(session, _spend(session, token, now), user)


def accept_new_account(session: Session, token: str, name: str, password: str) -> User:
    """Create the account of the invited address with ``password``, and join."""
    now = utcnow()
    invitation = find_open(session, token, now)
    taken = DomainError("An account with this e-mail address exists: sign in to accept.")
    if account_of(session, invitation) is not None:
        raise taken
    invitation = _spend(session, token, now)
    try:
        with session.begin_nested():  # an account made meanwhile: refused, not a 500
            user = accounts.create_user(
                session, audit.Actor(None, invitation.email), invitation.email,
                name=one_line(name, 200), password=password,
            )  # fmt: skip
            session.flush()
    except IntegrityError:
        raise taken from None
    _join(session, invitation, user)
    return user


def _join(session: Session, invitation: CompanyInvitation, user: User) -> Membership:
    invitation.accepted_by_id = user.id
    actor = audit.Actor.of(user)
    membership = accounts.set_membership(session, actor, user, invitation.company, invitation.role)
    audit.record(
        session, actor, "invitation.accept", invitation, label=user.email,
        role=invitation.role.value,
    )  # fmt: skip
    return membership
