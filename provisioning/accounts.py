"""Users' credentials: password hashing, sign-in with throttling, invitations.

Sign-in attempts go through :mod:`provisioning.login_throttle` (growing delays per
account, device and address, counted before the password is checked); new passwords go
through :mod:`provisioning.password_policy`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from . import login_throttle, mail, password_policy, user_sessions
from .audit import Actor, record
from .db import Base, intpk, utcnow
from .errors import DomainError
from .login_throttle import LoginThrottled  # noqa: F401 (authenticate raises it)
from .password_policy import MIN_PASSWORD_LENGTH  # noqa: F401 (the rule lives there)
from .tenancy import Company, Membership, Role, User
from .tokens import SingleUseLink, new_token

INVITATION_LIFETIME = dt.timedelta(days=7)
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class InvalidCredentials(DomainError):
    def __init__(self) -> None:
        super().__init__("Wrong e-mail or password.")


class Invitation(SingleUseLink, Base):
    """A platform admin's set-password link for a user they created (shown to the admin)."""

    __tablename__ = "invitations"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> str:
    """The normalised address, or ``DomainError`` saying what is wrong with it."""
    try:
        validate_email(email.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise DomainError(f"{email.strip()!r} is not an e-mail address: {exc}") from None
    return normalize_email(email)


def hash_password(password: str, email: str = "") -> str:
    """The scrypt hash of an acceptable new password (``DomainError`` says what is wrong)."""
    problem = password_policy.problem(password, email)
    if problem:
        raise DomainError(problem)
    return generate_password_hash(password, method="scrypt")


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    address: str,
    device: str | None = None,
    commit: Callable[[], None],
) -> User:
    """The active user with these credentials, or ``InvalidCredentials``/``LoginThrottled``.

    The attempt is counted and committed (``commit``) before the password is checked, so
    concurrent guesses cannot outrun the throttle; a success clears the account's count
    (the caller commits that). ``device`` is the browser's device token for this e-mail.
    """
    email = normalize_email(email)
    keys = login_throttle.keys_for(email, address, device)
    login_throttle.reserve(session, keys)
    commit()
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    valid = check_password_hash(stored, password) and user is not None and user.is_active
    if not valid or user is None or not user.password_hash:
        raise InvalidCredentials()
    login_throttle.succeeded(session, keys)
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == normalize_email(email))).one_or_none()


def create_user(
    session: Session,
    actor: Actor,
    email: str,
    *,
    name: str = "",
    password: str | None = None,
    platform_admin: bool = False,
) -> User:
    email = valid_email(email)
    if find_user(session, email) is not None:
        raise DomainError(f"A user with the e-mail {email} already exists.")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password, email) if password else None,
        is_platform_admin=platform_admin,
    )
    session.add(user)
    record(session, actor, "user.create", user, label=email, platform_admin=platform_admin)
    return user


def set_membership(
    session: Session, actor: Actor, user: User, company: Company, role: Role
) -> Membership:
    """Give ``user`` the ``role`` in ``company`` (creating or reactivating the membership)."""
    membership = session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.company_id == company.id)
    ).one_or_none()
    if membership is None:
        membership = Membership(user=user, company=company, role=role)
        session.add(membership)
        action = "membership.create"
    else:
        action = "membership.update"
        membership.role, membership.is_active = role, True
    record(
        session, actor, action, membership, label=user.email, company_id=company.id, role=role.value
    )
    return membership


def add_member(
    session: Session, actor: Actor, company: Company, email: str, name: str, role: Role
) -> tuple[User, str | None]:
    """Give a user a role in the company, creating and inviting the user when new.

    Returns the user and, for a new user, the one-time invitation token.
    """
    user = find_user(session, email)
    token = None
    if user is None:
        user, token = create_invited_user(session, actor, email, name=name)
    set_membership(session, actor, user, company, role)
    return user, token


def create_invited_user(
    session: Session, actor: Actor, email: str, *, name: str = "", platform_admin: bool = False
) -> tuple[User, str]:
    """A new user without a password and the one-time invitation token to set one."""
    user = create_user(session, actor, email, name=name, platform_admin=platform_admin)
    session.flush()
    return user, invite(session, actor, user)


def deactivate_membership(session: Session, actor: Actor, membership: Membership) -> None:
    membership.is_active = False
    record(
        session,
        actor,
        "membership.deactivate",
        membership,
        label=membership.user.email,
        company_id=membership.company_id,
    )


def change_role(session: Session, actor: Actor, membership: Membership, role: Role) -> Membership:
    """Give a member another role in their company; its last active admin stays one."""
    keep_an_admin(session, membership, role)
    return set_membership(session, actor, membership.user, membership.company, role)


