"""A company admin connects a WhatsApp number through the Meta popup, in a real browser."""

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp

pytestmark = pytest.mark.browser


def complete_popup(popup, number: str | None, business: str = "Acme Retail",
                   biz_app: bool = False) -> None:  # fmt: skip
    """The popup's steps: a new business and WABA, then ``number`` (a new one, or the
    business app's with ``biz_app``), or none when the launch shares only the WABA."""
    popup.wait_for_selector("#step-business")
    popup.fill("#new-business-name", business)
    popup.click("#business-next")
    popup.fill("#new-waba-name", f"{business} WhatsApp")
    popup.click("#waba-next")
    if number is not None:
        if biz_app:
            popup.select_option("#phone-select", "biz_app")
        popup.fill("#new-phone-number", number)
        popup.fill("#new-verified-name", business)
    if popup.is_visible("#phone-next"):  # no number to choose: the dialog may skip the step
        popup.click("#phone-next")
    popup.click("#finish")


def connect_number(page, portal: str, number: str | None, feature: str | None = None,
                   business: str = "Acme Retail") -> None:  # fmt: skip
    """Acme's owner signs in and connects ``number`` through the popup, to the run's end;
    ``feature`` is the launch's radio (``coexistence``, ``only-waba``)."""
    login(page, portal, "owner@acme.example", demo.DEMO_PASSWORD)
    page.click("#connect-whatsapp")
    page.wait_for_selector("#connect-meta:not([disabled])")
    if feature:
        page.check(f"#feature-{feature}")
    with page.expect_popup() as popup_info:
        page.click("#connect-meta")
    complete_popup(popup_info.value, number, business, biz_app=feature == "coexistence")
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


def test_a_whatsapp_business_app_number_connects_with_coexistence(browser, live_demo):
    """The launch offers coexistence (featureType whatsapp_business_app_onboarding); the
    popup finishes with FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING and the number connects
    without registration."""
    page = browser.new_page()
    csp_violations = watch_csp(page)
    connect_number(page, live_demo["portal"], "+1 555 010 7777", "coexistence", "Acme Shop")
    assert page.text_content("#run-status").strip() == "completed"
    page.click("#to-channels")
    assert "+15550107777" in page.text_content("#channels")
    page.goto(f"{live_demo['portal']}/c/acme-retail/fleet/")
    page.click("text=+15550107777")
    assert "20 messages/s" in page.text_content("#meta-throughput")
    assert "CONNECTED" in page.text_content("#channel-status")
    assert csp_violations == []
