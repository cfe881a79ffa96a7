"""A hosted onboarding link, completed in a real browser by someone with no portal account."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp
from tests.e2e.test_connect_meta import complete_popup

pytestmark = pytest.mark.browser
WELCOME = "https://platform.example/welcome"


def create_link(page, portal: str) -> str:
    """Acme's owner creates a Meta link on the company's links page; its URL, shown once."""
    login(page, portal, "owner@acme.example", demo.DEMO_PASSWORD)
    page.click("#onboarding-links")
    page.fill("#platform_name", "Chatly")
    page.fill("#success_url", WELCOME)
    page.click("#create-link")
    return page.input_value("#new-link-url")


def wait_for_text(page, url: str, selector: str, text: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        found = page.locator(selector)
        if found.count() and text in (found.first.text_content() or ""):
            return
        assert time.monotonic() < deadline, f"{text!r} never appeared in {selector} of {url}"
        time.sleep(0.5)


def test_a_visitor_without_an_account_connects_a_number_through_a_link(browser, live_demo):
    portal = live_demo["portal"]
    owner = browser.new_page()
    link_url = create_link(owner, portal)
    assert link_url.startswith(f"{portal}/onboard/")

    visitor = browser.new_context()  # no cookie of the portal: nobody is signed in
    visitor.route(
        f"{WELCOME}**",
        lambda route: route.fulfill(body="<h1>Welcome back</h1>", content_type="text/html"),
    )  # the platform's own page, answered here (no network)
    page = visitor.new_page()
    csp_violations = watch_csp(page)
    page.goto(link_url)
    assert page.text_content("#platform-name").strip() == "Chatly"
    page.wait_for_selector("#connect-meta:not([disabled])")
    with page.expect_popup() as popup_info:
        page.click("#connect-meta")
    complete_popup(popup_info.value, "+1 555 010 5151")
    page.wait_for_url(f"{WELCOME}**", timeout=30_000)
    query = parse_qs(urlsplit(page.url).query)
    assert query["status"] == ["completed"] and query["link"][0].startswith("ol_")
    assert csp_violations == []

    # the number lands in Acme, and the link says it was completed
    wait_for_text(owner, f"{portal}/c/acme-retail/", "#channels", "+15550105151")
    links = f"{portal}/c/acme-retail/onboarding-links"
    wait_for_text(owner, links, f"tr[data-link='{query['link'][0]}']", "completed")
    used = visitor.new_page()
    assert used.goto(link_url).status == 410
    visitor.close()
