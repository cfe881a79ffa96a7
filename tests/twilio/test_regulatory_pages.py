"""The regulatory bundles page and the numbers page: requirements read from Twilio, the form
with its upload, bad input (400), the review, the copy, and buying with the bundle."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from provisioning.partners import Provider
from provisioning.tenancy import Role
from provisioning.twilio.models import RegulatoryBundle, RegulatoryDocument, SmsPhoneNumber
from tests.twilio.test_regulatory import FORM, PDF

NEW = "new?country=DE&number_type=local&end_user_type=business"


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(47, Provider.TWILIO)


@pytest.fixture
def acme(make):
    company = make.company("Acme GmbH")
    return company, make.user(company, Role.ADMIN), make.user(company, Role.MEMBER)


def upload(content: bytes = PDF, name: str = "excerpt.pdf") -> dict:
    return {"doc-business_registration_info-file": (io.BytesIO(content), name)}


def submit(auth, company, data=None, files=None):
    url = f"/c/{company.slug}/regulatory/{NEW}"
    body = {**(data or FORM), **(upload() if files is None else files)}
    return auth.post(url, body, form_page=url, content_type="multipart/form-data")


def drain(app, sandbox, session, bundle, until):
    runner = app.extensions["job_runner"]
    for _ in range(6):
        runner.drain()
        session.refresh(bundle)
        if until(bundle):
            return
        sandbox.advance(120)
        runner.enqueue("provisioning.execute_run", bundle.run_id)


def test_the_requirements_page_is_read_from_twilio(client, auth, sandbox, acme):
    company, admin, _ = acme
    auth.login(admin)
    page = client.get(f"/c/{company.slug}/regulatory/{NEW}").get_data(as_text=True)
    assert "DE: Local - Business" in page and "Business registration" in page
    assert 'name="doc-business_registration_info-file"' in page
    assert 'name="address-street"' in page
    free = client.get(f"/c/{company.slug}/regulatory/new?country=US&number_type=local"
                      "&end_user_type=business")  # fmt: skip
    assert free.status_code == 200 and b"no-regulation" in free.data
    bad = client.get(f"/c/{company.slug}/regulatory/new?country=Germany", follow_redirects=True)
    assert b"Two letters" in bad.data


@pytest.mark.parametrize(
    "files, message",
    [
        (upload(b"MZ\x90\x00 not a pdf", "excerpt.pdf"), b"PDF, JPEG or PNG"),
        (upload(b"%PDF-" + b"0" * (920 << 10)), b"at most 900 KB"),
        ({}, b"Choose a file to upload."),
    ],
    ids=["wrong-type", "oversized", "missing"],
)
def test_a_bad_upload_is_a_400_next_to_its_field(client, auth, sandbox, acme, session, files,
                                                 message):  # fmt: skip
    company, admin, _ = acme
    auth.login(admin)
    response = submit(auth, company, files=files)
    assert response.status_code == 400 and message in response.data
    assert session.scalars(select(RegulatoryBundle)).all() == []


def test_a_body_over_the_portal_limit_is_a_413(client, auth, sandbox, acme):
    company, admin, _ = acme
    auth.login(admin)
    response = submit(auth, company, files=upload(b"%PDF-" + b"0" * (2 << 20)))
    assert response.status_code == 413


def test_submit_review_buy_and_copy(app, client, auth, sandbox, acme, session):
    company, admin, member = acme
    auth.login(admin)
    search = f"/c/{company.slug}/numbers/?country=DE&number_type=local"
    page = client.get(search).get_data(as_text=True)
    assert "none yet" in page and "Regulatory bundles" in page
    found = re.search(r'name="phone_number" value="(\+49[0-9]+)"', page)
    assert found, page
    number = found.group(1)
    refused = auth.post(f"/c/{company.slug}/numbers/buy",
                        {"phone_number": number, "number_type": "local"}, form_page=search,
                        follow_redirects=True)  # fmt: skip
    assert b"approved regulatory bundle" in refused.data
    assert session.scalars(select(SmsPhoneNumber)).all() == []  # nothing claimed, nothing paid

    assert submit(auth, company).status_code == 302
    bundle = session.scalars(select(RegulatoryBundle)).one()
    [doc] = session.scalars(select(RegulatoryDocument).where(RegulatoryDocument.size > 0)).all()
    assert doc.file_name == "excerpt.pdf" and doc.mime_type == "application/pdf"
    drain(app, sandbox, session, bundle, lambda b: b.status == "in-review")
    assert bundle.status == "in-review"
    assert "in-review" in client.get(search).get_data(as_text=True)

    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.bundle_sid)
    drain(app, sandbox, session, bundle, lambda b: b.status == "twilio-approved")
    listing = client.get(f"/c/{company.slug}/regulatory/").get_data(as_text=True)
    assert "twilio-approved" in listing and bundle.bundle_sid in listing
    assert "business_registration: excerpt.pdf (1 KB)" in listing and "HRB" not in listing
    assert bundle.bundle_sid in client.get(search).get_data(as_text=True)
    bought = auth.post(f"/c/{company.slug}/numbers/buy",
                       {"phone_number": number, "number_type": "local"}, form_page=search,
                       follow_redirects=True)  # fmt: skip
    assert f"{number} is yours".encode() in bought.data

    sandbox.twilio.control_regulation_changed(sid=bundle.bundle_sid, days=30)
    url = f"/c/{company.slug}/regulatory/"
    auth.post(f"{url}{bundle.id}/refresh", form_page=url)
    assert "Its regulation changed" in client.get(url).get_data(as_text=True)
    assert auth.post(f"{url}{bundle.id}/copy", form_page=url).status_code == 302
    copies = select(RegulatoryBundle).where(RegulatoryBundle.copy_of_id == bundle.id)
    copy = session.scalars(copies).one()
    drain(app, sandbox, session, copy, lambda b: b.status == "in-review")
    sandbox.twilio.control_approve_regulatory_bundle(sid=copy.bundle_sid)
    drain(app, sandbox, session, copy, lambda b: b.status == "twilio-approved")
    session.refresh(bundle)
    assert bundle.valid_until is None

    auth.logout()
    auth.login(member)
    assert client.get(url).status_code == 200
    assert client.get(f"/c/{company.slug}/regulatory/{NEW}").status_code == 403
    assert auth.post(f"{url}{bundle.id}/copy", form_page=url).status_code == 403


def test_another_companys_bundle_is_not_found(client, auth, sandbox, acme, make, session):
    company, admin, _ = acme
    other = make.company("Other")
    theirs = RegulatoryBundle(
        company_id=other.id, iso_country="DE", number_type="local", end_user_type="business",
        regulation_sid="RN" + "0" * 32, friendly_name="theirs", email="x@y.test",
        status="twilio-approved", bundle_sid="BU" + "1" * 32,
    )  # fmt: skip
    session.add(theirs)
    session.commit()
    auth.login(admin)
    url = f"/c/{company.slug}/regulatory/"
    assert auth.post(f"{url}{theirs.id}/copy", form_page=url).status_code == 404
    assert auth.post(f"{url}{theirs.id}/refresh", form_page=url).status_code == 404
    assert client.get(f"{url}{theirs.id}/update").status_code == 404
    assert client.get(f"{url}{NEW}&from={theirs.id}").status_code == 404
    assert auth.post(f"{url}{theirs.id}/update", form_page=url).status_code == 404
    assert "theirs" not in client.get(url).get_data(as_text=True)


def test_an_approved_bundle_is_updated_through_a_copy(app, client, auth, sandbox, acme, session):
    company, admin, _ = acme
    auth.login(admin)
    assert submit(auth, company).status_code == 302
    bundle = session.scalars(select(RegulatoryBundle)).one()
    drain(app, sandbox, session, bundle, lambda b: b.status == "in-review")
    url = f"/c/{company.slug}/regulatory/{bundle.id}/update"
    early = client.get(url, follow_redirects=True)
    assert b"Only an approved bundle" in early.data
    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.bundle_sid)
    drain(app, sandbox, session, bundle, lambda b: b.status == "twilio-approved")
    page = client.get(url).get_data(as_text=True)
    assert 'value="Acme GmbH"' in page and "readonly" in page and "Updating" in page
    data = {**FORM, "end_user-business_name": "Acme Deutschland GmbH",
            "address-street": "Elsewhere 9"}  # fmt: skip
    missing = auth.post(url, data, form_page=url, content_type="multipart/form-data")
    assert missing.status_code == 400 and b"Choose a file to upload." in missing.data
    done = auth.post(url, {**data, **upload()}, form_page=url, content_type="multipart/form-data")
    assert done.status_code == 302
    copies = select(RegulatoryBundle).where(RegulatoryBundle.copy_of_id == bundle.id)
    copy = session.scalars(copies).one()
    assert copy.end_user_attributes == {"business_name": "Acme Deutschland GmbH"}
    assert copy.address == bundle.address  # the address stays the original's
    drain(app, sandbox, session, copy, lambda b: b.status == "in-review")
    sandbox.twilio.control_approve_regulatory_bundle(sid=copy.bundle_sid)
    drain(app, sandbox, session, copy, lambda b: b.status == "twilio-approved")
    session.refresh(bundle)
    assert set(bundle.item_sids) == set(copy.item_sids)


def test_a_rejected_bundle_starts_again_with_its_details(app, client, auth, sandbox, acme, session):
    company, admin, _ = acme
    auth.login(admin)
    assert submit(auth, company).status_code == 302
    bundle = session.scalars(select(RegulatoryBundle)).one()
    drain(app, sandbox, session, bundle, lambda b: b.status == "in-review")
    sandbox.twilio.control_reject_regulatory_bundle(sid=bundle.bundle_sid, reason="Blurred scan")
    drain(app, sandbox, session, bundle, lambda b: b.status == "twilio-rejected")
    listing = client.get(f"/c/{company.slug}/regulatory/").get_data(as_text=True)
    assert "Blurred scan" in listing and "Start again with these details" in listing
    again = client.get(f"/c/{company.slug}/regulatory/{NEW}&from={bundle.id}")
    again = again.get_data(as_text=True)
    assert 'value="Acme GmbH"' in again and 'value="Unter den Linden 1"' in again
