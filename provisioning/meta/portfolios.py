"""Business portfolios: the one messaging limit every number of a portfolio shares.

Since October 2025 Meta sets messaging limits per business portfolio, not per number
(M-limits): 250, 2K, 10K, 100K, unlimited. A change reaches the platform as
``business_capability_update`` (one per WABA of the portfolio) or through Graph's
``whatsapp_business_manager_messaging_limit`` on any of its numbers. Either way it is
applied here once: the portfolio's row, every number's channel, and a single alert when
the limit dropped, however many numbers and WABAs the portfolio has.

Throughput (``phone_number_quality_update``) is the number's own and never passes here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..channels import Channel
from ..health import limit_rank, observe_group
from ..tenancy import tenant_select
from .models import MetaBusinessPortfolio, MetaWhatsAppClient

# business_capability_update's deprecated integer field (M-wh/business_capability_update).
LIMIT_NUMBERS = {
    250: "TIER_250",
    1000: "TIER_1K",
    2000: "TIER_2K",
    10_000: "TIER_10K",
    100_000: "TIER_100K",
    -1: "TIER_UNLIMITED",
}


def tier(value: Any) -> str | None:
    """A limit as Meta's raw tier string: ``TIER_2K`` stays, 2000 (the integer field) and
    ``{"current_limit": ...}`` (an object on some versions) become ``TIER_2K``."""
    if isinstance(value, dict):
        value = value.get("current_limit") or value.get("tier")
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int):
        return LIMIT_NUMBERS.get(value, str(value))
    text = str(value).strip()
    if re.fullmatch(r"-?[0-9]+", text):
        return LIMIT_NUMBERS.get(int(text), text)
    return text


def portfolio_for(
    session: Session, company_id: int, business_id: str, name: str | None = None
) -> MetaBusinessPortfolio:
    """The company's row for a business portfolio, created on first sight."""
    portfolio = session.scalars(
        tenant_select(MetaBusinessPortfolio, company_id).where(
            MetaBusinessPortfolio.business_id == business_id
        )
    ).one_or_none()
    if portfolio is None:
        portfolio = MetaBusinessPortfolio(company_id=company_id, business_id=business_id)
        session.add(portfolio)
    if name:
        portfolio.name = name
    session.flush()
    return portfolio


def client_portfolio(session: Session, client: MetaWhatsAppClient) -> MetaBusinessPortfolio | None:
    """The client's portfolio, linked from its business id if it was not yet."""
    if client.portfolio is None and client.business_id:
        client.portfolio = portfolio_for(session, client.company_id, client.business_id)
    return client.portfolio


def apply_limit(
    session: Session,
    portfolio: MetaBusinessPortfolio,
    value: Any,
    *,
    source: str,
    at: dt.datetime | None = None,
) -> bool:
    """Set the portfolio's messaging limit and show it on every number of the portfolio,
    with one alert when it dropped. An unchanged limit, or one older than the last
    applied (webhooks arrive out of order), changes nothing."""
    limit = tier(value)
    if not limit or limit == portfolio.messaging_limit:
        return False
    if at is not None and portfolio.limit_observed_at and at < portfolio.limit_observed_at:
        return False
    before = portfolio.messaging_limit
    # Meta's event times are compared with each other only (a read from Graph has none)
    portfolio.messaging_limit = limit
    portfolio.limit_observed_at = at or portfolio.limit_observed_at
    numbers = portfolio.phone_numbers
    for number in numbers:
        number.messaging_limit = limit
    channel_ids = [n.channel_id for n in numbers if n.channel_id is not None]
    channels = session.scalars(
        select(Channel).where(Channel.id.in_(channel_ids)).order_by(Channel.id)
    ).all()
    old, new = limit_rank(before), limit_rank(limit)
    dropped = old is not None and new is not None and new < old
    reason = f"messaging limit dropped from {before} to {limit}" if dropped else None
    label = portfolio.name or f"business {portfolio.business_id}"
    observe_group(
        session,
        channels,
        source=source,
        at=at,
        reason=reason,
        message=(
            f"Business portfolio {label}: {reason}, shared by its {len(channels)} "
            f"number{'s' if len(channels) != 1 else ''}."
            if reason
            else None
        ),
        messaging_limit=limit,
    )
    return True
