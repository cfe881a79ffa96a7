"""Phone numbers are read by libphonenumber and kept in E.164; EINs, ZIP codes and other
numeric identifiers are ASCII digits, whatever script a person types digits in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning import phones
from provisioning.audit import SYSTEM
from provisioning.errors import DomainError
from provisioning.meta.portfolios import tier
from provisioning.partners import PROVIDERS, Provider
from provisioning.tenancy import Role
from provisioning.text import ascii_digits
from provisioning.twilio.a2p import business_info, save_business_info, validate
from provisioning.twilio.api import _typed
from provisioning.twilio.models import SmsPhoneNumber
from provisioning.twilio.numbers import buy_number, ensure_subaccount, subaccount_client
from provisioning.twilio.senders import create_sender, submit_verification_code
from tests.twilio.test_a2p import PROFILE


def in_script(ascii_text: str, zero: str) -> str:
    """``ascii_text`` with its digits written from ``zero`` on (another script's 0-9)."""
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in ascii_text)


ARABIC_INDIC, PERSIAN, DEVANAGARI, FULLWIDTH = "\u0660", "\u06f0", "\u0966", "\uff10"
SCRIPTS = pytest.mark.parametrize(
    "zero", [ARABIC_INDIC, PERSIAN, DEVANAGARI, FULLWIDTH], ids=["arabic", "persian", "hindi", "fw"]
)
SUPERSCRIPTS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"


def superscript(ascii_text: str) -> str:
    return "".join(SUPERSCRIPTS[int(c)] if c.isdigit() else c for c in ascii_text)


# -- phone numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["+12025550100", " +1 202 555 0100 ", "+1 (202) 555-0100", "+1.202.555.0100",
     "+1\u00a0202\u00a0555\u00a00100"],
)  # fmt: skip
def test_a_number_in_international_form_is_kept_in_e164(typed):
    assert phones.e164(typed) == "+12025550100"


@SCRIPTS
def test_digits_of_any_script_are_stored_as_ascii(zero):
    typed = in_script("+12025550100", zero)
    assert typed != "+12025550100" and not typed.isascii()
    assert phones.e164(typed) == "+12025550100"
    assert phones.e164(in_script("+49 151 1234 0000", zero)) == "+4915112340000"


@pytest.mark.parametrize(
    "typed",
    [
        "", "+", "12025550100", "++12025550100", "+1 202 555 01", "+1555", "+0123456789",
        "+1 800 FLOWERS", "+1 202 555 0100 x12", "+1 202\n555 0100", "+1\t2025550100",
        superscript("+12025550100"), "+1 202 555 0100 0000 0000 0000",
    ],
)  # fmt: skip
def test_what_is_not_an_international_number_is_refused(typed):
    with pytest.raises(phones.InvalidPhoneNumber, match=r"E\.164"):
        phones.e164(typed)
    assert not phones.is_phone_number(typed)


def test_fictional_and_test_numbers_are_possible_numbers():
    """The sandbox's 555 numbers and Twilio's magic numbers are not assigned, yet valid input."""
    assert phones.e164("+15550107777") == "+15550107777"
    assert phones.e164("+15005550006") == "+15005550006"


@SCRIPTS
def test_display_numbers_are_compared_by_their_ascii_digits(zero):
    assert phones.digits_of(in_script("+1 555-010 7777", zero)) == "15550107777"
    assert phones.digits_of(superscript("+12")) == ""


# -- US identifiers: ASCII digits only ------------------------------------------------------


def test_ascii_profile_values_pass():
    assert validate(PROFILE | {"business_registration_number": "123456789"}) == {}
    assert validate(PROFILE | {"business_zip": "78701-1234"}) == {}


@SCRIPTS
@pytest.mark.parametrize(
    ("field", "value"),
    [("business_registration_number", "12-3456789"), ("business_zip", "78701"),
     ("business_zip", "78701-1234")],
)  # fmt: skip
def test_an_ein_or_zip_in_another_script_is_refused(field, value, zero):
    assert set(validate(PROFILE | {field: in_script(value, zero)})) == {field}


@pytest.mark.parametrize("field", ["business_registration_number", "business_zip"])
def test_superscripts_and_trailing_text_are_refused(field):
    value = PROFILE[field]
    for bad in (superscript(value), f"{value}0", f"{value}\n1"):
        assert set(validate(PROFILE | {field: bad})) == {field}


