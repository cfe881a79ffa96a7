"""The number wizard in a browser: an account connected without a number ("No number
yet", FINISH_ONLY_WABA), then a number added, its code read where its owner would read it
(the sandbox page), typed, and the number registered."""

import re

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp
from tests.e2e.test_connect_meta import connect_number

pytestmark = pytest.mark.browser


def connect_without_number(page, portal: str) -> None:
    connect_number(page, portal, None, "only-waba")


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
