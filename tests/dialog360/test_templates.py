"""360dialog templates on the platform's side: the parser, the Partner API listing to its
end, creation and the lookup after a lost answer, and the partner event
``waba_template_status_changed`` updating the stored template through the shared core."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from sqlalchemy import func, select

from provisioning.dialog360 import templates, webhooks
from provisioning.dialog360.api import PartnerClient
from provisioning.errors import Unreachable
from provisioning.events import WebhookEvent
from provisioning.health import Alert
from provisioning.partners import Provider
from provisioning.sandbox import Sandbox, SimClock
from provisioning.templates import core
from provisioning.templates.core import Listing, Malformed
from provisioning.templates.models import MessageTemplate, TemplateChange
from provisioning.tenancy import Role

START = 1_767_225_600  # 2026-01-01T00:00:00Z
PID, KEY = "tmplPA", "k" * 32
DEMO_PID, DEMO_KEY = "demoPA", "demo-360-partner-key"  # portal.demo's sandbox partner

ITEM = {
    "id": "Xk3b9QaaTP",
    "external_id": "1466254190877233",
    "name": "order_update",
    "language": "en_US",
    "category": "utility",
    "components": [{"type": "BODY", "text": "Your order {{1}} shipped"}],
    "namespace": "c8ae5f90_307a_ca4c_b8f6_d1e2a2573574",
    "status": "approved",
    "rejected_reason": "NONE",
    "quality_score": {"score": "GREEN", "date": 1767225600},
    "partner_id": PID,
    "waba_account_id": "ZzWABA01WA",
    "created_at": "2026-01-01T00:00:00Z",
    "modified_at": "2026-01-01T00:00:00Z",
}


# -- the parser ------------------------------------------------------------------------------
def test_an_item_in_the_shared_vocabulary():
    remote = templates.parse(ITEM)
    assert (remote.provider_template_id, remote.name, remote.language) == (
        "Xk3b9QaaTP",
        "order_update",
        "en_US",
    )
    assert (remote.status, remote.category, remote.quality_score) == (
        "APPROVED",
        "UTILITY",
        "GREEN",
    )
    assert remote.rejected_reason is None and remote.components == ITEM["components"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("created", "PENDING"), ("submitted", "PENDING"), ("pending", "PENDING"),
     ("approved", "APPROVED"), ("rejected", "REJECTED"), ("paused", "PAUSED"),
     ("disabled", "DISABLED"), ("in_appeal", "IN_APPEAL"),
     ("PENDING_DELETION", "PENDING_DELETION")],
)  # fmt: skip
def test_360dialog_statuses_become_metas(status, expected):
    assert templates.parse({**ITEM, "status": status}).status == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [({"score": "YELLOW"}, "YELLOW"), ("red", "RED"), ("GREEN", "GREEN"), ("UNKNOWN", "UNKNOWN"),
     ({"score": "NA"}, "UNKNOWN"), (None, None)],
)  # fmt: skip
def test_quality_as_360dialog_gives_it(given, expected):
    assert templates.parse({**ITEM, "quality_score": given}).quality_score == expected


def test_a_rejection_keeps_its_reason():
    remote = templates.parse({**ITEM, "status": "rejected", "rejected_reason": "INVALID_FORMAT"})
    assert (remote.status, remote.rejected_reason) == ("REJECTED", "INVALID_FORMAT")


@pytest.mark.parametrize(
    ("change", "problem"),
    [({"name": None}, "name"), ({"language": ""}, "language"), ({"status": None}, "status"),
     ({"category": None}, "category"), ({"components": "BODY"}, "components"),
     ({"components": None}, "components"), ({"status": "vanished"}, "'vanished' is unknown"),
     ({"category": "TRANSACTIONAL"}, "'TRANSACTIONAL' is unknown")],
)  # fmt: skip
def test_a_malformed_item_says_why_and_is_skipped(change, problem):
    raw = {**ITEM, **change}
    with pytest.raises(Malformed, match=problem):
        templates.parse(raw)
    listing = Listing()
    listing.add(raw, templates.parse)
    listing.add(ITEM, templates.parse)
    assert [t.name for t in listing.templates] == ["order_update"]
    assert listing.skipped[0]["id"] == "Xk3b9QaaTP" and problem in listing.skipped[0]["problem"]


# -- the Partner API, against the sandbox ----------------------------------------------------
@pytest.fixture
def sandbox():
    sandbox = Sandbox(seed=16, clock=SimClock(start=START), record=True)
    sandbox.dialog360.control_seed_partner(partner_id=PID, api_key=KEY)
    return sandbox


@pytest.fixture
def wid(sandbox):
    return sandbox.dialog360.control_seed_channels(partner_id=PID)["waba_account_id"]


def partner(sandbox, transport=None, pid=PID, key=KEY) -> PartnerClient:
    return PartnerClient(
        f"{sandbox.base_url}/dialog360/hub/api/v2",
        pid,
        api_key=key,
        transport=transport or sandbox.transport(),
    )


class Recording(httpx.BaseTransport):
    """The sandbox's transport, keeping every request sent through it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.inner.handle_request(request)

    def sent(self, method: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method]


