"""A company admin connects a number through 360dialog's permissions popup, in a browser."""

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp

pytestmark = pytest.mark.browser


def test_company_admin_connects_a_number_through_the_hub(browser, live_demo):
    page = browser.new_page()
    csp_violations = watch_csp(page)
    login(page, live_demo["portal"], "owner@acme.example", demo.DEMO_PASSWORD)
    page.click("#connect-360dialog")
    with page.expect_popup() as popup_info:
        page.click("#connect-360")
    hub = popup_info.value
    hub.wait_for_selector("#d360-signup-form")
    assert hub.input_value("#email") == "owner@acme.example"  # prefilled by the portal
    hub.fill("#name", "Acme Retail")
    hub.fill("#password", "a-good-password")
    hub.check("#terms")
    hub.click("#d360-signup-form button[type=submit]")
    hub.wait_for_selector("#d360-numbers-form")
    hub.fill("#number-0", "+4915112340000")
    hub.click("#numbers-submit")
    hub.wait_for_selector("#d360-consent-form")
    hub.click("#consent-submit")
    page.wait_for_url("**/runs/*", timeout=30_000)  # the popup told the page where to go
    page.wait_for_selector("#to-channels", timeout=60_000)  # the channel went live
    page.click("#to-channels")
    row = page.text_content("#channels")
    assert "+4915112340000" in row and "360dialog" in row and "RUNNING" in row
    # 360dialog delivers the number's messages to its webhook: the portal answers 200 and
    # the company sees them on the number's page
    sandbox = live_demo["sandbox_obj"]
    channel = next(
        c for c in sandbox.dialog360.store.channels.values() if c.phone_number == "+4915112340000"
    )
    delivered = sandbox.dialog360.control_inbound_message(channel_id=channel.id, text="Hi")
    assert delivered["deliveries"] == [200]
    page.click("#channels a:has-text('+4915112340000')")
    page.click("#channel-messaging-events")
    assert "text from 15550001111" in page.text_content("#messaging-events")
    assert csp_violations == []  # the connect page and the return page ran under the CSP
