"""Toll-free verification in a browser: buy a toll-free number, submit it, see Twilio's
rejection with its reason, fix and resubmit, approve, and the number can send."""

import pytest

from portal import demo
from tests.e2e.conftest import fill_form, login, watch_csp
from tests.twilio.test_tollfree import DETAILS

pytestmark = pytest.mark.browser
SELECTS = {"business_type", "business_registration_authority", "opt_in_type", "message_volume",
           "use_case_categories"}  # fmt: skip


def wait_for_text(page, selector: str, text: str, tries: int = 30) -> None:
    """Reload until ``selector`` shows ``text`` (the review reaches the portal by event or by
    the page's own fetch)."""
    for _ in range(tries):
        if text in (page.text_content(selector) or ""):
            return
        page.wait_for_timeout(1000)
        page.reload()
    raise AssertionError(f"{text!r} never appeared in {selector}")


def test_verify_a_toll_free_number_fix_a_rejection_and_send(browser, live_demo):
    base = live_demo["portal"]
    page = browser.new_page()
    csp_violations = watch_csp(page)
    page.on("dialog", lambda dialog: dialog.accept())  # the purchase confirmation
    login(page, base, "owner@acme.example", demo.DEMO_PASSWORD)

    page.goto(f"{base}/c/acme-retail/numbers/?country=US&number_type=toll_free&sms=y")
    number = (page.text_content("#search-results tbody tr td") or "").strip()
    page.click("#search-results button[type=submit]")
    page.wait_for_selector("#numbers .badge.ok")
    page.click(f"#numbers a:text('{number}')")
    page.wait_for_selector("#can-send")
    assert "Cannot send SMS" in page.text_content("#can-send")
    assert "30032" in page.text_content("#can-send")

    fill_form(page, DETAILS, SELECTS)
    page.click("#submit-verification")
    page.wait_for_selector(".flash.success")
    assert "PENDING_REVIEW" in page.text_content("#verification-status")

    admin = browser.new_page()
    admin_csp_violations = watch_csp(admin)
    login(admin, base, demo.ADMIN_EMAIL, demo.DEMO_PASSWORD)
    admin.goto(f"{base}/admin/sandbox/")
    row = admin.locator("tr[data-tollfree]")
    row.locator("input[name=reason]").fill("The opt-in screenshot does not show SMS consent.")
    row.locator("button:text('Reject')").click()
    admin.wait_for_selector(".flash.success")

    wait_for_text(page, "#verification", "TWILIO_REJECTED")
    assert "does not show SMS consent" in page.text_content("#rejection-reason")
    page.fill("#opt_in_image_urls", "https://acme-dental.example.com/optin-with-consent.png")
    page.fill("#edit_reason", "A screenshot that shows the SMS consent checkbox")
    assert page.text_content("#submit-verification").strip() == "Fix and resubmit"
    page.click("#submit-verification")
    page.wait_for_selector(".flash.success")
    assert "Resubmitted" in page.text_content(".flash.success")

    admin.goto(f"{base}/admin/sandbox/")
    admin.locator("tr[data-tollfree] button:text('Approve')").click()
    admin.wait_for_selector(".flash.success")

    wait_for_text(page, "#can-send", "Can send SMS")
    assert "TWILIO_APPROVED" in page.text_content("#verification-status")
    assert csp_violations == [] and admin_csp_violations == []
