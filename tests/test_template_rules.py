"""The template builder's checks: one test per rule, then Meta's shapes.

Each rule starts from a draft every provider accepts and breaks it one way; the test names
the form field the message is keyed by. The shapes are compared with the create-template
examples of Meta's own OpenAPI description (vendored in tests/specs).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from provisioning.templates.rules import Button, Draft, components, payload, problems

PROVIDERS = ("meta", "dialog360", "twilio")
SPEC = Path(__file__).parent / "specs" / "meta_business-messaging-api_v23.0.json"


def good(**changes) -> Draft:
    """A marketing draft with every part filled in, accepted by the three providers."""
    base = Draft(
        name="summer_sale_2026",
        language="en_US",
        category="MARKETING",
        header_format="TEXT",
        header_text="Our {{1}} is on!",
        header_example="Summer Sale",
        body="Hi {{1}}, use code {{2}} to get {{3}} off everything until Sunday.",
        body_examples=["Pablo", "SUMMER26", "25%"],
        footer="Reply STOP to opt out",
        buttons=[
            Button("QUICK_REPLY", "Stop promotions"),
            Button("QUICK_REPLY", "Remind me later"),
            Button(
                "URL", "Shop now", url="https://shop.example.com/sale?c={{1}}", url_example="x1"
            ),
            Button("PHONE_NUMBER", "Call us", phone_number="+15550051310"),
        ],
    )
    return replace(base, **changes)


def auth(**changes) -> Draft:
    base = Draft(
        name="login_code",
        language="en_US",
        category="AUTHENTICATION",
        add_security_recommendation=True,
        code_expiration_minutes=10,
        buttons=[Button("OTP", "Copy code", otp_type="COPY_CODE")],
    )
    return replace(base, **changes)


def with_button(index: int, button: Button, **changes) -> Draft:
    buttons = list(good().buttons)
    buttons[index] = button
    return good(buttons=buttons, **changes)


def only(draft: Draft, key: str, words: str, provider: str = "meta") -> None:
    """The draft has problems in ``key`` alone, one of whose messages says ``words``."""
    found = problems(draft, provider)
    assert set(found) == {key}, found
    assert any(words in message for message in found[key]), found[key]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_complete_drafts_pass_every_provider(provider):
    assert problems(good(), provider) == {}
    assert problems(auth(), provider) == {}
    assert problems(good(header_format="", header_text="", header_example=""), provider) == {}


def test_an_unknown_provider_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown provider"):
        problems(good(), "whatsapp")


# --- name, language, category -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "Give the template a name"),
        ("Summer_sale", "lowercase letters, digits and underscores"),
        ("summer sale", "lowercase letters, digits and underscores"),
        ("summer-sale", "lowercase letters, digits and underscores"),
        ("a" * 513, "513 characters; at most 512"),
    ],
)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_name_is_lowercase_letters_digits_and_underscores_up_to_512(name, words, provider):
    only(good(name=name), "name", words, provider)


def test_name_of_512_characters_passes():
    assert problems(good(name="a" * 512), "twilio") == {}


@pytest.mark.parametrize("language", ["", "english", "en-US", "EN_us", "pt"])
def test_language_is_one_of_metas_codes(language):
    only(good(language=language), "language", "Meta's codes")


@pytest.mark.parametrize("language", ["en", "en_GB", "es_MX", "pt_BR", "zh_CN", "ar_EG", "fil"])
def test_metas_language_codes_pass(language):
    assert problems(good(language=language), "meta") == {}


def test_category_is_marketing_utility_or_authentication():
    only(good(category="PROMOTIONAL"), "category", "marketing, utility or authentication")
    utility = good(buttons=good().buttons[:2])
    assert problems(replace(utility, category="UTILITY"), "meta") == {}


# --- body -----------------------------------------------------------------------------------


def test_body_is_required():
    only(good(body="  ", body_examples=[]), "body", "Write the message body")


def test_body_has_at_most_1024_characters():
    words = "word " * 205  # 1025 characters with the trailing space
    only(good(body=words, body_examples=[]), "body", "1025 characters; at most 1024")
    assert problems(good(body=words[:1024], body_examples=[]), "meta") == {}


@pytest.mark.parametrize(
    "body", ["Hi {{1}, your order is ready now.", "Hi {1}}, your order is ready."]
)
def test_variables_have_two_braces_on_each_side(body):
    only(good(body=body, body_examples=[]), "body", "Check the braces")


def test_positional_variables_start_at_1_without_gaps():
    body = "Hi {{1}}, your order {{3}} ships today from our store."
    only(good(body=body, body_examples=["a", "b"]), "body", "{{2}} is missing")
    zero = "Hi {{0}}, your order ships today from our store."
    only(good(body=zero, body_examples=["a"]), "body", "{{0}} is not a variable")


def test_positional_variables_are_numbered_in_the_order_they_appear():
    body = "Hi {{2}}, your order {{1}} ships today from our store."
    only(good(body=body, body_examples=["a", "b"]), "body", "in the order they appear")


def test_each_variable_appears_once():
    body = "Hi {{1}}, your order {{2}} for {{1}} ships today from our big store."
    only(good(body=body, body_examples=["a", "b"]), "body", "{{1}} appears more than once")


def test_formats_are_not_mixed():
    body = "Hi {{1}}, your order {{order_id}} ships today from our store."
    only(good(body=body, body_examples=["a", "b"]), "body", "use one kind")
    mixed = good(parameter_format="NAMED", header_format="", buttons=[], body_examples=["a", "b"])
    only(replace(mixed, body=body), "body", "{{1}} is numbered")


def test_the_variable_format_is_positional_or_named():
    only(good(parameter_format="MIXED"), "body", "numbered ({{1}}) or named")


def test_body_cannot_start_with_a_variable():
    body = "{{1}}, your code is {{2}} and it works until Sunday night."
    only(good(body=body, body_examples=["a", "b"]), "body", "cannot start with a variable")


@pytest.mark.parametrize("end", ["{{3}}", "{{3}}.", "{{3}} !"])
def test_body_cannot_end_with_a_variable_even_before_punctuation(end):
    body = f"Hi {{{{1}}}}, use code {{{{2}}}} to get a discount of {end}"
    only(good(body=body), "body", "cannot end with a variable")


@pytest.mark.parametrize("between", [" ", ", ", " - "])
def test_variables_are_not_side_by_side(between):
    body = f"Hello dear {{{{1}}}}{between}{{{{2}}}} and welcome to our shop {{{{3}}}} today."
    only(good(body=body), "body", "Write words between {{1}} and {{2}}")


def test_too_many_variables_for_the_length_are_refused():
    # 3 variables need 2 * 3 + 1 = 7 other words; "Hi", "code", "gets", "off", "today" is 5.
    body = "Hi {{1}}, code {{2}} gets {{3}} off today."
    only(good(body=body), "body", "3 variables need 7 other words, the body has 5")
    longer = "Hi {{1}}, code {{2}} gets you {{3}} off today and tomorrow."
    assert problems(good(body=longer), "meta") == {}


def test_every_variable_has_an_example():
    only(good(body_examples=["Pablo", "SUMMER26"]), "body_examples", "3 variables and 2 examples")
    only(good(body_examples=["Pablo", " ", "25%"]), "body_examples", "Give an example for {{2}}")
    only(good(body_examples=["Pablo", "SUMMER26", "25%", "x"]), "body_examples", "and 4 examples")


@pytest.mark.parametrize("example", ["two\nlines", "a\ttab", "five     spaces"])
def test_examples_have_no_new_lines_tabs_or_more_than_4_spaces(example):
    only(good(body_examples=["Pablo", example, "25%"]), "body_examples", "new lines, tabs")
    assert problems(good(body_examples=["Pablo", "four    spaces", "25%"]), "meta") == {}


# --- named parameters -----------------------------------------------------------------------


def named(**changes) -> Draft:
    fields = {
        "parameter_format": "NAMED",
        "header_text": "Our {{sale_name}} is on!",
        "body": "Hi {{first_name}}, use code {{code}} to get {{discount}} off until Sunday.",
    }
    return good(**(fields | changes))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_named_variables_pass(provider):
    assert problems(named(), provider) == {}


@pytest.mark.parametrize("name", ["First_name", "first name", "line1", "first-name"])
def test_named_variables_are_lowercase_letters_and_underscores(name):
    body = f"Hi {{{{{name}}}}}, use code {{{{code}}}} to get {{{{discount}}}} off until Sunday."
    only(named(body=body), "body", "lowercase letters and _")


def test_twilio_variable_keys_have_at_most_16_characters():
    body = "Hi {{customer_first_name}}, use code {{code}} for {{discount}} off until Sunday."
    only(named(body=body), "body", "Twilio allows 16 characters", "twilio")
    assert problems(named(body=body), "meta") == {}


def test_named_components_and_payload():
    draft = named(buttons=[Button("QUICK_REPLY", "Stop promotions")])
    sent = payload(draft)
    assert sent["parameter_format"] == "NAMED"
    assert sent["allow_category_change"] is True
    header, body = sent["components"][:2]
    assert header["example"] == {
        "header_text_named_params": [{"param_name": "sale_name", "example": "Summer Sale"}]
    }
    assert body["example"] == {
        "body_text_named_params": [
            {"param_name": "first_name", "example": "Pablo"},
            {"param_name": "code", "example": "SUMMER26"},
            {"param_name": "discount", "example": "25%"},
        ]
    }
    assert "parameter_format" not in payload(good())


# --- header ---------------------------------------------------------------------------------


def test_header_format_is_one_of_metas():
    only(good(header_format="GIF"), "header_format", "Choose a header")


def test_text_header_is_required_and_at_most_60_characters():
    only(good(header_text="", header_example=""), "header_text", "Write the header text")
    long = "Our {{1}} is on! " + "x" * 44
    only(good(header_text=long), "header_text", "61 characters; at most 60")


def test_text_header_has_one_variable_with_an_example():
    only(good(header_text="Our {{1}} and {{2}}"), "header_text", "one variable at most")
    only(good(header_text="Our {{2}} is on!"), "header_text", "The header's variable is {{1}}")
    only(good(header_example=""), "header_example", "Give an example for {{1}}")


@pytest.mark.parametrize("text", ["Our *{{1}}* is on!", "Our {{1}}\nis on!", "Our ~{{1}}~"])
def test_text_header_is_one_line_without_formatting(text):
    only(good(header_text=text), "header_text", "one line without formatting")


@pytest.mark.parametrize("kind", ["IMAGE", "VIDEO", "DOCUMENT"])
def test_media_header_needs_a_sample(kind):
    handle = "4::aW1hZ2UvanBn:ARYytyb0kLp5"
    assert problems(good(header_format=kind, header_text="", header_example=handle), "meta") == {}
    media = good(header_format=kind, header_text="", header_example="")
    only(media, "header_example", f"Upload a sample {kind.lower()}")
    only(replace(media, header_example=handle, header_text="Hi"), "header_text", "has no text")


def test_twilio_media_header_sample_is_a_public_https_url():
    media = good(header_format="IMAGE", header_text="", header_example="4::aW1hZ2UvanBn:AR")
    only(media, "header_example", "public https URL", "twilio")
    image = replace(media, header_example="https://cdn.example.com/sale.png")
    assert problems(image, "twilio") == {}


def test_location_header_has_no_text_and_no_twilio_equivalent():
    location = good(header_format="LOCATION", header_text="", header_example="")
    assert problems(location, "meta") == {}
    only(replace(location, header_text="Here"), "header_text", "location header has no text")
    only(location, "header_format", "Twilio's templates have no location header", "twilio")


# --- footer ---------------------------------------------------------------------------------


def test_footer_has_at_most_60_characters_and_no_variables():
    only(good(footer="x" * 61), "footer", "61 characters; at most 60")
    only(good(footer="Hi {{1}}"), "footer", "cannot contain variables")
    assert problems(good(footer="x" * 60), "meta") == {}


# --- buttons --------------------------------------------------------------------------------


def test_at_most_10_buttons():
    quick = [Button("QUICK_REPLY", f"Option {n}") for n in range(11)]
    only(good(buttons=quick), "buttons", "at most 10 buttons")
    assert problems(good(buttons=quick[:10]), "meta") == {}


def test_quick_reply_text_is_required_and_short():
    only(with_button(0, Button("QUICK_REPLY", "")), "buttons.0", "Write the button's text")
    long = Button("QUICK_REPLY", "x" * 26)
    only(with_button(0, long), "buttons.0", "26 characters; at most 25")


def test_twilio_button_titles_have_at_most_20_characters():
    title = Button("QUICK_REPLY", "x" * 21)
    only(with_button(0, title), "buttons.0", "21 characters; at most 20", "twilio")
    assert problems(with_button(0, title), "meta") == {}


def test_quick_replies_stay_together():
    first, second, url, phone = good().buttons
    only(good(buttons=[first, url, second]), "buttons", "Keep the quick replies together")
    only(good(buttons=[url, first, phone]), "buttons", "Keep the quick replies together")
    assert problems(good(buttons=[url, phone, first, second]), "meta") == {}


def test_at_most_2_url_buttons():
    url = good().buttons[2]
    only(good(buttons=[url, url, url]), "buttons", "at most 2 website button(s)")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://shop.example.com", "https:// address"),
        ("https://shop.example.com/a b", "https:// address"),
        ("https://shop.example.com/" + "x" * 2000, "at most 2000"),
        ("https://shop.example.com/{{1}}/buy", "can end in one variable"),
        ("https://shop.example.com/{{1}}{{2}}", "can end in one variable"),
        ("https://{{1}}", "goes after the site's address"),
        ("https://shop.example.com/{{2}}", "The address's variable is {{1}}"),
    ],
)
def test_url_is_https_with_at_most_one_variable_at_the_end(url, words):
    only(with_button(2, Button("URL", "Shop now", url=url, url_example="x1")), "buttons.2", words)


def test_url_variable_has_an_example():
    button = Button("URL", "Shop now", url="https://shop.example.com/{{1}}")
    only(with_button(2, button), "buttons.2", "Give an example for {{1}}")


def test_named_templates_may_name_the_url_variable():
    button = Button("URL", "Shop now", url="https://shop.example.com/{{sku}}", url_example="a1")
    assert problems(named(buttons=[button]), "meta") == {}


def test_at_most_1_phone_button_in_international_form():
    phone = good().buttons[3]
    only(good(buttons=[phone, phone]), "buttons", "at most 1 phone button(s)")
    bad = Button("PHONE_NUMBER", "Call us", phone_number="call me")
    only(with_button(3, bad), "buttons.3", "international form")


def test_twilio_phone_numbers_are_e164_with_the_plus():
    bare = Button("PHONE_NUMBER", "Call us", phone_number="15550051310")
    assert problems(with_button(3, bare), "meta") == {}
    only(with_button(3, bare), "buttons.3", "international form", "twilio")


def test_copy_code_button_is_one_example_code_in_marketing_templates():
    code = Button("COPY_CODE", example="SUMMER26")
    assert problems(good(buttons=[code]), "meta") == {}
    only(good(buttons=[code, code]), "buttons", "at most 1 copy-code button(s)")
    only(good(buttons=[Button("COPY_CODE")]), "buttons.0", "example of the code")
    only(good(buttons=[Button("COPY_CODE", example="X" * 21)]), "buttons.0", "at most 20")
    utility = good(category="UTILITY", buttons=[code])
    only(utility, "buttons.0", "belong to marketing templates")


def test_buttons_have_a_known_type_and_no_otp_outside_authentication():
    only(good(buttons=[Button("FLOW", "Open")]), "buttons.0", "Choose the button's type")
    otp = Button("OTP", otp_type="COPY_CODE")
    only(good(buttons=[otp]), "buttons.0", "belong to authentication templates")


# --- authentication -------------------------------------------------------------------------


def test_authentication_body_is_metas_fixed_text():
    only(auth(body="Your code is {{1}}"), "body", "leave the body empty")


def test_authentication_has_no_header_and_no_footer_text():
    only(auth(header_format="IMAGE", header_example="4::aW"), "header_format", "no header")
    only(auth(footer="Thanks"), "footer", "leave it empty")


def test_authentication_has_exactly_one_otp_button():
    only(auth(buttons=[]), "buttons", "one button: the one-time password")
    otp = auth().buttons[0]
    assert set(problems(auth(buttons=[otp, otp]), "meta")) == {"buttons"}
    url = Button("URL", "Open", url="https://example.com")
    found = problems(auth(buttons=[otp, url]), "meta")
    assert set(found) == {"buttons", "buttons.1"}
    assert "Only the one-time-password button" in found["buttons.1"][0]


@pytest.mark.parametrize("otp_type", ["ONE_TAP", "ZERO_TAP"])
def test_one_tap_and_zero_tap_need_app_details_the_form_does_not_collect(otp_type):
    only(auth(buttons=[Button("OTP", otp_type=otp_type)]), "buttons.0", "package name")
    only(auth(buttons=[Button("OTP", otp_type="TWO_TAP")]), "buttons.0", "copy code, one-tap")


def test_otp_button_text_has_at_most_25_characters():
    only(auth(buttons=[Button("OTP", "x" * 26, otp_type="COPY_CODE")]), "buttons.0", "at most 25")


@pytest.mark.parametrize("minutes", [0, 91, -5, True])
def test_code_expiration_is_1_to_90_minutes(minutes):
    only(auth(code_expiration_minutes=minutes), "code_expiration_minutes", "1 to 90")


def test_code_expiration_is_for_authentication_only():
    only(good(code_expiration_minutes=10), "code_expiration_minutes", "Only authentication")
    assert problems(auth(code_expiration_minutes=None), "meta") == {}


# --- 360dialog follows Meta -----------------------------------------------------------------


@pytest.mark.parametrize(
    "draft",
    [
        good(name="Bad"),
        good(body="{{1}} {{2}}", body_examples=["a"]),
        good(header_format="LOCATION", header_text="", header_example=""),
        good(header_format="IMAGE", header_text="", header_example="4::aW"),
        with_button(0, Button("QUICK_REPLY", "x" * 22)),
        with_button(3, Button("PHONE_NUMBER", "Call", phone_number="15550051310")),
        auth(buttons=[]),
    ],
)
def test_dialog360_checks_what_meta_checks(draft):
    assert problems(draft, "dialog360") == problems(draft, "meta")


# --- Meta's shapes --------------------------------------------------------------------------


def spec_example(title: str) -> dict:
    """A create-template example of Meta's own OpenAPI description."""
    spec = json.loads(SPEC.read_text())
    operation = spec["paths"]["/{Version}/{WABA-ID}/message_templates"]["post"]
    return operation["requestBody"]["content"]["application/json"]["examples"][title]["value"]


