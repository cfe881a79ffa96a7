"""The company's SMS numbers pages, against the Twilio sandbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning.partners import Provider
from provisioning.tenancy import Role
from provisioning.twilio.models import SmsPhoneNumber, TwilioSubaccount


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(22, Provider.TWILIO)


@pytest.fixture
def acme(make):
    company = make.company("Acme")
    return company, make.user(company, Role.ADMIN), make.user(company, Role.MEMBER)


def test_search_creates_nothing_and_buying_creates_the_subaccount(
    client, auth, sandbox, acme, session
):
    company, admin, _ = acme
    auth.login(admin)
    page = client.get(
        f"/c/{company.slug}/numbers/?country=US&number_type=local&area_code=415&sms=y"
    )
    assert page.status_code == 200 and b"search-results" in page.data
    assert session.scalars(select(TwilioSubaccount)).all() == []
    number = page.get_data(as_text=True).split('name="phone_number" value="')[1].split('"')[0]
    url = f"/c/{company.slug}/numbers/"
    response = auth.post(
        f"{url}buy", {"phone_number": number}, form_page=url, follow_redirects=True
    )
    assert b"is yours" in response.data
    sends = response.get_data(as_text=True).split('class="sends">')[1].split("</td>")[0]
    assert "Not yet" in sends and "30034" in sends  # a 10DLC number: no campaign yet
    row = session.scalars(select(SmsPhoneNumber)).one()
    assert row.status == "active" and row.company_id == company.id
    assert session.scalars(select(TwilioSubaccount)).one().company_id == company.id


def test_bad_search_input_is_a_400_with_field_errors(client, auth, sandbox, acme):
    company, admin, _ = acme
    auth.login(admin)
    page = client.get(f"/c/{company.slug}/numbers/?country=USA&area_code=4")
    assert page.status_code == 400
    assert b"Two letters" in page.data and b"Three digits" in page.data


def test_a_refused_purchase_is_shown_in_plain_words(client, auth, sandbox, acme, session):
    company, admin, _ = acme
    auth.login(admin)
    url = f"/c/{company.slug}/numbers/"
    response = auth.post(f"{url}buy", {"phone_number": "+15005550001"}, form_page=url,
                         follow_redirects=True)  # fmt: skip
    assert b"Twilio refused the request" in response.data and b"21421" in response.data
    assert session.scalars(select(SmsPhoneNumber)).one().status == "failed"


def test_webhooks_release_and_tenancy(client, auth, sandbox, acme, session, make):
    company, admin, member = acme
    auth.login(admin)
    url = f"/c/{company.slug}/numbers/"
    auth.post(f"{url}buy", {"phone_number": "+15005550006"}, form_page=url)
    row = session.scalars(select(SmsPhoneNumber)).one()
    hook = "https://hooks.example.com/sms"
    auth.post(f"{url}{row.id}/webhooks", {"sms_url": hook, "status_callback": ""}, form_page=url)
    session.refresh(row)
    assert row.sms_url == hook
    auth.logout()
    auth.login(member)
    assert auth.post(f"{url}{row.id}/release", form_page=url).status_code == 403
    auth.logout()
    other = make.company("Other")
    auth.login(make.user(other, Role.ADMIN))
    other_url = f"/c/{other.slug}/numbers/"
    assert auth.post(f"{other_url}{row.id}/release", form_page=other_url).status_code == 404
    auth.logout()
    auth.login(admin)
    auth.post(f"{url}{row.id}/release", form_page=url)
    session.refresh(row)
    assert row.status == "retired"


def test_admins_move_pool_numbers_and_close_only_with_the_typed_word(
    client, auth, sandbox, acme, session, make
):
    company, admin, _ = acme
    auth.login(admin)
    url = f"/c/{company.slug}/numbers/"
    auth.post(f"{url}buy", {"phone_number": "+15005550006"}, form_page=url)
    row = session.scalars(select(SmsPhoneNumber)).one()
    other = make.company("Globex")
    auth.logout()
    auth.login(make.admin())
    page = client.get("/admin/twilio/").get_data(as_text=True)
    assert "+15005550006" in page
    auth.post(f"/admin/twilio/pool/{row.id}/reassign", {"company_id": other.id},
              form_page="/admin/twilio/")  # fmt: skip
    session.refresh(row)
    assert row.company_id == other.id
    sub = session.scalars(
        select(TwilioSubaccount).where(TwilioSubaccount.company_id == other.id)
    ).one()
    close = f"/admin/twilio/subaccounts/{sub.id}/closed"
    refused = auth.post(close, {"confirmation": "yes"}, form_page="/admin/twilio/",
                        follow_redirects=True)  # fmt: skip
    assert b"type CLOSE" in refused.data
    session.refresh(sub)
    assert sub.status == "active"
    auth.post(close, {"confirmation": "CLOSE"}, form_page="/admin/twilio/")
    session.refresh(sub)
    session.refresh(row)
    assert sub.status == "closed" and row.status == "retired"