PAYLOAD = {
    "name": "shipping_note",
    "language": "de",
    "category": "UTILITY",
    "allow_category_change": True,
    "components": [{"type": "BODY", "text": "Paket {{1}} ist unterwegs"}],
    "parameter_format": None,
}


def test_the_listing_is_read_to_its_end_and_a_malformed_item_is_skipped(sandbox, wid):
    sandbox.dialog360.control_seed_templates(waba_account_id=wid, count=2500)
    broken = sandbox.dialog360.control_add_malformed_template(waba_account_id=wid)
    transport = Recording(sandbox.transport())
    with partner(sandbox, transport) as api:
        listing = templates.list_templates(api, wid)
    assert len(listing.templates) == 2500 == len({t.key for t in listing.templates})
    assert {t.status for t in listing.templates} == {"APPROVED"}
    [skipped] = listing.skipped
    assert skipped["id"] == broken["template_id"] and "language" in skipped["problem"]
    pages = [dict(r.url.params) for r in transport.sent("GET")]
    assert pages == [{"limit": "1000", "offset": str(o)} for o in (0, 1000, 2000)]


def test_a_server_that_caps_the_limit_and_gives_no_total_is_still_read_to_the_end(sandbox):
    every = [{**ITEM, "id": f"t{i:04d}TP", "name": f"t_{i:04d}"} for i in range(250)]

    def capped(request: httpx.Request) -> httpx.Response:
        limit = min(int(request.url.params["limit"]), 100)
        offset = int(request.url.params["offset"])
        items = every[offset : offset + limit]
        return httpx.Response(200, json={"limit": limit, "offset": offset, "waba_templates": items})

    with partner(sandbox, httpx.MockTransport(capped)) as api:
        listing = templates.list_templates(api, "ZzWABA01WA")
    assert len(listing.templates) == 250


