"""Hosted onboarding links: a company's single-use invitation to connect its numbers.

A platform (API key) or a company admin creates a link for one company: which options it
offers (:class:`LinkOption`), until when, where to send the visitor afterwards, and the
platform's name and logo. The link's token is handed out once (the link's URL); the
database keeps its SHA-256. Whoever opens the URL runs the chosen provider's flow on a
hosted page without an account; the run lands in the link's company, started by the link
(audited as ``onboarding-link:<public id>``).

States: ``pending`` (not opened yet), ``opened``, ``completed`` (the provider's flow
finished and the company's provisioning run started: ``channel.connected`` follows per
number), ``failed`` (the visitor cancelled, the provider reported an error, or the
platform refused what came back), ``revoked``, and ``expired`` (derived from the time,
never stored). A link serves one completion: the first one spends it with one conditional
``UPDATE``, so two completions at once, or a replayed callback, start one run; a repeat
of the completion that spent it gets the same outcome.

The hosted page launches one provider flow at a time: the launch's nonce (the flow's
``state``) is kept on the link as a digest, lives ``launches.LIFETIME``, and must come back
with the completion.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import JSON, ColumnElement, ForeignKey, String, and_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from . import audit, platform_events
from .channels import Channel
from .db import Base, affected_rows, enum_column, intpk, utcnow
from .errors import DomainError
from .launches import LIFETIME as LAUNCH_LIFETIME
from .launches import LaunchRefused
from .partners import Provider
from .runs import ProvisioningRun, RunStatus
from .tenancy import Company, CompanyOwned, tenant_select
from .text import one_line
from .tokens import digest, new_token

DEFAULT_LIFETIME = dt.timedelta(days=7)
MAX_LIFETIME = dt.timedelta(days=30)
URL_LENGTH = 2000
NAME_LENGTH = 100
PUBLIC_PREFIX = "ol_"

__all__ = ["LaunchRefused", "LinkClosed", "LinkOption", "LinkState", "OnboardingLink"]


class LinkState(enum.StrEnum):
    PENDING = "pending"
    OPENED = "opened"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"  # derived from expires_at, never stored
    REVOKED = "revoked"


OPEN = (LinkState.PENDING, LinkState.OPENED)


class LinkOption(enum.StrEnum):
    META = "meta"  # Embedded Signup: a new number for the Cloud API
    META_COEXISTENCE = "meta_coexistence"  # Embedded Signup: a WhatsApp Business app number
    DIALOG360 = "dialog360"  # 360dialog Integrated Onboarding

    @property
    def provider(self) -> Provider:
        return Provider.DIALOG360 if self is LinkOption.DIALOG360 else Provider.META

    @property
    def label(self) -> str:
        return {
            "meta": "A new number (Meta Embedded Signup)",
            "meta_coexistence": "A WhatsApp Business app number (Meta, coexistence)",
            "dialog360": "360dialog",
        }[self.value]


class FailureReason(enum.StrEnum):
    CANCELLED = "cancelled"  # the visitor cancelled in the provider's window
    PROVIDER_ERROR = "provider_error"  # the provider's flow reported an error
    REFUSED = "refused"  # the platform refused what the provider sent back


class LinkClosed(DomainError):
    """The link was used, revoked or expired (or its company deactivated)."""


def new_public_id() -> str:
    return PUBLIC_PREFIX + secrets.token_hex(12)


class OnboardingLink(CompanyOwned, Base):
    __tablename__ = "onboarding_links"

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_public_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Stored: pending, opened, completed, failed, revoked (expired is read from the time).
    status: Mapped[LinkState] = mapped_column(enum_column(LinkState), default=LinkState.PENDING)
    expires_at: Mapped[dt.datetime]
    success_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    failure_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    platform_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    logo_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    created_by: Mapped[str] = mapped_column(String(254), default="system")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]  # completed or failed
    revoked_at: Mapped[dt.datetime | None]
    option: Mapped[str | None] = mapped_column(String(30))  # the option the visitor used
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("provisioning_runs.id", ondelete="SET NULL")
    )
    failure_reason: Mapped[str] = mapped_column(String(40), default="")
    failure_message: Mapped[str] = mapped_column(String(300), default="")
    # The hosted page's current launch (one at a time): its nonce's digest, provider, end.
    launch_nonce_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    launch_provider: Mapped[str | None] = mapped_column(String(20))
    launch_expires_at: Mapped[dt.datetime | None]

    company: Mapped[Company] = relationship()
    run: Mapped[ProvisioningRun | None] = relationship()

    def state(self, now: dt.datetime | None = None) -> LinkState:
        if self.status in OPEN and (now or utcnow()) >= self.expires_at:
            return LinkState.EXPIRED
        return self.status

    @property
    def link_options(self) -> list[LinkOption]:
        return [LinkOption(o) for o in self.options]

    def offers(self, provider: Provider) -> bool:
        return any(o.provider is provider for o in self.link_options)

    @property
    def actor(self) -> audit.Actor:
        """Who acts when the link's visitor does something: the link itself."""
        return audit.Actor(None, f"onboarding-link:{self.public_id}")


