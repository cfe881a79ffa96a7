"""A number's life in the demo, in a browser: a display name change approved on the
sandbox's clock; a WhatsApp Business app number's contacts and history synchronised; a
number bought through Twilio registered with no code typed; the company offboarded with
nothing of it left pointing at the portal."""

import re

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp
from tests.e2e.test_connect_meta import connect_number
from tests.e2e.test_number_wizard import connect_without_number

pytestmark = pytest.mark.browser


def reload_until(page, selector: str, predicate, tries: int = 80) -> str:
    for _ in range(tries):
        text = page.text_content(selector) or ""
        if predicate(text):
            return text
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError(f"{selector} stayed {page.text_content(selector)!r}")


def open_number(page, portal: str) -> None:
    page.goto(f"{portal}/c/acme-retail/whatsapp-numbers/")
    page.click("#numbers tbody tr a")


def test_a_display_name_change_is_approved_on_the_sandbox_clock(browser, live_demo):
    portal = live_demo["portal"]
    page = browser.new_page()
    csp_violations = watch_csp(page)
    connect_number(page, portal, "+1 555 010 5151")
    open_number(page, portal)
    page.click("#profile-link")
    page.fill("#name", "Acme Retail Store")
    page.click("#display-name-form button[type=submit]")
    text = reload_until(page, "#new-display-name", lambda t: "approved" in t)
    assert "Acme Retail Store" in text
    assert csp_violations == []


def test_a_business_app_number_synchronises_its_contacts_and_history(browser, live_demo):
    portal = live_demo["portal"]
    page = browser.new_page()
    connect_number(page, portal, "+1 555 010 5252", "coexistence", "Acme Shop")
    open_number(page, portal)
    reload_until(
        page, "#coexistence-history", lambda t: "complete" in t.lower() or "100" in t, tries=120
    )
    assert page.get_attribute("#coexistence-contacts", "data-status") != "not_requested"


def test_a_bought_number_registers_without_a_code_then_the_company_is_offboarded(
    browser, live_demo
):
    portal = live_demo["portal"]
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    connect_without_number(page, portal)
    page.goto(f"{portal}/c/acme-retail/numbers/?country=US&number_type=local&area_code=415&sms=y")
    number = page.text_content("#search-results tbody tr td").strip()
    page.click("#search-results button[type=submit]")
    page.wait_for_selector("#numbers .badge.ok")

    digits = re.sub(r"\D", "", number)
    page.goto(f"{portal}/c/acme-retail/whatsapp-numbers/")
    page.fill("#cc", digits[0])
    page.fill("#phone_number", digits[1:])
    page.fill("#verified_name", "Acme Retail")
    page.click("#add-number button[type=submit]")
    reload_until(page, "#run-status", lambda t: t.strip() == "completed")  # nobody typed
    page.click("#to-number")
    assert page.text_content("#number-status").strip() == "CONNECTED"

    admin = browser.new_context().new_page()
    login(admin, portal, "admin@demo.example", demo.DEMO_PASSWORD)
    admin.goto(f"{portal}/admin/sandbox/")
    assert admin.locator("#sandbox-routes tr.portal").count() >= 1  # routes to the portal

    page.goto(f"{portal}/c/acme-retail/offboard")
    page.fill("#confirmation", "acme-retail")
    page.click("#offboard-company button[type=submit]")
    for _ in range(80):
        admin.goto(f"{portal}/admin/sandbox/")
        if admin.locator("#sandbox-routes tr.portal").count() == 0:
            break
        admin.wait_for_timeout(500)
    assert admin.locator("#sandbox-routes tr.portal").count() == 0