def remove_member(session: Session, actor: Actor, membership: Membership) -> None:
    """Take a member out of their company (their account stays); never its last admin."""
    keep_an_admin(session, membership, None)
    deactivate_membership(session, actor, membership)


def keep_an_admin(session: Session, membership: Membership, new_role: Role | None) -> None:
    """``DomainError`` when ``membership`` is its company's last active admin and would
    stop being one (``new_role`` None: removed). The admins' rows are locked, so two
    admins demoting each other at once cannot leave the company without one."""
    if not membership.is_active or membership.role is not Role.ADMIN or new_role is Role.ADMIN:
        return
    admins = session.scalars(
        select(Membership.id)
        .where(
            Membership.company_id == membership.company_id,
            Membership.role == Role.ADMIN,
            Membership.is_active.is_(True),
        )
        .with_for_update()
    ).all()
    if len(admins) <= 1:
        raise DomainError("The company needs at least one admin.")


def set_user_active(session: Session, actor: Actor, user: User, active: bool) -> None:
    if actor.user_id == user.id and not active:
        raise DomainError("You cannot deactivate yourself.")
    user.is_active = active
    if not active:
        user_sessions.end_all(session, user.id, "deactivated")
    record(session, actor, "user.activate" if active else "user.deactivate", user, label=user.email)


def update_user(
    session: Session, actor: Actor, user: User, name: str, is_platform_admin: bool
) -> None:
    if actor.user_id == user.id and not is_platform_admin:
        raise DomainError("You cannot remove your own admin rights.")
    changes = {"name": name.strip(), "is_platform_admin": is_platform_admin}
    changed = sorted(k for k, v in changes.items() if getattr(user, k) != v)
    for key, value in changes.items():
        setattr(user, key, value)
    record(session, actor, "user.update", user, label=user.email, changed=changed)


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password, user.email)


def change_password(session: Session, user: User, password: str, *, forgot_link: str) -> None:
    """Set a new password (already checked against the current one), end every session
    of the user (the caller starts a new one for the person who changed it) and tell the
    account by e-mail, with ``forgot_link`` in case it was not its owner."""
    set_password(session, user, password)
    user_sessions.end_all(session, user.id, "password changed")
    notify_password_changed(session, user, "on the account page", forgot_link)
    record(session, Actor.of(user), "user.password_change", user, label=user.email)


def notify_password_changed(session: Session, user: User, how: str, forgot_link: str) -> None:
    """Queue the "your password was changed" e-mail to the account's address (ASVS 2.2.3,
    2.5.x): an owner whose password someone else changed learns it, and how to take the
    account back. It says when and ``how``; never the password."""
    mail.queue(
        session,
        kind="password_changed",
        to=user.email,
        subject="Your Partner Portal password was changed",
        body=(
            f"The password of the Partner Portal account {user.email} was changed\n"
            f"{how} on {utcnow():%Y-%m-%d %H:%M} UTC. The sessions signed in before\n"
            "were signed out.\n\n"
            "If that was you, there is nothing to do.\n\n"
            'If it was not you, choose a new password now with "Forgot your password?"\n'
            f"({forgot_link}) and tell your platform administrator.\n"
        ),
    )


def invite(session: Session, actor: Actor, user: User) -> str:
    """A one-time token (shown once, stored hashed) that lets ``user`` set a password."""
    token, token_hash = new_token()
    session.add(
        Invitation(
            user_id=user.id,
            token_hash=token_hash,
            expires_at=utcnow() + INVITATION_LIFETIME,
        )
    )
    record(session, actor, "user.invite", user, label=user.email)
    return token


INVALID_INVITATION = "This invitation link is invalid, used or expired. Ask for a new one."


def invitation_user(session: Session, token: str) -> tuple[Invitation, User]:
    invitation = Invitation.find_live(session, token, utcnow())
    if invitation is None:
        raise DomainError(INVALID_INVITATION)
    user = session.get(User, invitation.user_id)
    if user is None or not user.is_active:
        raise DomainError("This account is not active.")
    return invitation, user


def accept_invitation(session: Session, token: str, password: str, *, forgot_link: str) -> User:
    """Spend the link (once, even against a submission at the same moment) and set the
    password; ``DomainError`` when the link is not live. An account that had a password
    is reset: every session ends and the account is told by e-mail."""
    _, user = invitation_user(session, token)
    if Invitation.spend(session, token, utcnow()) is None:  # spent a moment ago
        raise DomainError(INVALID_INVITATION)
    had_password = user.password_hash is not None
    set_password(session, user, password)
    if had_password:
        user_sessions.end_all(session, user.id, "password reset")
        notify_password_changed(
            session, user, "with a set-password link from a platform admin", forgot_link
        )
    record(session, Actor.of(user), "user.accept_invitation", user, label=user.email)
    return user
