"""The SMS number page against the Twilio sandbox: can it send, the toll-free
verification form, the review's reason, fix and resubmit, and who may see and act."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning.audit import SYSTEM
from provisioning.partners import Provider
from provisioning.tenancy import Role
from provisioning.twilio import a2p, numbers
from provisioning.twilio.models import SmsPhoneNumber
from provisioning.twilio.tollfree_models import TollfreeVerification
from tests.twilio.test_a2p import PROFILE
from tests.twilio.test_tollfree import DETAILS


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(62, Provider.TWILIO)


@pytest.fixture
def acme(make, session, sandbox):
    """A company with its business profile and a toll-free number."""
    company = make.company("Acme")
    admin, member = make.user(company, Role.ADMIN), make.user(company, Role.MEMBER)
    a2p.save_business_info(session, SYSTEM, company, PROFILE)
    config = sandbox.configs[Provider.TWILIO]
    sub = numbers.ensure_subaccount(session, SYSTEM, company, config, sandbox.transport(),
                                    commit=session.commit)  # fmt: skip
    client = numbers.subaccount_client(sub, config, sandbox.transport())
    offered = numbers.search_numbers(client, "US", "toll_free")
    row = numbers.buy_number(session, SYSTEM, company, sub, client, offered[0]["phone_number"],
                             session.commit)  # fmt: skip
    session.commit()
    return company, admin, member, row


def page_of(company, row) -> str:
    return f"/c/{company.slug}/numbers/{row.id}"


def test_submit_see_the_rejection_fix_resubmit_and_send(client, auth, sandbox, acme, session):
    company, admin, _, row = acme
    auth.login(admin)
    listing = client.get(f"/c/{company.slug}/numbers/").get_data(as_text=True)
    assert page_of(company, row) in listing  # linked from the numbers list
    url = page_of(company, row)
    page = client.get(url).get_data(as_text=True)
    assert "Cannot send SMS" in page and "30032" in page and "submit its toll-free" in page
    assert 'value="Acme Dental LLC"' in page  # prefilled from the business profile
    assert 'value="12-3456789"' in page

    bad = auth.post(f"{url}/verification", {**DETAILS, "business_website": "acme",
                                            "use_case_summary": ""}, form_page=url)  # fmt: skip
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Enter a full http(s) URL." in text and "This field is required." in text
    assert session.scalars(select(TollfreeVerification)).all() == []

    done = auth.post(f"{url}/verification", DETAILS, form_page=url, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "Submitted: Twilio and the carriers review it" in text
    assert "PENDING_REVIEW" in text and "Cannot send SMS" in text
    verification = session.scalars(select(TollfreeVerification)).one()
    sid = verification.verification_sid
    [remote] = sandbox.twilio.tollfree.values()
    assert remote["business_registration_number"] == "12-3456789"

    sandbox.twilio.control_reject_tollfree(sid=sid, reason="The opt-in image is blank.")
    text = client.get(url).get_data(as_text=True)  # the page fetches a request in review
    assert "TWILIO_REJECTED" in text and "The opt-in image is blank." in text
    assert "Fix and resubmit" in text and "Twilio allows corrections until" in text

    fixed = {**DETAILS, "opt_in_image_urls": "https://acme-dental.example.com/v2.png",
             "edit_reason": "New opt-in screenshot"}  # fmt: skip
    done = auth.post(f"{url}/verification", fixed, form_page=url, follow_redirects=True)
    assert "Resubmitted" in done.get_data(as_text=True)
    assert remote["status"] == "PENDING_REVIEW"
    assert remote["opt_in_image_urls"] == ["https://acme-dental.example.com/v2.png"]
    assert len(sandbox.twilio.tollfree) == 1  # the same request, edited

    sandbox.twilio.control_approve_tollfree(sid=sid)
    text = client.get(url).get_data(as_text=True)
    assert "Can send SMS" in text and "TWILIO_APPROVED" in text
    assert 'id="verification-form"' not in text


def test_members_see_admins_act_other_companies_get_404(client, auth, sandbox, acme, make):
    company, _, member, row = acme
    url = page_of(company, row)
    auth.login(member)
    page = client.get(url)
    assert page.status_code == 200 and b"verification-form" not in page.data
    assert auth.post(f"{url}/verification", DETAILS, form_page=url).status_code == 403
    auth.logout()
    other = make.company("Other")
    auth.login(make.user(other, Role.ADMIN))
    # the other company's own URL with Acme's number id, and Acme's URL
    assert client.get(f"/c/{other.slug}/numbers/{row.id}").status_code == 404
    assert client.get(url).status_code == 404
    own = f"/c/{other.slug}/numbers/"
    assert auth.post(f"{own}{row.id}/verification", DETAILS, form_page=own).status_code == 404


def test_a_local_number_points_to_its_10dlc_campaign_and_has_no_form(
    client, auth, sandbox, acme, session
):
    company, admin, _, _ = acme
    local = SmsPhoneNumber(phone_number="+15125550199", company_id=company.id, status="active",
                           provider_phone_id="PN" + "2" * 32)  # fmt: skip
    session.add(local)
    session.commit()
    auth.login(admin)
    text = client.get(page_of(company, local)).get_data(as_text=True)
    assert "Cannot send SMS" in text and "30034" in text and "A2P 10DLC page" in text
    assert "Toll-free verification" not in text
    url = page_of(company, local)
    refused = auth.post(f"{url}/verification", DETAILS, form_page=url, follow_redirects=True)
    assert "Only a US or Canadian toll-free number" in refused.get_data(as_text=True)


@pytest.fixture
def wired(connected_sandbox):
    """A sandbox whose Event Streams deliveries reach the app."""
    return connected_sandbox(63, Provider.TWILIO, webhooks_to_app=True)


def test_events_reach_the_portal_and_the_poll_follows_the_rest(
    app, client, auth, wired, make, session
):
    company = make.company("Evented")
    admin = make.user(company, Role.ADMIN)
    config = wired.configs[Provider.TWILIO]
    sub = numbers.ensure_subaccount(session, SYSTEM, company, config, wired.transport(),
                                    commit=session.commit)  # fmt: skip
    client_api = numbers.subaccount_client(sub, config, wired.transport())
    offered = numbers.search_numbers(client_api, "US", "toll_free")
    row = numbers.buy_number(session, SYSTEM, company, sub, client_api,
                             offered[0]["phone_number"], session.commit)  # fmt: skip
    session.commit()
    auth.login(admin)
    url = page_of(company, row)
    auth.post(f"{url}/verification", DETAILS, form_page=url)
    runner = app.extensions["job_runner"]
    runner.drain()
    # The submission subscribed the subaccount's sink to the toll-free event types.
    [subscription] = wired.twilio.subscriptions_store.values()
    assert {t["type"].rsplit(".", 1)[1] for t in subscription["_types"]} >= {
        "twilio-approved", "twilio-rejected", "in-review",
    }  # fmt: skip
    verification = session.scalars(select(TollfreeVerification)).one()

    wired.twilio.control_reject_tollfree(sid=verification.verification_sid, reason="Blank.")
    runner.drain()
    session.refresh(verification)
    assert verification.status == "TWILIO_REJECTED"  # from the event
    assert verification.last_synced_at is None  # the reason comes with the next fetch
    runner.enqueue("sync.tollfree")
    runner.drain()
    session.refresh(verification)
    assert verification.rejection_reason == "Blank." and verification.last_synced_at


def test_the_sandbox_page_lists_requests_and_rejects_with_the_typed_reason(
    client, auth, sandbox, acme, make, session
):
    company, admin, _, row = acme
    auth.login(admin)
    url = page_of(company, row)
    auth.post(f"{url}/verification", DETAILS, form_page=url)
    sid = session.scalars(select(TollfreeVerification)).one().verification_sid
    auth.logout()
    auth.login(make.admin())
    page = client.get("/admin/sandbox/").get_data(as_text=True)
    assert f'data-tollfree="{sid}"' in page and row.phone_number in page
    params = f'{{"sid": "{sid}"}}'
    auth.post("/admin/sandbox/action", {"provider": "twilio", "action": "reject_tollfree",
              "params": params, "reason": "Website does not load."},
              form_page="/admin/sandbox/")  # fmt: skip
    remote = sandbox.twilio.tollfree[sid]
    assert remote["status"] == "TWILIO_REJECTED"
    assert remote["rejection_reason"] == "Website does not load."
    assert f'data-tollfree="{sid}"' not in client.get("/admin/sandbox/").get_data(as_text=True)
