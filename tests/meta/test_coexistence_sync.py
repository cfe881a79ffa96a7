"""A WhatsApp Business app number's contacts and history sync (issue 17 item 4), end to end
against Meta's sandbox: a coexistence signup starts both syncs once, the sandbox's webhooks
arrive on its clock and move the state, an echo is relayed, a lost answer is not followed
by a second request, the window is warned about once, and a request after 24 hours is
refused in plain words.

The product compares Meta's times with its own clock: here that clock is the sandbox's
(``coexistence_sync.utcnow``), as it is in production, where both are the real time."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from flask import render_template
from pywa import WhatsApp
from pywa.handlers import OutgoingMessageHandler
from sqlalchemy import func, select

from portal.demo import META_APP
from provisioning import platform_events, runs
from provisioning.audit import SYSTEM
from provisioning.events import WebhookEvent, body_digest, store_event
from provisioning.health import Alert
from provisioning.meta import coexistence_sync
from provisioning.meta import webhooks as meta_webhooks
from provisioning.meta.coexistence_models import MetaCoexistenceSync
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partners import Provider
from provisioning.platform_events import PlatformEvent
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Role

COEXISTENCE = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
CONTACTS, HISTORY = "smb_app_state_sync", "history"
EVENTS = ["coexistence.updated", "coexistence.contacts", "coexistence.history", "message.echo"]


class Wire(httpx.BaseTransport):
    """The sandbox's transport, noting each ``smb_app_data`` request; a sync type in
    ``lose`` has its answer lost once (Meta got the request, the platform no answer)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[str] = []
        self.lose: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/smb_app_data"):
            sync_type = json.loads(request.content)["sync_type"]
            self.sent.append(sync_type)
            if sync_type in self.lose:
                self.lose.discard(sync_type)
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


@pytest.fixture
def sandbox(connected_sandbox, monkeypatch):
    sandbox = connected_sandbox(45, Provider.META, webhooks_to_app=True)
    monkeypatch.setattr(coexistence_sync, "utcnow", sandbox.clock.now)
    return sandbox


@pytest.fixture
def wire(app, sandbox, monkeypatch) -> Wire:
    wire = Wire(sandbox.transport())
    monkeypatch.setitem(app.config, "PROVIDER_TRANSPORT", wire)
    return wire


@pytest.fixture
def endpoint(app, session, monkeypatch):
    """The platform's endpoint for the coexistence and echo events (it answers 204)."""
    receiver = httpx.MockTransport(lambda request: httpx.Response(204))
    monkeypatch.setitem(app.config, "EVENTS_TRANSPORT", receiver)
    added = platform_events.add_endpoint(
        session, SYSTEM, "https://platform.example/events", check_url=lambda _: None,
        event_types=EVENTS,
    )  # fmt: skip
    session.commit()
    return added


@pytest.fixture
def company(make):
    return make.company("Acme")


def drain(app) -> None:
    app.extensions["job_runner"].drain()


def tick(app) -> None:
    """What the poller does every few seconds: due runs, then the window warnings."""
    runner = app.extensions["job_runner"]
    runner.enqueue("provisioning.resume_due_runs")
    runner.enqueue("coexistence.window_warnings")
    runner.drain()


def signup(app, session, sandbox, wire, company, **app_data) -> MetaWhatsAppPhoneNumber:
    """A WhatsApp Business app number onboarded through Embedded Signup (the run as the job
    runs it); ``app_data`` shapes the app's contacts and history first."""
    done = sandbox.meta.control_complete_signup(app_id=META_APP["app_id"], flow=COEXISTENCE)
    if app_data:
        sandbox.meta.control_seed_coexistence(phone_number_id=done["phone_number_id"], **app_data)
    run = runs.start_run(
        session, SYSTEM, EMBEDDED_SIGNUP, company.id,
        partner_configuration_id=sandbox.configs[Provider.META].id,
        context={"event": done["event"]}, secret_input={"code": done["code"]},
    )  # fmt: skip
    session.commit()
    assert runs.execute(session, run.id, session.commit, {"transport": wire}) is RunStatus.COMPLETED
    drain(app)
    return session.scalars(
        select(MetaWhatsAppPhoneNumber).where(
            MetaWhatsAppPhoneNumber.phone_number_id == done["phone_number_id"]
        )
    ).one()


def sync_runs(session) -> list[ProvisioningRun]:
    found = session.scalars(
        select(ProvisioningRun)
        .where(ProvisioningRun.flow == coexistence_sync.FLOW_NAME)
        .order_by(ProvisioningRun.id)
    ).all()
    for run in found:
        session.refresh(run)
    return list(found)


