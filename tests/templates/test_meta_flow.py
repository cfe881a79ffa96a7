"""The Meta template lifecycle through the portal against Meta's sandbox: the builder
submits, the review comes back by webhook on the sandbox's clock, a pause alerts once, a
re-categorisation is announced then applied, and the sync lists every page."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from portal.jobs.sync import sync_templates
from provisioning.audit import SYSTEM
from provisioning.health import Alert
from provisioning.templates import builder, connections, core, rules
from provisioning.templates.models import MessageTemplate, TemplateAccount, TemplateChange

FORM = {
    "name": "order_shipped",
    "language": "en_US",
    "category": "UTILITY",
    "header_format": "",
    "body": "Hello {{1}}, your order {{2}} has shipped today.",
    "body_examples": "Ana\n#1042",
    "footer": "Reply STOP to opt out",
    "buttons-0-type": "QUICK_REPLY",
    "buttons-0-text": "Thanks",
    "parameter_format": "POSITIONAL",
    "allow_category_change": "y",
}


def client_company(session, client):
    from provisioning.tenancy import Company

    return session.get(Company, client.company_id)


def page_of(session, owner_client) -> str:
    return f"/c/{client_company(session, owner_client).slug}/templates"


def account_id(client, session, url) -> int:
    client.get(url + "/new")  # the page makes the company's template accounts known
    return session.scalars(select(TemplateAccount)).one().id


def submit(auth, client, session, url, **changes):
    form = FORM | {"account": account_id(client, session, url)} | changes
    return auth.post(url + "/new", form, form_page=url + "/new")


def drain(app):
    app.extensions["job_runner"].drain()


def template(session, name="order_shipped") -> MessageTemplate:
    row = session.scalars(select(MessageTemplate).where(MessageTemplate.name == name)).one()
    session.refresh(row)
    return row


def test_a_company_admin_builds_a_template_and_sees_it_approved(
    app, client, auth, session, sandbox, owner
):
    user, waba = owner
    url = page_of(session, waba)
    auth.login(user)
    answer = submit(auth, client, session, url)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    row = template(session)
    assert (row.status, row.category) == ("PENDING", "UTILITY") and row.provider_template_id
    assert [c["type"] for c in row.components] == ["BODY", "FOOTER", "BUTTONS"]
    page = client.get(url + f"/{row.id}").get_data(as_text=True)
    assert "PENDING" in page and "Your order" not in page and "has shipped today" in page

    sandbox.advance(31)  # Meta's review, then its message_template_status_update
    drain(app)
    assert template(session).status == "APPROVED"
    listing = client.get(url + "/").get_data(as_text=True)
    assert 'data-status="APPROVED"' in listing and "order_shipped" in listing
    kinds = [c.kind for c in session.scalars(select(TemplateChange).order_by(TemplateChange.id))]
    assert kinds == ["created", "status", "status"]  # drafted, submitted (PENDING), approved


def test_a_rejection_shows_the_reason_in_plain_words(app, client, auth, session, sandbox, owner):
    user, waba = owner
    url = page_of(session, waba)
    sandbox.meta.control_reject_template(name="order_shipped", reason="PROMOTIONAL")
    auth.login(user)
    submit(auth, client, session, url)
    sandbox.advance(31)
    drain(app)
    row = template(session)
    assert (row.status, row.rejected_reason) == ("REJECTED", "PROMOTIONAL")
    page = client.get(url + f"/{row.id}").get_data(as_text=True)
    assert "use the marketing category" in page
    [alert] = session.scalars(select(Alert)).all()
    assert "was rejected" in alert.message
    assert "marketing category" in client.get("/notifications/").get_data(as_text=True)


def test_the_builder_refuses_what_meta_would_and_keeps_nothing(
    app, client, auth, session, sandbox, owner
):
    user, waba = owner
    url = page_of(session, waba)
    auth.login(user)
    answer = submit(auth, client, session, url, name="Order Shipped!", body="{{1}} shipped")
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert 'data-problem="name"' in html and 'data-problem="body"' in html
    assert session.scalars(select(MessageTemplate)).all() == []
    assert sandbox.meta.describe()["counts"]["templates"] == 0


def test_a_refusal_by_meta_leaves_nothing_behind(app, client, auth, session, sandbox, owner):
    user, waba = owner
    url = page_of(session, waba)
    auth.login(user)
    assert submit(auth, client, session, url).status_code == 302
    again = submit(auth, client, session, url, language="en_US")
    assert again.status_code == 303  # flashed back to the builder
    assert "exists already" in client.get(url + "/new").get_data(as_text=True)
    sandbox.meta.control_set_template_cap(per_hour=1)
    capped = submit(auth, client, session, url, name="second_one")
    assert capped.status_code == 303
    names = sorted(r.name for r in session.scalars(select(MessageTemplate)))
    assert names == ["order_shipped"]


def test_a_lost_answer_never_creates_the_template_twice(app, session, sandbox, owner):
    _, waba = owner
    account = core.ensure_account(session, waba.company_id, "meta", waba.waba_id, waba.name)
    session.commit()
    real = sandbox.transport()

    class LoseCreate(httpx.BaseTransport):
        """Meta creates the template, but its answer never arrives."""

        def handle_request(self, request):
            response = real.handle_request(request)
            if request.method == "POST" and request.url.path.endswith("/message_templates"):
                raise httpx.ReadTimeout("lost", request=request)
            return response

    draft = rules.Draft(name="lost_answer", language="en_US", category="UTILITY",
                        body="Your code {{1}} is ready for you.", body_examples=["42"])  # fmt: skip
    connection = connections.connect(session, account, LoseCreate())
    row = builder.submit(session, session.commit, SYSTEM, account, draft, connection)
    assert row.status == "PENDING" and row.provider_template_id  # found after the lost answer
    assert sandbox.meta.describe()["counts"]["templates"] == 1


def test_a_pause_alerts_once_and_a_recategorisation_is_announced_then_applied(
    app, client, auth, session, sandbox, owner
):
    user, waba = owner
    url = page_of(session, waba)
    auth.login(user)
    submit(auth, client, session, url)
    sandbox.advance(31)
    drain(app)
    row = template(session)
    sandbox.meta.control_pause_template(template_id=row.provider_template_id)
    drain(app)
    row = template(session)
    assert (row.status, row.quality_score) == ("PAUSED", "RED")
    assert len(session.scalars(select(Alert)).all()) == 1

    sandbox.meta.control_recategorise_template(template_id=row.provider_template_id,
                                               category="MARKETING")  # fmt: skip
    drain(app)
    row = template(session)
    assert (row.category, row.impending_category) == ("UTILITY", "MARKETING")
    assert "will move it to MARKETING" in client.get(url + f"/{row.id}").get_data(as_text=True)
    sandbox.advance(24 * 3600 + 1)  # Meta applies it a day later
    drain(app)
    row = template(session)
    assert (row.category, row.previous_category, row.impending_category) == (
        "MARKETING", "UTILITY", None,
    )  # fmt: skip
    messages = [a.message for a in session.scalars(select(Alert).order_by(Alert.id))]
    assert len(messages) == 3 and "marketing price" in messages[2]


def test_the_sync_lists_every_page_skips_a_malformed_one_and_then_writes_nothing(
    app, session, sandbox, owner
):
    _, waba = owner
    sandbox.record = True
    sandbox.meta.control_seed_templates(waba_id=waba.waba_id, count=600)
    sandbox.meta.control_add_malformed_template(waba_id=waba.waba_id)
    calls_before = len(sandbox.exchanges)
    with app.app_context():
        summary = sync_templates()
    listing_calls = [
        e for e in sandbox.exchanges[calls_before:] if e["path"].endswith("/message_templates")
    ]
    assert summary["created"] == 600 and summary["skipped_templates"] == 1
    assert len(listing_calls) == 3  # 250 a page
    account = session.scalars(select(TemplateAccount)).one()
    session.refresh(account)
    assert account.skipped[0]["name"] == "malformed_template" and account.last_synced_at
    changes = session.scalars(select(TemplateChange)).all()
    with app.app_context():
        again = sync_templates()
    assert (again["unchanged"], again["created"], again["changed"]) == (600, 0, 0)
    assert len(session.scalars(select(TemplateChange)).all()) == len(changes)
