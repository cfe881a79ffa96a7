"""The regulatory demo in a browser: a German number is refused without a bundle, the
bundle is created with an uploaded document, approved on the sandbox page, and the number
is bought with it."""

import pytest

from portal import demo
from tests.e2e.conftest import login, watch_csp
from tests.twilio.test_regulatory import FORM, PDF

pytestmark = pytest.mark.browser
SEARCH = "numbers/?country=DE&number_type=local&sms=y"


def test_a_german_number_is_bought_once_its_bundle_is_approved(browser, live_demo):
    base = live_demo["portal"]
    company = f"{base}/c/acme-retail"
    page = browser.new_page()
    csp_violations = watch_csp(page)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations
    login(page, base, "owner@acme.example", demo.DEMO_PASSWORD)

    page.goto(f"{company}/{SEARCH}")
    assert "none yet" in page.text_content("#bundle-note")
    number = page.text_content("#search-results tbody tr td").strip()
    page.click("#search-results button[type=submit]")
    page.wait_for_selector(".flash")
    assert "approved regulatory bundle" in page.text_content("main")
    assert number not in (page.text_content("#numbers") or "")

    page.goto(f"{company}/regulatory/")
    page.fill("#country", "DE")
    page.select_option("#number_type", "local")
    page.select_option("#end_user_type", "business")
    page.click("#read-requirements")
    page.wait_for_selector("#bundle-form")
    for name, value in FORM.items():
        if name.endswith("-type"):
            page.select_option(f"#{name}", value)
        else:
            page.fill(f"#{name}", value)
    page.set_input_files(
        "#doc-business_registration_info-file",
        files=[{"name": "excerpt.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    with page.expect_navigation():
        page.click("#submit-bundle")
    page.wait_for_selector(".flash.success")

    admin = browser.new_page()
    admin_csp_violations = watch_csp(admin)
    login(admin, base, demo.ADMIN_EMAIL, demo.DEMO_PASSWORD)
    for _ in range(30):  # the run submits the bundle in the background
        admin.goto(f"{base}/admin/sandbox/")
        if admin.query_selector(".regulatory-review"):
            break
        admin.wait_for_timeout(500)
    admin.click(".regulatory-review button:text('Approve')")
    admin.wait_for_selector(".flash.success")

    page.goto(f"{company}/regulatory/")
    page.click("#bundles button:text('Check status')")
    page.wait_for_selector("#bundles tr[data-status='twilio-approved']")

    page.goto(f"{company}/{SEARCH}")
    assert "Purchases use the approved regulatory bundle" in page.text_content("#bundle-note")
    page.click(f"#search-results tr:has-text('{number}') button[type=submit]")
    page.wait_for_selector("#numbers .badge.ok")
    assert number in page.text_content("#numbers")
    assert csp_violations == [] and admin_csp_violations == []