def state(session, number) -> MetaCoexistenceSync:
    row = coexistence_sync.state_of(session, number)
    assert row is not None
    session.refresh(row)
    return row


def events(session, event_type: str) -> list[dict]:
    rows = session.scalars(
        select(PlatformEvent).where(PlatformEvent.type == event_type).order_by(PlatformEvent.id)
    )
    return [json.loads(row.payload)["data"] for row in rows]


def alerts(session) -> list[str]:
    return list(session.scalars(select(Alert.message).order_by(Alert.id)))


def page(app, session, number, company) -> str:
    """The number's sync as its page shows it (``numbers/_coexistence.html``)."""
    with app.test_request_context():
        return render_template(
            "numbers/_coexistence.html", number=number, current_company=company,
            current_role=Role.ADMIN, coexistence=coexistence_sync.view(session, number),
        )  # fmt: skip


# --- a coexistence signup starts both syncs, once ---------------------------------------------


def test_a_coexistence_signup_starts_both_syncs_once_and_the_webhooks_complete_them(
    app, session, sandbox, wire, company, endpoint
):
    number = signup(app, session, sandbox, wire, company)
    (run,) = sync_runs(session)
    assert run.context["started_by"] == "signup" and run.status is RunStatus.STARTED
    assert wire.sent == []  # the signup's own transaction only starts the run

    tick(app)
    tick(app)  # a second tick (or a signup step run again) sends nothing more
    assert wire.sent == [CONTACTS, HISTORY]
    (run,) = sync_runs(session)
    assert run.status is RunStatus.COMPLETED
    requests = sandbox.meta.control_coexistence_status(phone_number_id=number.phone_number_id)
    assert set(requests["requests"]) == {CONTACTS, HISTORY}
    sync = state(session, number)
    assert sync.contacts_request_id == requests["requests"][CONTACTS]
    assert sync.history_request_id == requests["requests"][HISTORY]
    assert (sync.contacts_status, sync.history_status) == ("requested", "requested")
    onboarded = sandbox.clock.now().replace(microsecond=0)
    assert sync.window_closes_at.timestamp() - onboarded.timestamp() == 24 * 3600

    sandbox.advance(20)  # the contacts, then the first history chunk
    drain(app)
    sync = state(session, number)
    assert sync.contacts_count == 3 and sync.contacts_status == "receiving"
    assert sync.history_status == "in_progress" and 0 < sync.history_progress < 100

    sandbox.advance(600)  # every chunk and media asset of the three phases
    drain(app)
    sync = state(session, number)
    assert sync.history_progress == 100 and sync.history_status == "complete"
    assert sync.history_messages == 10 and sync.history_completed_at is not None
    stored = session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == HISTORY)).all()
    assert len(stored) == 4 and all(e.processed_at and not e.error for e in stored)
    history = events(session, "coexistence.history")
    assert len(history) == 4  # three chunks and one media asset, each relayed once
    assert [p["progress"] for h in history for p in h["phases"]] == [40, 90, 100]
    assert history[1]["media_message_ids"] and history[0]["provider_payload"]["entry"]
    (contacts,) = events(session, "coexistence.contacts")
    assert contacts["contacts"][0]["phone_number"].startswith("+1555020")
    updated = [
        e["coexistence"]["history"]["status"] for e in events(session, "coexistence.updated")
    ]
    assert updated[-1] == "complete" and "requested" in updated

    shown = page(app, session, number, company)
    assert 'data-status="complete"' in shown and "10 messages" in shown
    assert 'id="coexistence-start"' not in shown  # nothing left to ask for


def test_a_history_the_business_declined_is_shown_and_alerted_once(
    app, session, sandbox, wire, company, make
):
    make.user(company, Role.ADMIN, email="owner@coexistence.example")
    number = signup(app, session, sandbox, wire, company, declined=True)
    tick(app)
    sandbox.advance(600)
    drain(app)
    sync = state(session, number)
    assert sync.history_declined and sync.history_status == "declined"
    assert sync.contacts_status == "receiving"
    (declined,) = [a for a in alerts(session) if "chose not to share" in a]
    assert "2593109" in declined
    shown = page(app, session, number, company)
    assert 'id="coexistence-declined"' in shown and 'data-status="declined"' in shown


