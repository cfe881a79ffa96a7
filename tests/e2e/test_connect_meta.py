"""A company admin connects a WhatsApp number through the Meta popup, in a real browser."""

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp

pytestmark = pytest.mark.browser


def complete_popup(popup, number: str) -> None:
    popup.wait_for_selector("#step-business")
    popup.fill("#new-business-name", "Acme Retail")
    popup.click("#business-next")
    popup.fill("#new-waba-name", "Acme Retail WhatsApp")
    popup.click("#waba-next")
    popup.fill("#new-phone-number", number)
    popup.fill("#new-verified-name", "Acme Retail")
    popup.click("#phone-next")
    popup.click("#finish")


def connect_number(page, portal: str, number: str) -> None:
    """Acme's owner signs in and connects ``number`` through the popup, to the run's end."""
    login(page, portal, "owner@acme.example", demo.DEMO_PASSWORD)
    page.click("#connect-whatsapp")
    page.wait_for_selector("#connect-meta:not([disabled])")
    with page.expect_popup() as popup_info:
        page.click("#connect-meta")
    complete_popup(popup_info.value, number)
    page.wait_for_selector("#to-channels", timeout=30_000)


def test_company_admin_connects_a_number_and_sees_it_connected(browser, live_demo):
    page = browser.new_page()
    csp_violations = watch_csp(page)
    connect_number(page, live_demo["portal"], "+1 555 010 4242")
    assert page.text_content("#run-status").strip() == "completed"
    page.click("#to-channels")
    row = page.text_content("#channels")
    assert "+15550104242" in row and "Meta" in row
    assert "GREEN" in row or "UNKNOWN" in row
    assert csp_violations == []  # the connect page, its SDK and the popup ran under the CSP