@SCRIPTS
def test_the_owner_phone_is_saved_in_e164(session, make, zero):
    company = make.company()
    typed = in_script("+1 (512) 555-0100", zero)
    assert validate(PROFILE | {"owner_phone": typed}) == {}
    save_business_info(session, SYSTEM, company, PROFILE | {"owner_phone": typed})
    assert business_info(session, company.id).owner_phone == "+15125550100"
    assert set(validate(PROFILE | {"owner_phone": superscript("+15125550100")})) == {"owner_phone"}


@SCRIPTS
def test_ascii_digits_takes_ascii_only(zero):
    assert ascii_digits("123456", 4, 10) and ascii_digits("415", 3)
    assert not ascii_digits(in_script("123456", zero), 4, 10)
    assert not ascii_digits(superscript("123456"), 4, 10)
    assert not ascii_digits("123", 4, 10) and not ascii_digits("4150", 3)


def test_provider_codes_in_other_scripts_do_not_crash_the_parsers():
    """``"²".isdigit()`` is true and ``int("²")`` raises: provider text is read as ASCII."""
    assert _typed(400, superscript("21421"), "refused").args  # a typed error, not ValueError
    assert tier(superscript("1000")) == superscript("1000")
    assert tier("-" + superscript("1")) == "-" + superscript("1")


def test_partner_fields_with_digit_patterns_take_ascii_digits_only():
    app_id = PROVIDERS[Provider.META].field("app_id")
    assert app_id.check("123456789012345") is None
    assert app_id.check(in_script("123456789012345", ARABIC_INDIC)) == "Digits only."


# -- through the Twilio pages and services ---------------------------------------------------


@pytest.fixture
def twilio(connected_sandbox, make):
    sandbox = connected_sandbox(31, Provider.TWILIO)
    company = make.company("Acme")
    return sandbox, company, make.user(company, Role.ADMIN)


@SCRIPTS
def test_a_number_typed_in_another_script_is_bought_in_e164(client, auth, session, twilio, zero):
    _, company, admin = twilio
    auth.login(admin)
    url = f"/c/{company.slug}/numbers/"
    response = auth.post(f"{url}buy", {"phone_number": in_script("+1 500 555 0006", zero)},
                         form_page=url, follow_redirects=True)  # fmt: skip
    assert b"+15005550006 is yours" in response.data
    assert session.scalars(select(SmsPhoneNumber.phone_number)).all() == ["+15005550006"]


def test_a_number_that_is_not_one_is_refused_before_twilio(client, auth, session, twilio):
    _, company, admin = twilio
    auth.login(admin)
    url = f"/c/{company.slug}/numbers/"
    response = auth.post(f"{url}buy", {"phone_number": superscript("+15005550006")},
                         form_page=url, follow_redirects=True)  # fmt: skip
    assert b"Give the number in E.164 form" in response.data
    assert session.scalars(select(SmsPhoneNumber)).all() == []


def test_an_area_code_in_another_script_is_refused(client, auth, twilio):
    _, company, admin = twilio
    auth.login(admin)
    area = in_script("415", ARABIC_INDIC)
    page = client.get(f"/c/{company.slug}/numbers/?country=US&number_type=local&area_code={area}")
    assert page.status_code == 400 and b"Three digits" in page.data


def test_services_keep_numbers_in_e164(session, twilio):
    sandbox, company, _ = twilio
    config = sandbox.configs[Provider.TWILIO]
    sub = ensure_subaccount(session, SYSTEM, company, config, sandbox.transport(),
                            commit=session.commit)  # fmt: skip
    client = subaccount_client(sub, config, sandbox.transport())
    typed = in_script("+1 500 555 0006", ARABIC_INDIC)
    assert buy_number(
        session, SYSTEM, company, sub, client, typed, session.commit
    ).phone_number == ("+15005550006")
    with pytest.raises(DomainError, match=r"E\.164"):
        buy_number(session, SYSTEM, company, sub, client, superscript("+15005550006"),
                   session.commit)  # fmt: skip
    sender = create_sender(
        session, SYSTEM, company, sub, client, phone_number=in_script("+14155550100", PERSIAN),
        waba_id="123456789012345", profile_name="Acme", callback_url="https://p.example/in",
        status_callback_url="https://p.example/st", commit=session.commit,
    )  # fmt: skip
    assert sender.sender_id == "whatsapp:+14155550100"
    with pytest.raises(DomainError, match="digits"):
        submit_verification_code(session, SYSTEM, sender, client, in_script("123456", ARABIC_INDIC))
