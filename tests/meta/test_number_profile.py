"""A number's display name, business profile and badge, through the portal against Meta's
sandbox (issue 17 item 3): a new name reviewed on the sandbox clock and approved (in effect
once the number registers again), a rejected name explained with what it costs and
alerted, a profile edit refused before anything is sent, a picture whose upload answer is
lost and resumed, and the Official Business Account badge requested and granted."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from provisioning.events import WebhookEvent
from provisioning.health import Alert
from provisioning.meta import number_profile
from provisioning.meta.models import MetaWhatsAppPhoneNumber
from provisioning.partners import Provider
from provisioning.tenancy import Role
from tests.meta.signups import complete_signup

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(46, Provider.META, webhooks_to_app=True)


@pytest.fixture
def owner(app, session, sandbox, make):
    """A company admin whose registered number came with the signup."""
    company = make.company("Nova")
    complete_signup(app, session, sandbox, company, verified_name="Nova Shop")
    user = make.user(company, Role.ADMIN, email="owner@profile.example")
    return user, company


@pytest.fixture
def number(session, owner) -> MetaWhatsAppPhoneNumber:
    row = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert row.status == "CONNECTED"
    return row


def drain(app):
    app.extensions["job_runner"].drain()


def url_of(company, number) -> str:
    return f"/c/{company.slug}/whatsapp-numbers/{number.id}/profile/"


def test_a_new_display_name_is_reviewed_approved_and_applied_at_the_next_registration(
    app, client, auth, session, sandbox, owner, number
):
    user, company = owner
    auth.login(user)
    page = url_of(company, number)
    shown = client.get(f"/c/{company.slug}/whatsapp-numbers/{number.id}").get_data(as_text=True)
    assert 'id="profile-link"' in shown and page in shown
    answer = auth.post(page + "display-name", {"name": "  Nova   Succulents "}, form_page=page)
    assert answer.status_code == 303
    session.refresh(number)
    assert (number.new_display_name, number.new_name_status) == ("Nova Succulents",
                                                                  "PENDING_REVIEW")  # fmt: skip
    assert number.name_requested_at is not None
    phone = sandbox.meta.phones[number.phone_number_id]
    assert phone.new_name_status == "PENDING_REVIEW"
    html = client.get(page).get_data(as_text=True)
    assert "is being reviewed by Meta" in html and 'id="display-name-form"' not in html
    again = auth.post(page + "display-name", {"name": "Nova Again"}, form_page=page)
    assert "still being reviewed" in client.get(again.headers["Location"]).get_data(as_text=True)

    sandbox.advance(sandbox.meta.display_name_review_seconds + 1)
    drain(app)  # the phone_number_name_update webhook is applied
    session.refresh(number)
    assert number.new_name_status == "APPROVED" and number.verified_name == "Nova Shop"
    assert "registers again" in client.get(page).get_data(as_text=True)

    show = f"/c/{company.slug}/whatsapp-numbers/{number.id}"
    assert auth.post(show + "/deregister", {}, form_page=show).status_code == 303
    assert auth.post(show + "/register", {"code_method": "SMS"}, form_page=show).status_code == 303
    drain(app)
    html = client.get(page).get_data(as_text=True)  # the page reads Meta's status
    session.refresh(number)
    assert number.verified_name == "Nova Succulents" and phone.verified_name == "Nova Succulents"
    assert (number.new_display_name, number.new_name_status) == (None, None)
    assert 'id="name-notice"' not in html


def test_a_rejected_name_is_explained_with_its_cost_and_alerts_once(
    app, client, auth, session, sandbox, owner, number
):
    user, company = owner
    auth.login(user)
    page = url_of(company, number)
    auth.post(page + "display-name", {"name": "NOVA SHOP!!"}, form_page=page)
    sandbox.meta.control_reject_display_name(phone_number_id=number.phone_number_id,
                                             reason="NAME_FORMAT_UNACCEPTABLE")  # fmt: skip
    sandbox.advance(sandbox.meta.display_name_review_seconds + 1)
    drain(app)
    session.refresh(number)
    assert (number.new_name_status, number.name_rejection_reason) == (
        "DECLINED", "NAME_FORMAT_UNACCEPTABLE")  # fmt: skip
    html = client.get(page).get_data(as_text=True)
    assert "Meta rejected the display name “NOVA SHOP!!”" in html
    assert "format is not accepted" in html and "cannot grow past its messaging limit" in html
    (alert,) = session.scalars(select(Alert)).all()
    assert "NOVA SHOP!!" in alert.message and "format is not accepted" in alert.message

    event = session.scalars(select(WebhookEvent).where(
        WebhookEvent.payload.contains("phone_number_name_update"))).one()  # fmt: skip
    value = json.loads(event.payload)["entry"][0]["changes"][0]["value"]
    number_profile.apply_name_decision(session, number, value, None)  # delivered again
    assert len(session.scalars(select(Alert)).all()) == 1
    assert 'id="display-name-form"' in html  # another name may be asked for


@pytest.mark.parametrize(
    ("name", "words"),
    [("No", "3 to 75"), ("Nova 🌵 Shop", "emoji"), ("www.nova.example", "web address")],
)
def test_a_name_against_meta_s_rules_is_refused_before_meta_is_asked(
    app, client, auth, session, sandbox, owner, number, name, words
):
    user, company = owner
    auth.login(user)
    page = url_of(company, number)
    answer = auth.post(page + "display-name", {"name": name}, form_page=page)
    assert answer.status_code == 303
    assert words in client.get(answer.headers["Location"]).get_data(as_text=True)
    session.refresh(number)
    assert number.new_display_name is None
    assert sandbox.meta.phones[number.phone_number_id].new_display_name is None


def test_the_profile_is_edited_and_a_bad_e_mail_sends_nothing(
    app, client, auth, session, sandbox, owner, number
):
    user, company = owner
    auth.login(user)
    page = url_of(company, number)
    edit = {"about": "Succulents, delivered", "description": "Rare and classic succulents.",
            "address": "1 Garden Way", "email": "hello@nova.example",
            "website1": "https://nova.example", "website2": "", "vertical": "RETAIL"}  # fmt: skip
    assert auth.post(page + "business-profile", edit, form_page=page).status_code == 303
    held = sandbox.meta.control_business_profile(phone_number_id=number.phone_number_id)
    assert (held["about"], held["websites"], held["vertical"]) == (
        "Succulents, delivered", ["https://nova.example"], "RETAIL")  # fmt: skip
    html = client.get(page).get_data(as_text=True)
    assert "hello@nova.example" in html and "Shopping and retail" in html

    bad = {**edit, "email": "hello-at-nova", "address": "2 Other Street"}
    answer = auth.post(page + "business-profile", bad, form_page=page)
    assert answer.status_code == 303
    assert "e-mail address is not valid" in client.get(answer.headers["Location"]).get_data(
        as_text=True
    )
    assert sandbox.meta.control_business_profile(phone_number_id=number.phone_number_id) == held


def test_a_picture_whose_answer_is_lost_is_resumed_not_sent_twice(
    app, client, auth, session, sandbox, owner, number
):
    user, company = owner
    auth.login(user)
    page = url_of(company, number)
    lost = sandbox.faults.add("drop", provider="meta", path="/upload:", method="POST", times=1)
    answer = auth.post(page + "picture", {"picture": (_file(PNG), "logo.png")}, form_page=page,
                       content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 303
    (upload,) = sandbox.meta.uploads.values()
    assert lost.hits == 1 and bytes(upload.data) == PNG  # every byte once, one handle
    held = sandbox.meta.control_business_profile(phone_number_id=number.phone_number_id)
    assert held["profile_picture_url"].startswith("https://pps.whatsapp.net/")
    assert 'id="profile-picture"><a' in client.get(page).get_data(as_text=True)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"GIF89a" + b"\x00" * 64, "JPEG or PNG"), (PNG[:8] + b"\x00" * (5 * 1024 * 1024), "5 MB")],
)
def test_a_picture_that_is_not_a_small_jpeg_or_png_is_refused_before_any_call(
    app, client, auth, session, sandbox, owner, number, content, words
):
    user, company = owner
    auth.login(user)
    page = url_of(company, number)
    answer = auth.post(page + "picture", {"picture": (_file(content), "logo.png")},
                       form_page=page, content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 303
    assert words in client.get(answer.headers["Location"]).get_data(as_text=True)
    assert sandbox.meta.uploads == {}


def test_the_official_business_account_badge_is_requested_and_granted(
    app, client, auth, session, sandbox, owner, number
):
    user, company = owner
    auth.login(user)
    page = url_of(company, number)
    assert "Not requested" in client.get(page).get_data(as_text=True)
    form = {"website": "https://nova.example", "country": "us", "language": "en_US",
            "links": "https://news.example/nova\nhttps://press.example/nova"}  # fmt: skip
    answer = auth.post(page + "official-business-account", form, form_page=page)
    assert answer.status_code == 303
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Request pending" in html and 'id="oba-form"' not in html
    request = sandbox.meta.oba_requests[number.phone_number_id]
    assert request.details["primary_country_of_operation"] == "US"
    assert request.details["supporting_links"] == ["https://news.example/nova",
                                                   "https://press.example/nova"]  # fmt: skip
    sandbox.advance(sandbox.meta.oba_review_seconds + 1)
    assert "Request approved" in client.get(page).get_data(as_text=True)


def test_members_see_the_page_without_its_forms_and_cannot_post(
    app, client, auth, session, sandbox, owner, number, make
):
    _, company = owner
    member = make.user(company, Role.MEMBER, email="member@profile.example")
    auth.login(member)
    page = url_of(company, number)
    html = client.get(page).get_data(as_text=True)
    assert 'id="business-profile"' in html and 'id="profile-form"' not in html
    refused = auth.post(page + "display-name", {"name": "Nova Other"}, form_page=page)
    assert refused.status_code == 403


def test_name_decisions_follow_meta_s_rules_for_each_kind_of_review(session):
    """A change of a number not registered applies at once; a deferred one stays under
    review; a decision on the current name sets its status, a rejection with the reason."""
    row = MetaWhatsAppPhoneNumber(
        verified_name="Nova Shop", status="PENDING", new_display_name="Nova Plants",
        new_name_status="PENDING_REVIEW",
    )  # fmt: skip
    deferred = {"decision": "DEFERRED", "requested_verified_name": "Nova Plants"}
    number_profile.apply_name_decision(session, row, deferred, None)
    assert (row.verified_name, row.new_name_status) == ("Nova Shop", "PENDING_REVIEW")
    approved = {**deferred, "decision": "APPROVED"}
    number_profile.apply_name_decision(session, row, approved, None)
    assert (row.verified_name, row.name_status, row.new_display_name) == (
        "Nova Plants", "APPROVED", None)  # fmt: skip
    current = {"decision": "REJECTED", "requested_verified_name": "Nova Plants",
               "rejection_reason": "NAME_NOT_CONSISTENT"}  # fmt: skip
    number_profile.apply_name_decision(session, row, current, None)
    assert (row.name_status, row.name_rejection_reason) == ("DECLINED", "NAME_NOT_CONSISTENT")
    assert "does not match the business's brand" in number_profile.name_notice(row)[1]


def _file(content: bytes) -> io.BytesIO:
    return io.BytesIO(content)
