"""The templates demo in a browser: a company admin builds a template and sees it approved
on the sandbox's clock; the platform admin pauses it and moves its category on the
sandbox page; the company admin has one alert for the pause and sees the change
announced, then applied."""

import re

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp
from tests.e2e.test_connect_meta import connect_number
from tests.e2e.test_fleet_health_demo import logout

pytestmark = pytest.mark.browser


def wait_for_text(page, selector: str, text: str, tries: int = 60) -> None:
    """Reload until ``selector`` shows ``text`` (webhooks arrive in the background)."""
    for _ in range(tries):
        if text in (page.text_content(selector) or ""):
            return
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError(f"{selector} never showed {text!r}: {page.text_content(selector)!r}")


def sandbox_action(page, portal: str, template: str, label: str) -> None:
    page.goto(f"{portal}/admin/sandbox/")
    row = page.locator("#sandbox-meta-templates tr", has_text=template)
    row.locator("button", has_text=label).click()
    page.wait_for_selector(".flash")


def test_a_template_is_built_approved_paused_and_recategorised(browser, live_demo):
    portal = live_demo["portal"]
    page = browser.new_page()
    csp_violations = watch_csp(page)
    connect_number(page, portal, "+1 555 010 8888")

    page.click("a:has-text('Templates')")
    page.click("#new-template")
    page.fill("#name", "order_shipped")
    page.select_option("#category", "UTILITY")
    page.fill("#body", "Hello {{1}}, your order {{2}} has shipped today.")
    page.fill("#body_examples", "Ana\n#1042")
    page.fill("#footer", "Reply STOP to opt out")
    page.select_option("#buttons-0-type", "QUICK_REPLY")
    page.fill("#buttons-0-text", "Thanks")
    page.click("#submit-template")
    page.wait_for_url(re.compile(r".*/templates/\d+$"))
    assert page.text_content("#template-status").strip() in ("PENDING", "APPROVED")
    template_url = page.url
    wait_for_text(page, "#template-status", "APPROVED")  # Meta's review, by webhook
    assert "has shipped today" in page.text_content("#components")
    logout(page)

    login(page, portal, "admin@demo.example", demo.DEMO_PASSWORD)
    sandbox_action(page, portal, "order_shipped", "Pause")
    sandbox_action(page, portal, "order_shipped", "Announce MARKETING")
    logout(page)

    login(page, portal, "owner@acme.example", demo.DEMO_PASSWORD)
    page.goto(template_url)
    wait_for_text(page, "#template-status", "PAUSED")
    wait_for_text(page, "#template-category", "UTILITY")
    wait_for_text(page, "#impending", "MARKETING")
    page.goto(f"{portal}/notifications/")
    items = page.locator("#notifications .notification")
    texts = [items.nth(i).text_content() for i in range(items.count())]
    assert sum("was paused" in t for t in texts) == 1, texts
    assert sum("will move this template from UTILITY to MARKETING" in t for t in texts) == 1
    items.first.locator("a").first.click()
    assert page.url == template_url
    logout(page)

    login(page, portal, "admin@demo.example", demo.DEMO_PASSWORD)
    sandbox_action(page, portal, "order_shipped", "Apply MARKETING")
    logout(page)
    login(page, portal, "owner@acme.example", demo.DEMO_PASSWORD)
    page.goto(template_url)
    wait_for_text(page, "#template-category", "MARKETING")
    history = page.text_content("#template-history")
    assert "category impending" in history and "moved this template" in history
    assert csp_violations == []
