"""The template model: listings reconciled, webhook changes applied in order, alerts and
events for what needs a person."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import event, select

from provisioning import platform_events
from provisioning.audit import SYSTEM
from provisioning.db import utcnow
from provisioning.health import Alert, Notification
from provisioning.templates import core
from provisioning.templates.core import Listing, RemoteTemplate
from provisioning.templates.models import MessageTemplate, TemplateChange
from provisioning.tenancy import Role

BODY = [
    {"type": "BODY", "text": "Your order {{1}} has shipped.", "example": {"body_text": [["42"]]}}
]


def remote(name="order_update", status="APPROVED", **changes) -> RemoteTemplate:
    values = dict(
        provider_template_id=f"id-{name}",
        name=name,
        language="en_US",
        category="UTILITY",
        status=status,
        components=BODY,
    )
    return RemoteTemplate(**(values | changes))


@pytest.fixture
def account(session, make):
    company = make.company("Templates Co")
    make.user(company, Role.ADMIN, email="owner@templates.example")
    account = core.ensure_account(session, company.id, "meta", "waba-1", "Main")
    session.commit()
    return account


@pytest.fixture
def endpoint(session):
    endpoint = platform_events.add_endpoint(
        session,
        SYSTEM,
        "https://events.example/hook",
        check_url=lambda url: None,
        event_types=["template.updated"],
    )
    session.commit()
    return endpoint


def events_of(session) -> list[dict]:
    rows = session.scalars(
        select(platform_events.PlatformEvent)
        .where(platform_events.PlatformEvent.type == "template.updated")
        .order_by(platform_events.PlatformEvent.id)
    )
    return [json.loads(row.payload)["data"]["template"] for row in rows]


def alerts(session, account) -> list[str]:
    rows = session.scalars(
        select(Alert).where(Alert.company_id == account.company_id).order_by(Alert.id)
    )
    return [row.message for row in rows]


def test_a_listing_creates_templates_and_an_unchanged_one_writes_nothing(session, account):
    listing = Listing([remote("a"), remote("b", status="PENDING")])
    assert core.reconcile(session, account, listing).created == 2
    session.commit()

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = core.reconcile(
            session, account, Listing([remote("a"), remote("b", status="PENDING")])
        )
        session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (result.unchanged, result.changed, result.created) == (2, 0, 0)
    assert statements == []


def test_a_status_change_in_a_listing_is_recorded_alerted_and_announced(session, account, endpoint):
    core.reconcile(session, account, Listing([remote("a", status="PENDING")]))
    result = core.reconcile(
        session,
        account,
        Listing([remote("a", status="REJECTED", rejected_reason="INVALID_FORMAT")]),
    )
    session.commit()
    assert result.changed == 1
    row = session.scalars(select(MessageTemplate)).one()
    kinds = [(c.kind, c.before, c.after) for c in reversed(core.history(session, row))]
    assert kinds == [("created", None, "PENDING"), ("status", "PENDING", "REJECTED")]
    assert "format is invalid" in core.history(session, row)[0].detail
    [message] = alerts(session, account)
    assert "order" not in message and "a (en_US) was rejected" in message
    assert "format is invalid" in message
    assert [e["status"] for e in events_of(session)] == ["PENDING", "REJECTED"]
    # the company's admin is told (and the platform's admins, none here)
    assert session.scalars(select(Notification)).all()


def test_a_template_gone_from_a_whole_listing_is_marked_deleted_but_a_skipped_one_is_kept(
    session, account
):
    core.reconcile(session, account, Listing([remote("a"), remote("b")]))
    listing = Listing()
    listing.add({"id": "id-b", "name": "b", "components": "not a list"}, lambda raw: 1 / 0)
    result = core.reconcile(session, account, listing)
    rows = {r.name: r.status for r in session.scalars(select(MessageTemplate))}
    assert rows == {"a": "DELETED", "b": "APPROVED"} and result.deleted == 1
    assert account.skipped == [{"id": "id-b", "name": "b", "problem": "division by zero"}]


def test_a_malformed_template_is_skipped_and_the_others_are_read():
    def parse(raw):
        if not isinstance(raw.get("name"), str):
            raise core.Malformed("the name is missing")
        return remote(raw["name"])

    listing = Listing()
    for raw in ({"name": "a"}, {"id": "7", "name": None}, {"name": "c"}):
        listing.add(raw, parse)
    assert [t.name for t in listing.templates] == ["a", "c"]
    assert listing.skipped == [{"id": "7", "name": "", "problem": "the name is missing"}]


def test_an_older_webhook_changes_nothing(session, account):
    row = core.create(session, account, remote("a"), source="sync", at=utcnow())
    now = utcnow()
    assert core.update(session, row, source="webhook", at=now, status="PAUSED")
    assert not core.update(
        session, row, source="webhook", at=now - dt.timedelta(seconds=5), status="APPROVED"
    )
    assert row.status == "PAUSED"


def test_a_pause_after_a_red_quality_score_raises_one_alert(session, account):
    row = core.create(session, account, remote("a"), source="sync", at=utcnow())
    core.update(session, row, source="webhook", at=utcnow(), quality_score="RED")
    core.update(session, row, source="webhook", at=utcnow(), status="PAUSED")
    assert len(alerts(session, account)) == 1 and "paused" in alerts(session, account)[0]
    kinds = [c.kind for c in reversed(core.history(session, row))]
    assert kinds == ["created", "quality", "status"]


def test_a_recategorisation_is_announced_then_applied(session, account, endpoint):
    row = core.create(session, account, remote("a"), source="sync", at=utcnow())
    core.update(session, row, source="webhook", at=utcnow(), impending_category="MARKETING")
    assert (row.category, row.impending_category) == ("UTILITY", "MARKETING")
    assert row.category_change_at is not None
    core.update(session, row, source="webhook", at=utcnow(), impending_category="MARKETING")
    core.update(session, row, source="webhook", at=utcnow(), category="MARKETING")
    assert (row.category, row.previous_category, row.impending_category) == (
        "MARKETING",
        "UTILITY",
        None,
    )
    messages = alerts(session, account)
    assert len(messages) == 2
    assert "will move this template from UTILITY to MARKETING" in messages[0]
    assert "moved this template from UTILITY to MARKETING" in messages[1]
    assert "marketing price" in messages[1]
    kinds = [c.kind for c in session.scalars(select(TemplateChange).order_by(TemplateChange.id))]
    assert kinds == ["created", "category_impending", "category"]
    assert [e["impending_category"] for e in events_of(session)] == [None, "MARKETING", None]
