"""A sole proprietor registers for 10DLC in a browser: the fees and limits before the
submission, the brand waiting for the owner's YES to the verification text, the reply
played on the sandbox page, the campaign approved, the registration complete."""

import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from portal import demo
from tests.e2e.conftest import fill_form, login, watch_csp
from tests.twilio.test_brand_types import SOLE

pytestmark = pytest.mark.browser
SELECTS = {"brand_type", "business_type", "industry_vertical", "company_type", "use_case",
           "country"}  # fmt: skip


def reload_until(page, url: str, selector: str, seconds: float = 60) -> None:
    """Reload ``url`` until ``selector`` shows (the run moves on in the background).

    The run page refreshes itself every 2 s while the run waits: its refresh may win the
    race with the first navigation away from it, which is then made again."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            page.goto(url)
        except PlaywrightError as exc:
            if "interrupted by another navigation" not in str(exc):
                raise
        else:
            if page.query_selector(selector) is not None:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} never showed on {url}")
        time.sleep(1)


def test_a_sole_proprietor_completes_10dlc_with_its_otp(browser, live_demo):
    base = live_demo["portal"]
    page = browser.new_page()
    csp_violations = watch_csp(page)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations
    login(page, base, "owner@globex.example", demo.DEMO_PASSWORD)
    a2p = f"{base}/c/globex-logistics/a2p/"

    page.goto(a2p)
    fill_form(page, SOLE, SELECTS)
    with page.expect_navigation():
        page.click("#business-form button[type=submit]")
    page.wait_for_selector(".flash.success")
    fees = page.text_content("#brand-types tr[data-type=SOLE_PROPRIETOR]")
    assert "$4 once" in fees and "$2 a month" in fees and "1,000 a day" in fees
    assert "Sole proprietor" in page.text_content("#chosen")
    confirm = page.get_attribute("form[data-confirm*='Fees']", "data-confirm")
    assert "sole proprietor" in confirm and "$15 per campaign submission" in confirm
    page.click("text=Submit the saved profile for registration")
    page.wait_for_url("**/runs/*")
    page.wait_for_selector("#step-wait_for_brand_approval .badge.warn", timeout=60_000)

    admin = browser.new_page()
    admin_csp_violations = watch_csp(admin)
    login(admin, base, demo.ADMIN_EMAIL, demo.DEMO_PASSWORD)
    admin.goto(f"{base}/admin/sandbox/")
    admin.click("#sandbox-reviews button:text('Approve')")  # the carriers approve the brand
    admin.wait_for_selector(".flash.success")

    reload_until(page, a2p, ".otp-step")  # approved, then texted: waits for the owner
    step = page.text_content(".otp-step")
    assert SOLE["owner_phone"] in step and "reply YES" in step
    assert page.query_selector(".otp-step button:text('Send the code again')") is not None

    reload_until(admin, f"{base}/admin/sandbox/", "tr.brand-otp")
    assert SOLE["owner_phone"] in admin.text_content("tr.brand-otp")
    admin.click("tr.brand-otp button:text('Owner replies YES')")
    admin.wait_for_selector(".flash.success")

    reload_until(admin, f"{base}/admin/sandbox/", "#sandbox-reviews tr:has-text('Campaign of')")
    admin.click("#sandbox-reviews tr:has-text('Campaign of') button:text('Approve')")
    admin.wait_for_selector(".flash.success")

    reload_until(page, a2p, "[id^=registration-complete-]")
    brands = page.text_content("#brands")
    assert "APPROVED" in brands and "VERIFIED" in brands and "Sole proprietor" in brands
    assert "1 message segment per second" in brands
    assert page.query_selector(".otp-step") is None
    assert csp_violations == [] and admin_csp_violations == []
