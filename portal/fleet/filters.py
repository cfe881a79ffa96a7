"""The fleet pages' query string: filters and keyset cursors, checked and echoed back.

A value that cannot be right (unknown provider, malformed status, a cursor that is not
an id) is ignored with a message saying so; it never reaches the database as an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from provisioning import fleet
from provisioning.partners import Provider

from ..extensions import db

# Statuses and limits are the providers' own open vocabularies: any short plain value.
PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_ ,./+-]{1,40}$")
QUALITY_VALUE = re.compile(r"^[A-Z_]{1,20}$")
SLUG = re.compile(r"^[a-z0-9-]{1,80}$")
CURSOR = re.compile(r"^[0-9]{1,18}$")
TRUE, FALSE = {"1", "on", "yes", "true"}, {"", "0", "off", "no", "false"}


@dataclass
class FleetQuery:
    where: fleet.FleetFilter = field(default_factory=fleet.FleetFilter)
    after: int | None = None
    before: int | None = None
    problems: list[str] = field(default_factory=list)
    # The accepted filters as query arguments, for the pager, facet and reset links.
    args: dict[str, str] = field(default_factory=dict)

    def link(self, **changes: str | None) -> dict[str, str]:
        """Query arguments for a link: these filters with ``changes`` (None drops one)."""
        merged = {**self.args, **changes}
        return {key: value for key, value in merged.items() if value is not None}


def parse(args: Mapping[str, str], *, company_filter: bool) -> FleetQuery:
    """Read the filters and cursor; ``company_filter`` allows ``?company=<slug>`` (admins)."""
    query = FleetQuery()
    values: dict[str, object] = {}
    provider = args.get("provider", "").strip().lower()
    if provider:
        if provider in {p.value for p in Provider}:
            values["provider"], query.args["provider"] = Provider(provider), provider
        else:
            query.problems.append(f"There is no provider “{provider[:40]}”; filter ignored.")
    quality = args.get("quality", "").strip().upper()
    if quality:
        if QUALITY_VALUE.match(quality):
            values["quality_rating"], query.args["quality"] = quality, quality
        else:
            query.problems.append("A quality rating is a word like GREEN; filter ignored.")
    for name, attribute, label in (
        ("status", "status", "status"),
        ("limit", "messaging_limit", "messaging limit"),
    ):
        value = args.get(name, "").strip()
        if value:
            if PLAIN_VALUE.match(value):
                values[attribute], query.args[name] = value, value
            else:
                query.problems.append(f"That {label} cannot exist; filter ignored.")
    reauth = args.get("reauth", "").strip().lower()
    if reauth in TRUE:
        values["needs_reauthorization"], query.args["reauth"] = True, "1"
    elif reauth not in FALSE:
        query.problems.append("“Needs reauthorization” is on or off; filter ignored.")
    slug = args.get("company", "").strip().lower()
    if slug and company_filter:
        company = fleet.company_by_slug(db.session, slug) if SLUG.match(slug) else None
        if company is None:
            query.problems.append(f"There is no company “{slug[:80]}”; filter ignored.")
        else:
            values["company_id"], query.args["company"] = company.id, slug
    query.where = fleet.FleetFilter(**values)  # type: ignore[arg-type]
    query.after, query.before = _cursors(args, query.problems)
    return query


def _cursors(args: Mapping[str, str], problems: list[str]) -> tuple[int | None, int | None]:
    try:
        after, before = (_cursor(args.get(name, "")) for name in ("after", "before"))
    except ValueError:
        problems.append("That page does not exist; showing the first page.")
        return None, None
    if after is not None and before is not None:
        problems.append("A page is either after or before a channel, not both.")
        return None, None
    return after, before


def _cursor(text: str) -> int | None:
    """A channel id, or None when absent; ValueError when it cannot be one."""
    text = text.strip()
    if not text:
        return None
    if not CURSOR.match(text):
        raise ValueError(text)
    return int(text)