def test_an_echo_is_relayed_as_the_channel_s_outbound_message(
    app, session, sandbox, wire, company, endpoint
):
    number = signup(app, session, sandbox, wire, company)
    echo = sandbox.meta.control_smb_message_echo(
        phone_number_id=number.phone_number_id, to="15550009999", text="See you Saturday!"
    )
    drain(app)
    (relayed,) = events(session, "message.echo")
    assert relayed["message_id"] == echo["message_id"] and relayed["direction"] == "outbound"
    assert relayed["to"] == "+15550009999" and relayed["user_id"] == echo["user_id"]
    assert relayed["channel"]["id"] == number.channel_id and relayed["message_type"] == "text"

    updates: list[object] = []  # pywa, a parser we did not write, reads the relayed body
    wa = WhatsApp(token="unused", app_secret="unused", filter_updates=False,
                  skip_duplicate_updates=False)  # fmt: skip
    wa.add_handlers(OutgoingMessageHandler(lambda _, update: updates.append(update)))
    body = json.dumps(relayed["provider_payload"]).encode()
    assert wa.webhook_update_handler(body) == ("ok", 200)
    (outgoing,) = updates
    assert outgoing.id == echo["message_id"] and outgoing.text == "See you Saturday!"

    event = session.scalars(
        select(WebhookEvent).where(WebhookEvent.event_type == "smb_message_echoes")
    ).one()
    meta_webhooks.apply(session, event)  # applied again: nothing relayed twice
    assert len(events(session, "message.echo")) == 1


# --- one request per sync type -----------------------------------------------------------------


def test_a_lost_answer_is_not_followed_by_a_second_request(
    app, session, sandbox, wire, company, auth, make
):
    number = signup(app, session, sandbox, wire, company)
    wire.lose = {CONTACTS}
    tick(app)
    (run,) = sync_runs(session)
    assert run.status is RunStatus.WAITING and run.step("sync_contacts").effect_intended_at
    assert wire.sent == [CONTACTS]

    app.extensions["job_runner"].enqueue("provisioning.execute_run", run.id)
    drain(app)  # the retry finds the intent: the contacts are not asked for again
    (run,) = sync_runs(session)
    assert run.status is RunStatus.COMPLETED and wire.sent == [CONTACTS, HISTORY]
    assert state(session, number).contacts_status == "unconfirmed"
    assert 'data-status="unconfirmed"' in page(app, session, number, company)

    # A person may ask again; Meta refuses it as already requested, which confirms it.
    user = make.user(company, Role.ADMIN, email="admin@coexistence.example")
    auth.login(user)
    show = f"/c/{company.slug}/whatsapp-numbers/{number.id}"
    answer = auth.post(show + "/coexistence/sync", form_page=show)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(show)
    drain(app)
    assert wire.sent == [CONTACTS, HISTORY, CONTACTS]
    runs_now = sync_runs(session)
    assert [r.status for r in runs_now] == [RunStatus.COMPLETED, RunStatus.COMPLETED]
    assert runs_now[1].context["started_by"] == "person"
    sync = state(session, number)
    assert sync.contacts_confirmed_at is not None and sync.contacts_request_id is None
    sandbox.advance(20)
    drain(app)
    assert state(session, number).contacts_count == 3  # Meta's first request was the one

    refused = auth.post(show + "/coexistence/sync", form_page=show, follow_redirects=True)
    assert "already asked" in refused.get_data(as_text=True)  # both confirmed: refused
    assert wire.sent == [CONTACTS, HISTORY, CONTACTS]


# --- Meta's 24 hours ---------------------------------------------------------------------------


def test_the_window_warning_is_raised_once_and_not_once_the_sync_was_asked_for(
    app, session, sandbox, wire, company, make
):
    make.user(company, Role.ADMIN, email="owner@coexistence.example")
    signup(app, session, sandbox, wire, company)
    runner = app.extensions["job_runner"]
    sandbox.advance(19 * 3600)  # five hours left: no warning yet
    runner.enqueue("coexistence.window_warnings")
    drain(app)
    assert alerts(session) == []

    sandbox.advance(3600 + 60)  # under four hours left
    for _ in range(2):
        runner.enqueue("coexistence.window_warnings")
        drain(app)
    (warning,) = alerts(session)
    assert "contacts and chat history can be synchronized for 3 h 59 min more" in warning

    tick(app)  # the sync is asked for at last
    assert wire.sent == [CONTACTS, HISTORY]
    other = signup(app, session, sandbox, wire, company)
    tick(app)  # a second number, whose sync was asked for at once
    sandbox.advance(21 * 3600)
    runner.enqueue("coexistence.window_warnings")
    drain(app)
    assert alerts(session) == [warning]
    assert state(session, other).window_warned_at is None


