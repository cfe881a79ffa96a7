"""The Twilio demo in a browser: buy a number, put WhatsApp on it, register a 10DLC brand."""

import pytest

from portal import demo
from tests.e2e.conftest import fill_form, login, watch_csp
from tests.twilio.test_a2p import PROFILE

pytestmark = pytest.mark.browser
SELECTS = {"business_type", "industry_vertical", "company_type", "use_case", "country"}


def test_buy_a_number_register_a_sender_and_a_brand(browser, live_demo):
    base = live_demo["portal"]
    page = browser.new_page()
    csp_violations = watch_csp(page)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations
    login(page, base, "owner@acme.example", demo.DEMO_PASSWORD)

    page.goto(f"{base}/c/acme-retail/numbers/?country=US&number_type=local&area_code=415&sms=y")
    number = page.text_content("#search-results tbody tr td")
    page.click("#search-results button[type=submit]")
    page.wait_for_selector("#numbers .badge.ok")
    assert number.strip() in page.text_content("#numbers")

    page.goto(f"{base}/c/acme-retail/whatsapp-senders/")
    page.fill("#sender-phone", number.strip())
    page.fill("#sender-name", "Acme Retail")
    page.wait_for_selector("#connect-meta:not([disabled])")
    with page.expect_popup() as popup_info:
        page.click("#connect-meta")
    popup = popup_info.value
    popup.wait_for_selector("#step-business")
    popup.fill("#new-business-name", "Acme Retail")
    popup.click("#business-next")
    popup.fill("#new-waba-name", "Acme Retail WhatsApp")
    popup.click("#waba-next")
    popup.fill("#new-phone-number", number.strip())
    popup.fill("#new-verified-name", "Acme Retail")
    popup.click("#phone-next")
    popup.click("#finish")
    page.wait_for_selector("#senders .badge.ok", timeout=30_000)  # ONLINE: a Twilio number
    assert "ONLINE" in page.text_content("#senders")

    page.goto(f"{base}/c/acme-retail/a2p/")
    fill_form(page, PROFILE, SELECTS)
    with page.expect_navigation():
        page.click("#business-form button[type=submit]")
    page.wait_for_selector(".flash.success")
    page.click("text=Submit the saved profile for registration")
    page.wait_for_url("**/runs/*")
    page.wait_for_selector("#step-wait_for_brand_approval .badge.warn", timeout=60_000)

    admin = browser.new_page()
    admin_csp_violations = watch_csp(admin)
    login(admin, base, demo.ADMIN_EMAIL, demo.DEMO_PASSWORD)
    admin.goto(f"{base}/admin/sandbox/")
    admin.click("#sandbox-reviews button:text('Approve')")
    admin.wait_for_selector(".flash.success")

    page.wait_for_selector("#to-channels", timeout=60_000)  # the run finished
    page.goto(f"{base}/c/acme-retail/a2p/")
    brands = page.text_content("#brands")
    assert "APPROVED" in brands and "locked" in brands
    assert csp_violations == [] and admin_csp_violations == []