def assert_like_meta(draft: Draft, title: str) -> None:
    expected = spec_example(title)
    sent = payload(draft)
    assert problems(draft, "meta") == {}
    assert {k: sent[k] for k in ("name", "language", "category")} == {
        k: expected[k] for k in ("name", "language", "category")
    }
    assert sent["components"] == expected["components"]
    assert components(draft) == expected["components"]


def test_text_header_body_footer_and_quick_replies_match_metas_example():
    draft = Draft(
        name="seasonal_promotion_text_only",
        language="en",
        category="MARKETING",
        header_format="TEXT",
        header_text="Our {{1}} is on!",
        header_example="Summer Sale",
        body="Shop now through {{1}} and use code {{2}} to get {{3}} off of all merchandise.",
        body_examples=["the end of August", "25OFF", "25%"],
        footer="Use the buttons below to manage your marketing subscriptions",
        buttons=[
            Button("QUICK_REPLY", "Unsubcribe from Promos"),  # Meta's spelling
            Button("QUICK_REPLY", "Unsubscribe from All"),
        ],
    )
    assert_like_meta(
        draft, "Create template w/ text header, text body, text footer, and 2 quick reply buttons"
    )


def test_media_header_phone_and_url_with_variable_match_metas_example():
    handle = spec_example(
        "Create template w/ image header, text body, text footer, and 2 call-to-action buttons"
    )["components"][0]["example"]["header_handle"][0]
    draft = Draft(
        name="limited_time_offer_tuscan_getaway_2023",
        language="en_US",
        category="MARKETING",
        header_format="IMAGE",
        header_example=handle,
        body=(
            "Hi {{1}}! For a limited time only you can get our {{2}} for as low as {{3}}. "
            "Tap the Offer Details button for more information."
        ),
        body_examples=["Mark", "Tuscan Getaway package", "800"],
        footer="Offer valid until May 31, 2023",
        buttons=[
            Button("PHONE_NUMBER", "Call", phone_number="16467043595"),
            Button(
                "URL",
                "Shop Now",
                url="https://damp-sea-63235.herokuapp.com/shop?promo={{1}}",
                url_example="summer2023",
            ),
        ],
    )
    assert_like_meta(
        draft,
        "Create template w/ image header, text body, text footer, and 2 call-to-action buttons",
    )


