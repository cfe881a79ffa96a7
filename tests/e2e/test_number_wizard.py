"""The number wizard in a browser: an account connected without a number ("No number
yet", FINISH_ONLY_WABA), then a number added, its code read where its owner would read it
(the sandbox page), typed, and the number registered."""

import re

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp

pytestmark = pytest.mark.browser


def connect_without_number(page, portal: str) -> None:
    login(page, portal, "owner@acme.example", demo.DEMO_PASSWORD)
    page.click("#connect-whatsapp")
    page.wait_for_selector("#connect-meta:not([disabled])")
    page.check("#feature-only-waba")
    with page.expect_popup() as popup_info:
        page.click("#connect-meta")
    popup = popup_info.value
    popup.wait_for_selector("#step-business")
    popup.fill("#new-business-name", "Acme Retail")
    popup.click("#business-next")
    popup.fill("#new-waba-name", "Acme Retail WhatsApp")
    popup.click("#waba-next")
    if popup.is_visible("#phone-next"):  # no number to choose: the dialog may skip the step
        popup.click("#phone-next")
    popup.click("#finish")
    page.wait_for_selector("#to-channels", timeout=30_000)


def test_a_number_is_added_verified_with_its_code_and_registered(browser, live_demo):
    portal = live_demo["portal"]
    page = browser.new_page()
    csp_violations = watch_csp(page)
    connect_without_number(page, portal)

    page.click("a:has-text('WhatsApp numbers')")
    page.fill("#cc", "1")
    page.fill("#phone_number", "555 010 7373")
    page.fill("#verified_name", "Acme Retail")
    page.click("#add-number button[type=submit]")
    page.wait_for_selector("#code-form", timeout=30_000)
    assert "+15550107373" in page.text_content("h1")

    admin = browser.new_context().new_page()
    login(admin, portal, "admin@demo.example", demo.DEMO_PASSWORD)
    admin.goto(f"{portal}/admin/sandbox/")
    code = admin.text_content('#sandbox-meta-codes tr[data-number="+15550107373"] .code').strip()
    assert re.fullmatch(r"\d{6}", code)

    page.fill("#code", code[:3] + " " + code[3:])
    page.click("#code-form button[type=submit]")
    for _ in range(60):
        if page.text_content("#run-status").strip() == "completed":
            break
        page.wait_for_timeout(500)
        page.reload()
    assert page.text_content("#run-status").strip() == "completed"
    page.click("#to-number")
    assert page.text_content("#number-status").strip() == "CONNECTED"
    assert "9 of 10" in page.text_content("#calls-left")
    assert csp_violations == []
