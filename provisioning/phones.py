"""Phone numbers, read by libphonenumber (:mod:`phonenumbers`) and kept in E.164.

Whatever separators or digit script a number was typed with (Arabic-Indic, fullwidth...),
it is stored and sent as ``+`` and ASCII digits, so one number has one spelling in the
database and at the providers.
"""

from __future__ import annotations

import phonenumbers

E164_HINT = "Give the number in E.164 form, like +14155550123."
# What a person may type around the digits of an international number.
_SEPARATORS = frozenset(" -.()\u00a0")


class InvalidPhoneNumber(ValueError):
    """Not a phone number in international form; the message says what to type."""


def e164(value: str) -> str:
    """``value`` (``+`` country code and number, digits in any script, spaces, dashes,
    dots or parentheses between them) in E.164, or :class:`InvalidPhoneNumber`.

    The length must be possible for the country; the number need not be assigned (the
    providers' test and fictional ``555`` numbers are accepted).
    """
    text = value.strip()
    body = text[1:]
    if not (
        text.startswith("+")
        and body
        and all(ch.isdecimal() or ch in _SEPARATORS for ch in body)
        and any(ch.isdecimal() for ch in body)
    ):
        raise InvalidPhoneNumber(E164_HINT)
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(E164_HINT) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(E164_HINT)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_phone_number(value: str) -> bool:
    """:func:`e164` can read ``value``."""
    try:
        e164(value)
    except InvalidPhoneNumber:
        return False
    return True


def digits_of(value: str) -> str:
    """The digits of ``value`` in ASCII, whatever script they were written in (a display
    number like ``+1 555-010 7777``); everything else is dropped."""
    return "".join(str(int(ch)) for ch in value if ch.isdecimal())


def is_toll_free(value: str) -> bool:
    """``value`` (E.164) is a toll-free number by its country's numbering plan (in North
    America the 8xx codes: 800, 833, 844, 855, 866, 877, 888)."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE


def country_of(value: str) -> str:
    """The ISO country (two letters) an E.164 number belongs to, "" when none is known
    (``+1`` numbers are US or CA by their area code)."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.region_code_for_number(number) or ""