def test_authentication_template_matches_metas_example():
    draft = Draft(
        name="authentication_code_copy_code_button",
        language="en_US",
        category="AUTHENTICATION",
        add_security_recommendation=True,
        code_expiration_minutes=10,
        buttons=[Button("OTP", "Copy Code", otp_type="COPY_CODE")],
    )
    assert_like_meta(draft, "Create authentication template w/ OTP copy code button")


def test_full_payload_of_a_positional_draft():
    sent = payload(good(allow_category_change=False))
    assert sent["allow_category_change"] is False
    header, body, footer, buttons = sent["components"]
    assert header == {
        "type": "HEADER",
        "format": "TEXT",
        "text": "Our {{1}} is on!",
        "example": {"header_text": ["Summer Sale"]},
    }
    assert body["example"] == {"body_text": [["Pablo", "SUMMER26", "25%"]]}
    assert footer == {"type": "FOOTER", "text": "Reply STOP to opt out"}
    assert buttons["buttons"][2] == {
        "type": "URL",
        "text": "Shop now",
        "url": "https://shop.example.com/sale?c={{1}}",
        "example": ["x1"],
    }
    assert buttons["buttons"][3] == {
        "type": "PHONE_NUMBER",
        "text": "Call us",
        "phone_number": "+15550051310",
    }


def test_location_and_copy_code_shapes():
    draft = good(
        header_format="LOCATION",
        header_text="",
        header_example="",
        buttons=[Button("COPY_CODE", example="SUMMER26")],
    )
    header, _, _, buttons = components(draft)
    assert header == {"type": "HEADER", "format": "LOCATION"}
    assert buttons == {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SUMMER26"}]}


def test_a_body_without_variables_has_no_example_block():
    body = components(good(body="Your order has shipped and arrives tomorrow.", body_examples=[]))
    assert body[1] == {"type": "BODY", "text": "Your order has shipped and arrives tomorrow."}
