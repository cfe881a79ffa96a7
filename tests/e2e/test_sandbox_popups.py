"""A person opens Meta's signup popup and 360dialog's permissions page from the portal."""

import json
import re

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp

pytestmark = pytest.mark.browser


def test_embedded_signup_popup_returns_the_code_and_the_finish_event(browser, live_demo):
    page = browser.new_page()
    csp_violations = watch_csp(page)
    login(page, live_demo["portal"], demo.ADMIN_EMAIL)
    page.goto(f"{live_demo['portal']}/admin/sandbox/")
    page.wait_for_selector("#launch-meta:not([disabled])")  # enabled once FB.init ran
    with page.expect_popup() as popup_info:
        page.click("#launch-meta")
    popup = popup_info.value
    popup.wait_for_selector("#step-business")
    popup.fill("#new-business-name", "Browser Bakery")
    popup.click("#business-next")
    popup.fill("#new-waba-name", "Browser Bakery WABA")
    popup.click("#waba-next")
    popup.fill("#new-phone-number", "+1 555 010 9999")
    popup.fill("#new-verified-name", "Browser Bakery")
    popup.click("#phone-next")
    popup.click("#finish")
    # (wait_for_function would evaluate a string, which the page's CSP refuses)
    page.wait_for_selector("#meta-result:has-text('login callback')")
    result = page.text_content("#meta-result")
    assert '"event": "FINISH"' in result
    assert re.search(r'"code": "[^"]+"', result)
    event = json.loads(result.split("WA_EMBEDDED_SIGNUP: ", 1)[1].split("\nlogin callback")[0])
    assert event["data"]["waba_id"] and event["data"]["phone_number_id"]
    assert csp_violations == []


def test_360dialog_permissions_page_sends_the_customer_back(browser, live_demo):
    page = browser.new_page()
    csp_violations = watch_csp(page)
    login(page, live_demo["portal"], demo.ADMIN_EMAIL)
    page.goto(f"{live_demo['portal']}/admin/sandbox/")
    with page.expect_popup() as popup_info:
        page.click("#launch-360")
    hub = popup_info.value
    hub.wait_for_selector("#d360-signup-form")
    hub.fill("#name", "Browser Bakery")
    hub.fill("#email", "owner@bakery.example")
    hub.fill("#password", "a-good-password")
    hub.check("#terms")
    hub.click("#d360-signup-form button[type=submit]")
    hub.wait_for_selector("#d360-numbers-form")
    hub.fill("#number-0", "+4915112345678")
    hub.click("#numbers-submit")
    hub.wait_for_selector("#d360-consent-form")
    hub.click("#consent-submit")
    hub.wait_for_selector("#returned")
    returned = hub.text_content("#returned")
    assert '"client"' in returned and re.search(r'"channels": "\[[^"\]]+\]"', returned)
    assert csp_violations == []