def where_state(state: LinkState, now: dt.datetime) -> ColumnElement[bool]:
    """The SQL condition of links in ``state`` at ``now``."""
    if state is LinkState.EXPIRED:
        return and_(OnboardingLink.status.in_(OPEN), OnboardingLink.expires_at <= now)
    if state in OPEN:
        return and_(OnboardingLink.status == state, OnboardingLink.expires_at > now)
    return OnboardingLink.status == state


def _open_now(now: dt.datetime) -> ColumnElement[bool]:
    return and_(OnboardingLink.status.in_(OPEN), OnboardingLink.expires_at > now)


# --- creating and revoking -----------------------------------------------------------------


def create(
    session: Session,
    actor: audit.Actor,
    company: Company,
    options: Iterable[str],
    *,
    check_url: Callable[[str], None],
    expires_at: dt.datetime | None = None,
    success_url: str = "",
    failure_url: str = "",
    platform_name: str = "",
    logo_url: str = "",
    revoke_others: bool = False,
    now: dt.datetime | None = None,
) -> tuple[OnboardingLink, str]:
    """A new link of ``company`` and its token (never stored). ``check_url`` refuses a
    redirect or logo URL the portal may not use; ``revoke_others`` revokes the company's
    open links first."""
    now = now or utcnow()
    if not company.is_active:
        raise DomainError("The company is deactivated: activate it before inviting anyone.")
    chosen = _options(options)
    expires_at = _expiry(expires_at, now)
    urls = {
        "success_url": _url(success_url, check_url, "success_url"),
        "failure_url": _url(failure_url, check_url, "failure_url"),
        "logo_url": _url(logo_url, check_url, "logo_url"),
    }
    if urls["logo_url"] and not urls["logo_url"].startswith("https://"):
        raise DomainError("logo_url must use https.")
    others = open_links(session, company.id, now) if revoke_others else []
    for other in others:
        revoke(session, actor, other, now)
    token, token_hash = new_token(32)
    link = OnboardingLink(
        company_id=company.id, token_hash=token_hash, options=chosen, expires_at=expires_at,
        platform_name=one_line(platform_name or "", NAME_LENGTH), created_by=actor.email[:254],
        created_at=now, **urls,
    )  # fmt: skip
    session.add(link)
    session.flush()
    audit.record(
        session, actor, "onboarding_link.create", link, label=link.public_id, options=chosen,
        expires_at=expires_at.isoformat(), revoked=[o.public_id for o in others],
    )  # fmt: skip
    return link, token


def _options(options: Iterable[str]) -> list[str]:
    try:
        chosen = {LinkOption(o) for o in options}
    except ValueError as exc:
        raise DomainError(f"Options are {', '.join(o.value for o in LinkOption)}.") from exc
    if not chosen:
        raise DomainError("Offer at least one option.")
    return [o.value for o in LinkOption if o in chosen]


