"""The fleet-health demo: a number turns RED in the sandbox, the portal hears it and tells."""

import re

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp
from tests.e2e.test_connect_meta import connect_number

pytestmark = pytest.mark.browser


def logout(page) -> None:
    page.click("button:has-text('Sign out')")
    page.wait_for_url(re.compile(r".*/login.*"))


def test_a_red_number_reaches_the_chart_and_one_notification(browser, live_demo):
    page = browser.new_page()
    csp_violations = watch_csp(page)
    connect_number(page, live_demo["portal"], "+1 555 010 7777")
    logout(page)

    # The platform admin turns the number RED on the sandbox page.
    login(page, live_demo["portal"], "admin@demo.example", demo.DEMO_PASSWORD)
    page.goto(f"{live_demo['portal']}/admin/sandbox/")
    row = page.locator("#sandbox-meta-numbers tr", has_text="+15550107777")
    row.locator("button", has_text="Red").click()
    page.wait_for_selector(".flash")
    # Meta sends no webhook for a quality change today: the quality sync reads it.
    page.goto(f"{live_demo['portal']}/admin/fleet/")
    page.click("#sync-now")
    page.wait_for_selector(".flash")
    logout(page)

    # The company admin sees one notification and the RED point on the history chart.
    login(page, live_demo["portal"], "owner@acme.example", demo.DEMO_PASSWORD)
    for _ in range(60):  # the sync runs in the background
        page.goto(f"{live_demo['portal']}/notifications/")
        if page.locator("#notifications .notification").count():
            break
        page.wait_for_timeout(500)
    items = page.locator("#notifications .notification")
    assert items.count() == 1
    assert "quality rating dropped to RED" in items.first.text_content()
    assert page.text_content("#unread-count").strip() == "1"
    items.first.locator("a").first.click()
    assert "RED" in page.text_content("#channel-quality")
    assert "RED" in page.text_content("#history")
    assert page.locator("#health-chart svg").count() == 1
    assert csp_violations == []  # the sandbox page, the chart