def test_a_request_after_24_hours_is_refused_in_plain_words(
    app, session, sandbox, wire, company, auth, make
):
    number = signup(app, session, sandbox, wire, company)
    sandbox.advance(24 * 3600 + 60)
    user = make.user(company, Role.ADMIN, email="late@coexistence.example")
    auth.login(user)
    show = f"/c/{company.slug}/whatsapp-numbers/{number.id}"
    refused = auth.post(show + "/coexistence/sync", form_page=show, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "24 hours to synchronize" in text and "connect it again" in text
    assert len(sync_runs(session)) == 1  # the person's ask started nothing

    tick(app)  # the signup's run, late: Meta's onboarding time says the window is over
    (run,) = sync_runs(session)
    assert run.status is RunStatus.FAILED and "ended on" in run.error_message
    assert wire.sent == []
    shown = page(app, session, number, company)
    assert "closed since" in shown and 'id="coexistence-closed"' in shown
    assert 'id="coexistence-start"' not in shown


def test_meta_refusing_a_late_request_is_explained(
    app, session, sandbox, wire, company, monkeypatch
):
    """Were the platform's clock behind Meta's, Meta's own refusal says the same words."""
    signup(app, session, sandbox, wire, company)
    sandbox.advance(24 * 3600 + 60)
    behind = sandbox.clock.now() - dt.timedelta(hours=2)
    monkeypatch.setattr(coexistence_sync, "utcnow", lambda: behind)
    tick(app)
    (run,) = sync_runs(session)
    assert run.status is RunStatus.FAILED and "24 hours to synchronize" in run.error_message
    step = run.step("sync_contacts")
    assert step.error_code == "100" and step.effect_intended_at is None
    assert wire.sent == [CONTACTS]


# --- what does not apply -----------------------------------------------------------------------


def test_a_number_not_from_the_business_app_has_no_sync(app, session, sandbox, wire, company):
    done = sandbox.meta.control_complete_signup(app_id=META_APP["app_id"])
    run = runs.start_run(
        session, SYSTEM, EMBEDDED_SIGNUP, company.id,
        partner_configuration_id=sandbox.configs[Provider.META].id,
        context={"event": done["event"]}, secret_input={"code": done["code"]},
    )  # fmt: skip
    session.commit()
    assert runs.execute(session, run.id, session.commit, {"transport": wire}) is RunStatus.COMPLETED
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert sync_runs(session) == [] and coexistence_sync.view(session, number) is None
    with pytest.raises(coexistence_sync.DomainError, match="not onboarded from the WhatsApp"):
        coexistence_sync.start_by_person(session, SYSTEM, number)


def test_an_unreadable_coexistence_webhook_is_kept_as_a_notice(
    app, session, sandbox, wire, company
):
    number = signup(app, session, sandbox, wire, company)
    client = session.scalars(select(MetaWhatsAppClient)).one()
    metadata = {"display_phone_number": "1555", "phone_number_id": number.phone_number_id}
    value = {"messaging_product": "whatsapp", "metadata": metadata,
             "history": [{"metadata": {"phase": 7, "chunk_order": 1, "progress": 10}}]}  # fmt: skip
    body = json.dumps({"object": "whatsapp_business_account", "entry": [
        {"id": client.waba_id, "changes": [{"field": HISTORY, "value": value}]}
    ]}).encode()  # fmt: skip
    event_id = store_event(session, Provider.META, body_digest(body), HISTORY, body)
    meta_webhooks.apply(session, session.get_one(WebhookEvent, event_id))
    assert "out of range" in client.notices[-1]["unreadable"]
    assert state(session, number).history_progress is None
    assert session.scalar(select(func.count()).select_from(PlatformEvent)) == 0


def test_the_signup_s_job_starts_the_sync_at_once_without_waiting_for_the_poller(
    app, session, sandbox, wire, company
):
    done = sandbox.meta.control_complete_signup(app_id=META_APP["app_id"], flow=COEXISTENCE)
    run = runs.start_run(
        session, SYSTEM, EMBEDDED_SIGNUP, company.id,
        partner_configuration_id=sandbox.configs[Provider.META].id,
        context={"event": done["event"]}, secret_input={"code": done["code"]},
    )  # fmt: skip
    session.commit()
    app.extensions["job_runner"].enqueue("provisioning.execute_run", run.id)
    drain(app)  # the signup's job, then the follow-up it names; no sweep
    (sync,) = sync_runs(session)
    session.refresh(run)
    assert run.context[runs.FOLLOW_UPS] == [sync.id]
    assert sync.status is RunStatus.COMPLETED and wire.sent == [CONTACTS, HISTORY]