def _expiry(expires_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if expires_at is None:
        return now + DEFAULT_LIFETIME
    if expires_at.tzinfo is None:
        raise DomainError("expires_at needs a time zone.")
    if expires_at <= now:
        raise DomainError("expires_at must be in the future.")
    if expires_at > now + MAX_LIFETIME:
        raise DomainError(f"A link lives {MAX_LIFETIME.days} days at most.")
    return expires_at


def _url(value: str, check_url: Callable[[str], None], name: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > URL_LENGTH:
        raise DomainError(f"{name} is longer than {URL_LENGTH} characters.")
    try:
        check_url(value)
    except DomainError as exc:
        raise DomainError(f"{name}: {exc}") from exc
    return value


def revoke(
    session: Session, actor: audit.Actor, link: OnboardingLink, now: dt.datetime | None = None
) -> None:
    """Revoke an open link (a revoked one again: nothing changes). One conditional
    ``UPDATE``: a completion at the same moment wins or loses as a whole."""
    now = now or utcnow()
    if link.status is LinkState.REVOKED:
        return
    revoked = affected_rows(
        session,
        update(OnboardingLink)
        .where(OnboardingLink.id == link.id, _open_now(now))
        .values(status=LinkState.REVOKED, revoked_at=now)
        .execution_options(synchronize_session=False),
    )
    session.refresh(link)
    if revoked != 1:
        raise DomainError(f"This link is {link.state(now)}: there is nothing to revoke.")
    audit.record(session, actor, "onboarding_link.revoke", link, label=link.public_id)


# --- reading ----------------------------------------------------------------------------


def open_links(session: Session, company_id: int, now: dt.datetime) -> list[OnboardingLink]:
    return list(session.scalars(tenant_select(OnboardingLink, company_id).where(_open_now(now))))


def links_of(session: Session, company_id: int, limit: int = 100) -> list[OnboardingLink]:
    """The company's links, newest first."""
    return list(
        session.scalars(
            tenant_select(OnboardingLink, company_id)
            .order_by(OnboardingLink.id.desc())
            .limit(limit)
        )
    )


def find(session: Session, token: object) -> OnboardingLink | None:
    """The link of ``token``, whatever its state."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    return session.scalars(
        select(OnboardingLink).where(OnboardingLink.token_hash == digest(token))
    ).one_or_none()


def find_open(session: Session, token: object, now: dt.datetime | None = None):
    """The link of ``token`` if it can be used now, else None."""
    link = find(session, token)
    return link if link is not None and closed_because(link, now) is None else None


def find_by_launch(session: Session, nonce: object) -> OnboardingLink | None:
    """The link whose hosted page launched the flow of ``nonce`` (its ``state``)."""
    if not isinstance(nonce, str) or not nonce or len(nonce) > 200:
        return None
    return session.scalars(
        select(OnboardingLink).where(OnboardingLink.launch_nonce_hash == digest(nonce))
    ).one_or_none()


def closed_because(link: OnboardingLink, now: dt.datetime | None = None) -> str | None:
    """Why the link cannot be used now, in words for its visitor; None when it can."""
    state = link.state(now)
    if state in OPEN:
        return None if link.company.is_active else "This link can no longer be used."
    return {
        LinkState.COMPLETED: "This link was already used: the number is being connected.",
        LinkState.FAILED: "This link was already used. Ask for a new link to try again.",
        LinkState.REVOKED: "This link was withdrawn. Ask for a new link.",
        LinkState.EXPIRED: "This link has expired. Ask for a new link.",
    }[state]


def produced_channels(session: Session, link: OnboardingLink) -> list[Channel]:
    """The company's channels that the link's run connected so far (Meta numbers or
    360dialog channels named in the run's context)."""
    run = link.run
    if run is None:
        return []
    refs = run.context.get("phone_number_ids") or run.context.get("channel_ids") or []
    if not refs:
        return []
    return list(
        session.scalars(
            tenant_select(Channel, link.company_id)
            .where(Channel.provider == run.provider, Channel.provider_ref.in_(refs))
            .order_by(Channel.id)
        )
    )


def outcome_url(link: OnboardingLink) -> str | None:
    """Where the visitor goes once the link is completed or failed: the success or failure
    URL with ``link``, ``status`` (and ``reason``) added; None when the link names none."""
    completed = link.status is LinkState.COMPLETED
    base = link.success_url if completed else link.failure_url
    if not base:
        return None
    extra = [("link", link.public_id), ("status", link.status.value)]
    if not completed:
        extra.append(("reason", link.failure_reason))
    parts = urlsplit(base)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *extra]
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- the hosted page's transitions ----------------------------------------------------------


def mark_opened(session: Session, link: OnboardingLink, now: dt.datetime | None = None) -> None:
    """The visitor opened the link (recorded once)."""
    now = now or utcnow()
    opened = affected_rows(
        session,
        update(OnboardingLink)
        .where(OnboardingLink.id == link.id, OnboardingLink.status == LinkState.PENDING)
        .values(status=LinkState.OPENED, opened_at=now)
        .execution_options(synchronize_session=False),
    )
    if opened == 1:
        session.refresh(link)
        audit.record(session, link.actor, "onboarding_link.open", link, label=link.public_id)


def launch(
    session: Session, link: OnboardingLink, provider: Provider, now: dt.datetime | None = None
) -> str:
    """A fresh nonce for one launch of ``provider``'s flow from the link's page; it replaces
    the link's earlier launch. ``LinkClosed`` when the link cannot be used."""
    now = now or utcnow()
    why = closed_because(link, now)
    if why:
        raise LinkClosed(why)
    if not link.offers(provider):
        raise DomainError(f"This link does not offer {provider.brand}.")
    nonce, nonce_hash = new_token(24)
    launched = affected_rows(
        session,
        update(OnboardingLink)
        .where(OnboardingLink.id == link.id, _open_now(now))
        .values(
            status=LinkState.OPENED,
            opened_at=link.opened_at or now,
            launch_nonce_hash=nonce_hash,
            launch_provider=provider.value,
            launch_expires_at=now + LAUNCH_LIFETIME,
        )
        .execution_options(synchronize_session=False),
    )
    session.refresh(link)
    if launched != 1:
        raise LinkClosed(closed_because(link, now) or "This link can no longer be used.")
    audit.record(session, link.actor, "onboarding_link.launch", link, label=link.public_id,
                 provider=provider.value)  # fmt: skip
    return nonce


@dataclass(frozen=True)
class Completion:
    link: OnboardingLink
    new: bool  # this call spent the link; False: a repeat of the completion that did

    @property
    def run(self) -> ProvisioningRun | None:
        return self.link.run

    @property
    def runnable(self) -> bool:
        """The run this call started waits for its first execution."""
        return self.new and self.run is not None and self.run.status.runnable


Start = Callable[[str], tuple[ProvisioningRun, LinkOption | None]]


def complete(
    session: Session,
    link: OnboardingLink,
    nonce: object,
    provider: Provider,
    start: Start,
    *,
    now: dt.datetime | None = None,
    is_same: Callable[[OnboardingLink], bool] = lambda link: True,
) -> Completion:
    """Spend the link's launch and start its run, once.

    ``start(state_nonce)`` starts the company's run (in a savepoint) and says which option
    the visitor used. The link is completed (``link.completed``), or failed
    (``link.failed``) when the visitor cancelled, the provider reported an error, or
    ``start`` refused what came back (what it wrote is undone). A repeat of the completion
    that spent the link (the same nonce, and ``is_same``) gets that outcome again:
    ``Completion(new=False)``. Otherwise ``LaunchRefused`` (a nonce that is missing,
    unknown, replaced or expired) or ``LinkClosed``."""
    now = now or utcnow()
    if not isinstance(nonce, str) or not nonce or len(nonce) > 200:
        raise LaunchRefused("The request carries no state: start the connection again.")
    spent = affected_rows(
        session,
        update(OnboardingLink)
        .where(
            OnboardingLink.id == link.id,
            _open_now(now),
            OnboardingLink.launch_nonce_hash == digest(nonce),
            OnboardingLink.launch_provider == provider.value,
            OnboardingLink.launch_expires_at > now,
        )
        .values(status=LinkState.COMPLETED, completed_at=now)
        .execution_options(synchronize_session=False),
    )
    session.refresh(link)  # a completion at the same moment may have spent it since
    if spent != 1:
        return Completion(_repeat(link, nonce, provider, now, is_same), False)
    try:
        with session.begin_nested():
            run, option = start(digest(nonce))
    except DomainError as exc:
        _finish(session, link, None, None, FailureReason.REFUSED, str(exc))
        return Completion(link, True)
    if run.status is RunStatus.CANCELLED:
        reason: FailureReason | None = FailureReason.CANCELLED
    elif run.status is RunStatus.FAILED:
        reason = FailureReason.PROVIDER_ERROR
    else:
        reason = None
    _finish(session, link, run, option, reason, run.error_message or "")
    return Completion(link, True)


def _repeat(
    link: OnboardingLink,
    nonce: str,
    provider: Provider,
    now: dt.datetime,
    is_same: Callable[[OnboardingLink], bool],
) -> OnboardingLink:
    """The link a first completion with ``nonce`` finished, or the reason this one fails."""
    mine = link.launch_nonce_hash == digest(nonce) and link.launch_provider == provider.value
    if mine and link.status in (LinkState.COMPLETED, LinkState.FAILED) and is_same(link):
        return link
    why = closed_because(link, now)
    if why:
        raise LinkClosed(why)
    if not mine:
        raise LaunchRefused("This connection attempt is unknown or was replaced: start again.")
    raise LaunchRefused("This connection attempt expired: start again.")


def _finish(
    session: Session,
    link: OnboardingLink,
    run: ProvisioningRun | None,
    option: LinkOption | None,
    reason: FailureReason | None,
    message: str,
) -> None:
    """Record the spent link's outcome, its audit entry and its event."""
    link.run_id = run.id if run is not None else None
    link.option = option.value if option is not None else None
    if reason is not None:
        link.status = LinkState.FAILED
        link.failure_reason, link.failure_message = reason.value, one_line(message, 300)
    session.flush()
    session.refresh(link)  # the relationship to the run
    kind = "completed" if reason is None else "failed"
    audit.record(
        session, link.actor, f"onboarding_link.{'complete' if reason is None else 'fail'}", link,
        label=link.public_id, run_id=link.run_id, reason=link.failure_reason,
    )  # fmt: skip
    platform_events.emit(
        session,
        f"link.{kind}",
        link.company_id,
        f"link:{link.public_id}",
        {"link": event_data(link)},
    )


def event_data(link: OnboardingLink) -> dict[str, Any]:
    """The link as its events carry it."""
    return {
        "id": link.public_id,
        "state": link.status.value,
        "option": link.option,
        "run": link.run_id,
        "failure_reason": link.failure_reason or None,
    }
