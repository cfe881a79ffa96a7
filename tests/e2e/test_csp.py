"""The Content-Security-Policy in a real browser: pages run under it, and it bites."""

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp

pytestmark = pytest.mark.browser


def test_the_browser_blocks_and_reports_inline_code(browser, live_demo):
    """The watcher the other browser tests rely on sees what the policy blocks."""
    page = browser.new_page()
    violations = watch_csp(page)
    page.goto(f"{live_demo['portal']}/login")
    with page.expect_console_message(lambda m: m.text.startswith("CSP violation: script-src")):
        page.evaluate(
            """() => { const s = document.createElement('script');
                       s.textContent = 'window.injected = true'; document.body.append(s); }"""
        )
    assert page.evaluate("window.injected") is None  # it never ran
    with page.expect_console_message(lambda m: m.text.startswith("CSP violation: style-src")):
        page.evaluate("() => { document.body.innerHTML += '<p style=\"color:red\">x</p>'; }")
    assert len(violations) >= 2


def test_every_page_in_the_navigation_runs_without_a_violation(browser, live_demo):
    base = live_demo["portal"]
    page = browser.new_page()
    violations = watch_csp(page)
    for email in (demo.ADMIN_EMAIL, "owner@acme.example"):
        login(page, base, email)
        if email != demo.ADMIN_EMAIL:
            page.goto(f"{base}/c/acme-retail/")
        links = page.eval_on_selector_all("header nav a", "links => links.map(a => a.href)")
        assert len(links) >= 5
        for link in links:
            page.goto(link)
            page.wait_for_load_state("load")
        page.click("button:has-text('Sign out')")
    assert violations == []


def test_confirmations_still_ask_before_a_form_is_sent(browser, live_demo):
    """The confirm dialogs moved from inline handlers to static/confirm.js."""
    page = browser.new_page()
    login(page, live_demo["portal"], demo.ADMIN_EMAIL)
    page.goto(f"{live_demo['portal']}/admin/users")
    page.click("text=agent@acme.example")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("button:has-text('Deactivate')")
    assert asked == ["Deactivate this user? Their sessions end at once."]
    assert page.locator(".badge.off").count() == 0  # dismissed: nothing was sent
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("button:has-text('Deactivate')")
    assert page.locator(".badge.off").count() == 1