def test_a_listing_that_moved_while_paged_is_read_again(sandbox):
    """A template deleted between two pages shifts the offsets: the last one would slide
    out of the listing and be taken for deleted."""
    every = [{**ITEM, "id": f"{n}TP", "name": n} for n in ("a_one", "b_two", "c_three")]
    calls = []

    def shifting(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 2:
            del every[1]  # b_two is deleted after the first page was served
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        body = {
            "total": len(every),
            "limit": limit,
            "waba_templates": every[offset : offset + limit],
        }
        return httpx.Response(200, json=body)

    with partner(sandbox, httpx.MockTransport(shifting)) as api:
        listing = templates.list_templates(api, "ZzWABA01WA", page_size=2)
    assert sorted(t.name for t in listing.templates) == ["a_one", "c_three"]
    assert [int(r.url.params["offset"]) for r in calls] == [0, 2, 0]


def test_submit_answers_the_created_template_and_find_reads_it_back(sandbox, wid):
    transport = Recording(sandbox.transport())
    with partner(sandbox, transport) as api:
        created = templates.submit(api, wid, PAYLOAD)
        assert (created.status, created.name, created.language) == (
            "PENDING",
            "shipping_note",
            "de",
        )
        assert created.provider_template_id.endswith("TP")
        [post] = transport.sent("POST")
        sent = {k: v for k, v in PAYLOAD.items() if v is not None}
        assert json.loads(post.content) == sent  # Meta's shape, without empty fields
        assert templates.find(api, wid, "shipping_note", "de") == created
        [lookup] = transport.sent("GET")
        assert json.loads(lookup.url.params["filters"]) == {"language": "de"}
        assert templates.find(api, wid, "shipping_note", "en_US") is None
        assert templates.find(api, wid, "shipping", "de") is None
        sandbox.advance(30)
        assert templates.find(api, wid, "shipping_note", "de").status == "APPROVED"


class LosesAnswers(Recording):
    """The sandbox does the work, then the answer to a POST never arrives."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST":
            response.read()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_a_creation_is_never_retried_and_find_gets_what_it_made(sandbox, wid):
    transport = LosesAnswers(sandbox.transport())
    with partner(sandbox, transport) as api:
        with pytest.raises(Unreachable):
            templates.submit(api, wid, PAYLOAD)
        assert len(transport.sent("POST")) == 1
        found = templates.find(api, wid, "shipping_note", "de")
    assert found is not None and found.status == "PENDING"


# -- the partner event, through the portal's webhook -----------------------------------------
@pytest.fixture
def connected(session, make, connected_sandbox):
    """The demo partner's sandbox posting to the app; a company holds one WABA's templates."""
    sandbox = connected_sandbox(51, Provider.DIALOG360, webhooks_to_app=True)
    company = make.company("Templates 360")
    make.user(company, Role.ADMIN)
    wid = sandbox.dialog360.control_seed_channels(partner_id=DEMO_PID)["waba_account_id"]
    account = core.ensure_account(session, company.id, "dialog360", wid, "Main")
    session.commit()
    return sandbox, account


def sync(sandbox, session, account) -> None:
    with partner(sandbox, pid=DEMO_PID, key=DEMO_KEY) as api:
        core.reconcile(session, account, templates.list_templates(api, account.account_key))
    session.commit()


def rows(session) -> list[MessageTemplate]:
    found = list(session.scalars(select(MessageTemplate).order_by(MessageTemplate.id)))
    for row in found:
        session.refresh(row)
    return found


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_pause_and_recategorisation_update_the_synced_template(app, session, connected):
    sandbox, account = connected
    sim, runner = sandbox.dialog360, app.extensions["job_runner"]
    sim.control_seed_templates(waba_account_id=account.account_key, count=1)
    sync(sandbox, session, account)
    which = {"name": "seeded_00000", "waba_account_id": account.account_key}
    sim.control_pause_template(**which)
    runner.drain()
    [row] = rows(session)
    assert (row.status, row.quality_score) == ("PAUSED", "RED")
    history = [(c.source, c.kind, c.before, c.after) for c in core.history(session, row)]
    assert ("webhook", "status", "APPROVED", "PAUSED") in history
    assert ("webhook", "quality", "GREEN", "RED") in history
    [alert] = session.scalars(select(Alert)).all()
    assert "was paused" in alert.message
    sim.control_recategorise_template(category="MARKETING", **which)
    runner.drain()
    [row] = rows(session)
    assert (row.category, row.previous_category) == ("MARKETING", "UTILITY")
    assert count(session, Alert) == 2


def test_an_unknown_template_is_created_from_the_event(app, session, connected):
    sandbox, account = connected
    with partner(sandbox, pid=DEMO_PID, key=DEMO_KEY) as api:
        created = templates.submit(api, account.account_key, PAYLOAD)
    sandbox.advance(30)  # reviewed: approved, and the partner is told
    app.extensions["job_runner"].drain()
    [row] = rows(session)
    assert (row.name, row.language, row.status, row.category) == (
        "shipping_note",
        "de",
        "APPROVED",
        "UTILITY",
    )
    assert row.provider_template_id == created.provider_template_id
    assert row.fingerprint == ""  # the next listing completes it
    assert [c.kind for c in core.history(session, row)] == ["created"]
    assert row.observed_at == dt.datetime(2026, 1, 1, 0, 0, 30, tzinfo=dt.UTC)


def test_a_rejection_arrives_with_its_reason(app, session, connected):
    sandbox, account = connected
    sandbox.dialog360.control_reject_template(name="shipping_note", reason="PROMOTIONAL")
    with partner(sandbox, pid=DEMO_PID, key=DEMO_KEY) as api:
        templates.submit(api, account.account_key, PAYLOAD)
    sync(sandbox, session, account)
    sandbox.advance(30)
    app.extensions["job_runner"].drain()
    [row] = rows(session)
    assert (row.status, row.rejected_reason) == ("REJECTED", "PROMOTIONAL")
    [alert] = session.scalars(select(Alert)).all()
    assert "was rejected" in alert.message and "Promotional content" in alert.message


def test_an_event_of_an_account_nobody_holds_is_stored_and_ignored(app, session, connected):
    sandbox, _ = connected
    sim = sandbox.dialog360
    other = sim.control_seed_channels(partner_id=DEMO_PID, email="other@x.example")
    sim.control_seed_templates(waba_account_id=other["waba_account_id"], count=1)
    sim.control_pause_template(name="seeded_00000", waba_account_id=other["waba_account_id"])
    app.extensions["job_runner"].drain()
    assert count(session, MessageTemplate) == 0
    [event] = session.scalars(
        select(WebhookEvent).where(WebhookEvent.event_type == "waba_template_status_changed")
    ).all()
    session.refresh(event)
    assert event.processed_at is not None and event.error is None


def event(data: dict, *, at: dt.datetime) -> WebhookEvent:
    payload = {"id": "ev1", "event": "waba_template_status_changed", "data": data}
    return WebhookEvent(
        provider=Provider.DIALOG360, dedupe_key="x", payload=json.dumps(payload), received_at=at
    )


def test_applying_twice_or_late_changes_nothing(session, connected):
    sandbox, account = connected
    sandbox.dialog360.control_seed_templates(waba_account_id=account.account_key, count=1)
    sync(sandbox, session, account)
    [row] = rows(session)
    template = {**ITEM, "id": row.provider_template_id, "name": row.name, "language": "en_US",
                "waba_account_id": account.account_key}  # fmt: skip

    def told(status: str, modified_at: str) -> dict:
        told = {**template, "new_status": status, "modified_at": modified_at}
        return {"id": account.account_key, "template": told}

    paused, approved = (
        told("paused", "2026-01-01T01:00:00Z"),
        told("approved", "2026-01-01T00:30:00Z"),
    )
    received = dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC)
    webhooks.apply(session, event(paused, at=received))
    changes = count(session, TemplateChange)
    webhooks.apply(session, event(paused, at=received))
    webhooks.apply(session, event(approved, at=received))  # older than the pause
    assert count(session, TemplateChange) == changes
    [row] = rows(session)
    assert row.status == "PAUSED"


def test_the_event_may_carry_the_template_itself(session, connected):
    _, account = connected
    flat = {**ITEM, "waba_account_id": account.account_key, "status": "disabled"}
    webhooks.apply(session, event(flat, at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC)))
    [row] = rows(session)
    assert (row.status, row.provider_template_id, row.quality_score) == (
        "DISABLED",
        "Xk3b9QaaTP",
        "GREEN",
    )
    assert templates.status_change({"template": {"name": "x"}}) is None  # no WABA account
