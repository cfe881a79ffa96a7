"""Meta's Template Library through the portal: browse it for a Meta account, create a
template from an item with the business's website, see Meta's content on the template and
its approval; a refused input keeps nothing."""

from __future__ import annotations

from sqlalchemy import select

from provisioning.templates import rules
from provisioning.templates.models import MessageTemplate
from tests.templates.test_meta_flow import account_id, drain, page_of, template


def use(auth, client, session, url, **changes):
    form = {
        "account": account_id(client, session, url),
        "library_template_name": "delivery_update_1",
        "language": "en_US",
        "category": "UTILITY",
        "name": "parcel_on_its_way",
        "website": "https://shop.example/track/{{1}}",
        "website_example": "https://shop.example/track/A12",
    } | changes
    return auth.post(url + "/library", form, form_page=url + "/library")


def test_an_admin_browses_the_library_and_creates_from_it(
    app,
    client,
    auth,
    session,
    sandbox,
    owner,
):
    user, waba = owner
    url = page_of(session, waba)
    auth.login(user)
    account_id(client, session, url)
    page = client.get(url + "/library?search=delivery&language=en_US").get_data(as_text=True)
    assert 'data-library-name="delivery_update_1"' in page and "is on its way" in page
    assert 'data-library-name="payment_reminder_1"' not in page

    answer = use(auth, client, session, url)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    row = template(session, "parcel_on_its_way")
    assert (row.status, row.category) == ("PENDING", "UTILITY")
    body = next(c for c in row.components if c["type"] == "BODY")
    assert "is on its way" in body["text"]  # Meta's content, read back after the creation
    [buttons] = [c for c in row.components if c["type"] == "BUTTONS"]
    assert buttons["buttons"][0]["url"] == "https://shop.example/track/{{1}}"

    sandbox.advance(31)
    drain(app)
    assert template(session, "parcel_on_its_way").status == "APPROVED"


def test_meta_refuses_a_missing_button_input_and_nothing_is_kept(
    app,
    client,
    auth,
    session,
    sandbox,
    owner,
):
    user, waba = owner
    url = page_of(session, waba)
    auth.login(user)
    answer = use(auth, client, session, url, website="", website_example="")
    assert answer.status_code == 303
    flashed = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Track order" in flashed  # Meta's message names the button that needs a website
    assert session.scalars(select(MessageTemplate)).all() == []


def test_the_library_is_meta_only():
    draft = rules.Draft("x_1", "en_US", "UTILITY", library_template_name="delivery_update_1")
    assert rules.problems(draft, "meta") == {}
    assert "template" in rules.problems(draft, "twilio")
    assert rules.payload(draft) == {
        "name": "x_1", "language": "en_US", "category": "UTILITY",
        "library_template_name": "delivery_update_1",
    }  # fmt: skip
