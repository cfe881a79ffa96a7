"""What the providers check before they accept a template, checked before anything is sent.

:func:`problems` maps the builder form's fields to messages in plain words; :func:`payload`
and :func:`components` write the draft in Meta's shape (360dialog takes it as is, Twilio's
client translates it). Sources, read in September 2026:

- Meta, Template fundamentals (names, parameter formats):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/overview
- Meta, Template components (limits of header, body, footer and buttons; button grouping):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components
- Meta, Template review, common rejection reasons (sequential, dangling and too many
  variables, braces): https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-review
- Meta, Authentication templates and Copy code authentication templates (fixed text,
  OTP button, expiry 1-90 minutes, no URLs or media):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/authentication-templates/authentication-templates
  https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/authentication-templates/copy-code-button-authentication-templates
- Meta, Coupon code templates (copy code buttons belong to marketing templates):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/marketing-templates/coupon-templates
- Meta, Supported languages (updated May 21, 2026):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/supported-languages
- Twilio, Using variables with content templates (the 2x+1 words rule, variables ending
  in punctuation count as the end, keys of at most 16 characters):
  https://www.twilio.com/docs/content/using-variables-with-content-api
- Twilio, whatsapp/card, twilio/card and whatsapp/authentication (button titles of 20
  characters, media as public URLs, E.164 phone numbers, no location header, copy-code OTP
  only): https://www.twilio.com/docs/content/whatsappcard,
  https://www.twilio.com/docs/content/twiliocard,
  https://www.twilio.com/docs/content/whatsappauthentication
- Twilio, content approval request (name: lowercase alphanumeric characters or underscores):
  https://www.twilio.com/docs/content/content-api-resources
- Twilio error 63013 (placeholder values with new lines or more than 4 spaces in a row):
  https://www.twilio.com/docs/api/errors/63013

What no provider lets a program check (is a utility template promotional? is the wording
a duplicate of another template?) is left to the provider's review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from .models import CATEGORIES

PROVIDERS = ("meta", "dialog360", "twilio")
HEADER_FORMATS = ("", "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP")
OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")

NAME_MAX = 512
BODY_MAX = 1024
HEADER_MAX = 60
FOOTER_MAX = 60
URL_MAX = 2000
COPY_CODE_MAX = 20
OTP_TEXT_MAX = 25
BUTTONS_MAX = 10
PER_TYPE_MAX = {"QUICK_REPLY": 10, "URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1}
CODE_EXPIRATION = range(1, 91)

_META_LANGUAGES = """af sq ar ar_EG ar_AE ar_LB ar_MA ar_QA az be_BY bn bn_IN bg ca zh_CN zh_HK
    zh_TW hr cs da prs_AF nl nl_BE en en_GB en_US en_AE en_AU en_CA en_GH en_IE en_IN en_JM
    en_MY en_NZ en_QA en_SG en_UG en_ZA et fil fi fr fr_BE fr_CA fr_CH fr_CI fr_MA ka de de_AT
    de_CH el gu ha he hi hu id ga it ja kn kk rw_RW ko ky_KG lo lv lt mk ms ml mr nb fa pl pt_BR
    pt_PT pa ro ru sr sk sl es es_AR es_ES es_MX sw sv ta te th tr uk ur uz vi zu"""
LANGUAGES = frozenset(_META_LANGUAGES.split())

_NAME = re.compile(r"[a-z0-9_]+")
_TOKEN = re.compile(r"\{\{([^{}]*)\}\}")
_POSITIONAL = re.compile(r"[1-9][0-9]*")
_NAMED = re.compile(r"[a-z_]+")  # Meta: "lowercase characters and underscores"
_WORD = re.compile(r"\w")
_MARKDOWN = re.compile(r"[*_~`]")
_PHONE = re.compile(r"\+?[1-9][0-9]{6,14}")
_STATIC_HOST = re.compile(r"https://[^/?#{}\s]+[/?#]")
_LABELS = {"QUICK_REPLY": "quick reply", "URL": "website", "PHONE_NUMBER": "phone"}


@dataclass
class Button:
    type: str  # QUICK_REPLY | URL | PHONE_NUMBER | COPY_CODE | OTP
    text: str = ""
    url: str = ""  # URL buttons; may end in one variable {{1}}
    url_example: str = ""  # the variable's value, as in Meta's example ["summer2023"]
    phone_number: str = ""
    example: str = ""  # COPY_CODE example
    otp_type: str = ""  # OTP: COPY_CODE | ONE_TAP | ZERO_TAP


@dataclass
class Draft:
    name: str
    language: str
    category: str  # MARKETING | UTILITY | AUTHENTICATION
    body: str = ""
    body_examples: list[str] = field(default_factory=list)  # one per variable, in order
    header_format: str = ""  # "" | TEXT | IMAGE | VIDEO | DOCUMENT | LOCATION
    header_text: str = ""
    header_example: str = ""  # text variable example, or a media handle/URL
    footer: str = ""
    buttons: list[Button] = field(default_factory=list)
    parameter_format: str = "POSITIONAL"  # POSITIONAL ({{1}}) | NAMED ({{first_name}})
    allow_category_change: bool = True
    add_security_recommendation: bool = False  # AUTHENTICATION
    code_expiration_minutes: int | None = None  # AUTHENTICATION
    # A template from Meta's Template Library: the library writes the content, the draft
    # gives the name, the language and the buttons' website and phone number.
    library_template_name: str = ""


@dataclass(frozen=True)
class _Limits:
    """Where a provider differs from Meta's rules."""

    button_text: int = 25
    variable_key: int | None = None  # longest variable name
    media_url: bool = False  # a media example is a public https URL, not an upload handle
    location_header: bool = True
    phone_plus: bool = False  # phone numbers written +<digits> (E.164)


_LIMITS = {
    "meta": _Limits(),
    "dialog360": _Limits(),
    # whatsapp/card and twilio/card: titles of 20 characters at most, media by URL, phone
    # numbers in E.164, no location header; content variable keys of 16 characters.
    "twilio": _Limits(
        button_text=20, variable_key=16, media_url=True, location_header=False, phone_plus=True
    ),
}


class _Found(dict[str, list[str]]):
    def add(self, key: str, message: str | None) -> None:
        if message:
            self.setdefault(key, []).append(message)

    def length(self, key: str, what: str, text: str, most: int) -> None:
        if len(text) > most:
            self.add(key, f"The {what} has {len(text)} characters; at most {most} are allowed.")


def variables(text: str) -> list[str]:
    """The names inside ``{{...}}`` in ``text``, in order of appearance."""
    return [match.group(1) for match in _TOKEN.finditer(text)]


def problems(draft: Draft, provider: str) -> dict[str, list[str]]:
    """Field name -> messages; empty when the draft can be submitted to provider
    ("meta" | "dialog360" | "twilio")."""
    if provider not in _LIMITS:
        raise ValueError(f"unknown provider {provider!r}")
    limits, found = _LIMITS[provider], _Found()
    if not draft.name:
        found.add("name", "Give the template a name.")
    elif not _NAME.fullmatch(draft.name):
        found.add(
            "name", "Use only lowercase letters, digits and underscores, e.g. order_update_2."
        )
    found.length("name", "name", draft.name, NAME_MAX)
    if draft.language not in LANGUAGES:
        found.add(
            "language",
            f"WhatsApp has no language {draft.language!r}: use one of Meta's codes, such as "
            "en_US, es_MX or pt_BR.",
        )
    if draft.category not in CATEGORIES:
        found.add("category", "Choose a category: marketing, utility or authentication.")
    if draft.library_template_name:
        _check_library(draft, provider, found)
    elif draft.category == "AUTHENTICATION":
        _check_authentication(draft, found)
    else:
        _check_content(draft, limits, found)
    return dict(found)


def components(draft: Draft) -> list[dict[str, Any]]:
    """The draft as Meta's `components` list (HEADER/BODY/FOOTER/BUTTONS with `example`
    blocks: body_text, header_text, header_handle; named parameters as
    body_text_named_params), which 360dialog takes as is and Twilio's client translates."""
    if draft.library_template_name:
        return []  # the library writes them; the provider's listing shows them
    if draft.category == "AUTHENTICATION":
        return _authentication_components(draft)
    named = draft.parameter_format == "NAMED"
    parts = [_header(draft, named)] if draft.header_format else []
    body: dict[str, Any] = {"type": "BODY", "text": draft.body}
    names = _distinct(variables(draft.body))
    if names:
        body["example"] = _examples("body", names, draft.body_examples, named)
    parts.append(body)
    if draft.footer:
        parts.append({"type": "FOOTER", "text": draft.footer})
    if draft.buttons:
        parts.append({"type": "BUTTONS", "buttons": [_button(b) for b in draft.buttons]})
    return parts


def payload(draft: Draft) -> dict[str, Any]:
    """The creation payload: name, language, category, components, parameter_format (when
    NAMED), allow_category_change; for a library template, its name and button inputs
    instead of components."""
    if draft.library_template_name:
        return _library_payload(draft)
    result: dict[str, Any] = {
        "name": draft.name,
        "language": draft.language,
        "category": draft.category,
        "components": components(draft),
    }
    if draft.parameter_format == "NAMED":
        result["parameter_format"] = "NAMED"
    result["allow_category_change"] = draft.allow_category_change
    return result


# --- Meta's Template Library ----------------------------------------------------------------
# https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-library/


def _check_library(draft: Draft, provider: str, found: _Found) -> None:
    if provider != "meta":
        found.add("template", "The Template Library is Meta's: use it with a Meta account.")
    for button in draft.buttons:
        value = button.url if button.type == "URL" else button.phone_number
        if button.type == "URL" and not value.startswith(("https://", "http://")):
            found.add("buttons", f'The button "{button.text}" needs a web address (https://...).')
        elif button.type == "PHONE_NUMBER" and not _PHONE.fullmatch(value):
            found.add("buttons", f'The button "{button.text}" needs a phone number (+15550100000).')


def _library_payload(draft: Draft) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = []
    for button in draft.buttons:
        if button.type == "URL":
            url = {"base_url": button.url}
            if button.url_example:
                url["url_suffix_example"] = button.url_example
            inputs.append({"type": "URL", "url": url})
        elif button.type == "PHONE_NUMBER":
            inputs.append({"type": "PHONE_NUMBER", "phone_number": button.phone_number})
    result: dict[str, Any] = {
        "name": draft.name,
        "language": draft.language,
        "category": draft.category,
        "library_template_name": draft.library_template_name,
    }
    if inputs:
        result["library_template_button_inputs"] = inputs
    return result


# --- authentication -----------------------------------------------------------------------


def _check_authentication(draft: Draft, found: _Found) -> None:
    """Meta writes an authentication template's text; the draft only picks the options."""
    if draft.body.strip():
        found.add(
            "body",
            "WhatsApp writes an authentication template's text (<code> is your verification "
            "code): leave the body empty.",
        )
    if draft.header_format:
        found.add("header_format", "An authentication template has no header.")
    if draft.footer.strip():
        found.add("footer", "WhatsApp writes the footer from the code expiry: leave it empty.")
    minutes = draft.code_expiration_minutes
    if minutes is not None and (isinstance(minutes, bool) or minutes not in CODE_EXPIRATION):
        found.add("code_expiration_minutes", "The code expires after 1 to 90 whole minutes.")
    if [b.type for b in draft.buttons] != ["OTP"]:
        found.add("buttons", "An authentication template has one button: the one-time password.")
    for index, button in enumerate(draft.buttons):
        key = f"buttons.{index}"
        if button.type != "OTP":
            found.add(key, "Only the one-time-password button is allowed here.")
        elif button.otp_type not in OTP_TYPES:
            found.add(key, "Choose the one-time-password button: copy code, one-tap or zero-tap.")
        elif button.otp_type != "COPY_CODE":
            found.add(
                key,
                "One-tap and zero-tap buttons need your Android app's package name and "
                "signing hash, which this form does not ask for: create a copy-code button, "
                "then add them in WhatsApp Manager.",
            )
        found.length(key, "button text", button.text, OTP_TEXT_MAX)


def _authentication_components(draft: Draft) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [
        {"type": "BODY", "add_security_recommendation": draft.add_security_recommendation}
    ]
    if draft.code_expiration_minutes is not None:
        parts.append({"type": "FOOTER", "code_expiration_minutes": draft.code_expiration_minutes})
    if draft.buttons:
        parts.append({"type": "BUTTONS", "buttons": [_button(b) for b in draft.buttons]})
    return parts


# --- marketing and utility ----------------------------------------------------------------


def _check_content(draft: Draft, limits: _Limits, found: _Found) -> None:
    if draft.code_expiration_minutes is not None:
        found.add("code_expiration_minutes", "Only authentication templates have a code expiry.")
    if draft.parameter_format not in PARAMETER_FORMATS:
        found.add("body", "Choose numbered ({{1}}) or named ({{first_name}}) variables.")
        return
    _check_body(draft, limits, found)
    _check_header(draft, limits, found)
    found.length("footer", "footer", draft.footer, FOOTER_MAX)
    if "{{" in draft.footer or "}}" in draft.footer:
        found.add("footer", "The footer cannot contain variables.")
    _check_buttons(draft, limits, found)


def _check_body(draft: Draft, limits: _Limits, found: _Found) -> None:
    text = draft.body
    if not text.strip():
        found.add("body", "Write the message body.")
        return
    found.length("body", "body", text, BODY_MAX)
    tokens = list(_TOKEN.finditer(text))
    for message in _token_problems(text, tokens, draft.parameter_format, limits):
        found.add("body", message)
    names = [t.group(1) for t in tokens]
    for name in _distinct([n for n in names if names.count(n) > 1]):
        found.add("body", f"{_v(name)} appears more than once: use each variable once.")
    if draft.parameter_format == "POSITIONAL" and all(_POSITIONAL.fullmatch(n) for n in names):
        found.add("body", _sequence_problem([int(n) for n in _distinct(names)]))
    if tokens:
        _check_placement(text, tokens, found)
    names = _distinct(names)
    if len(draft.body_examples) != len(names):
        found.add(
            "body_examples",
            f"Give one example per variable: the body has {len(names)} variables and "
            f"{len(draft.body_examples)} examples.",
        )
    for name, example in zip(names, draft.body_examples, strict=False):
        found.add("body_examples", _example_problem(example, name))


def _token_problems(text: str, tokens: list[re.Match], fmt: str, limits: _Limits) -> list[str]:
    """Malformed braces, and variables that are not of the template's kind."""
    messages = []
    rest = _TOKEN.sub("", text)
    if "{{" in rest or "}}" in rest:
        messages.append("Check the braces: a variable is written {{1}} or {{name}}.")
    for name in _distinct([t.group(1) for t in tokens]):
        message = _variable_problem(name, fmt, limits)
        if message:
            messages.append(message)
    return messages


def _variable_problem(name: str, fmt: str, limits: _Limits) -> str | None:
    numbered, named = _POSITIONAL.fullmatch(name), _NAMED.fullmatch(name)
    if fmt == "POSITIONAL":
        if named:
            return f"{_v(name)} is named but the template numbers its variables: use one kind."
        return None if numbered else f"{_v(name)} is not a variable: number them {{{{1}}}}, ..."
    if numbered:
        return f"{_v(name)} is numbered but the template names its variables: use one kind."
    if not named:
        return f"{_v(name)}: name variables with lowercase letters and _, e.g. {{{{first_name}}}}."
    if limits.variable_key and len(name) > limits.variable_key:
        return f"{_v(name)} is too long: Twilio allows {limits.variable_key} characters."
    return None


def _sequence_problem(numbers: list[int]) -> str | None:
    """Meta: numbered from 1, without gaps, in the order they appear."""
    missing = sorted(set(range(1, len(numbers) + 1)) - set(numbers))
    if missing:
        return f"Number the variables from {{{{1}}}} without gaps: {_v(missing[0])} is missing."
    if numbers != sorted(numbers):
        return "Number the variables in the order they appear: {{1}}, then {{2}}, ..."
    return None


def _check_placement(text: str, tokens: list[re.Match], found: _Found) -> None:
    """Not first, not last (punctuation after it still counts as last), never side by
    side, and 2 other words per variable plus 1 (Meta's review; Twilio's wording)."""
    if not _WORD.search(text[: tokens[0].start()]):
        found.add(
            "body", f"The body cannot start with a variable: write words before {tokens[0][0]}."
        )
    if not _WORD.search(text[tokens[-1].end() :]):
        found.add(
            "body", f"The body cannot end with a variable: write words after {tokens[-1][0]}."
        )
    for left, right in pairwise(tokens):
        if not _WORD.search(text[left.end() : right.start()]):
            found.add("body", f"Write words between {left[0]} and {right[0]}.")
    count = len(_distinct([t.group(1) for t in tokens]))
    words = sum(1 for w in _TOKEN.sub(" ", text).split() if _WORD.search(w))
    if words < 2 * count + 1:
        found.add(
            "body",
            f"Too many variables for the length: {count} variables need {2 * count + 1} other "
            f"words, the body has {words}. Add words or remove variables.",
        )


def _example_problem(example: str, name: str) -> str | None:
    """Examples stand for values sent later, which WhatsApp refuses with new lines, tabs
    or more than 4 spaces in a row."""
    if not example.strip():
        return f"Give an example for {_v(name)}."
    if "\n" in example or "\t" in example or "     " in example:
        return f"The example for {_v(name)} has new lines, tabs or more than 4 spaces in a row."
    return None


def _check_header(draft: Draft, limits: _Limits, found: _Found) -> None:
    fmt, kind = draft.header_format, draft.header_format.lower()
    if fmt not in HEADER_FORMATS:
        found.add(
            "header_format", "Choose a header: none, text, image, video, document or location."
        )
    elif fmt == "TEXT":
        _check_text_header(draft, limits, found)
    elif fmt and draft.header_text:
        found.add("header_text", f"A {kind} header has no text.")
    if fmt in MEDIA_FORMATS:
        example = draft.header_example.strip()
        if limits.media_url and (not example.startswith("https://") or " " in example):
            found.add("header_example", f"Give the public https URL of a sample {kind}.")
        elif not example:
            found.add(
                "header_example", f"Upload a sample {kind}: WhatsApp reviews the header with it."
            )
    if fmt == "LOCATION" and not limits.location_header:
        found.add("header_format", "Twilio's templates have no location header.")


def _check_text_header(draft: Draft, limits: _Limits, found: _Found) -> None:
    text = draft.header_text
    if not text.strip():
        found.add("header_text", "Write the header text, or choose no header.")
        return
    found.length("header_text", "header", text, HEADER_MAX)
    tokens = list(_TOKEN.finditer(text))
    for message in _token_problems(text, tokens, draft.parameter_format, limits):
        found.add("header_text", message)
    outside = _TOKEN.sub("", text)
    if "\n" in outside or _MARKDOWN.search(outside):
        found.add("header_text", "The header is one line without formatting (* _ ~ `).")
    names = [t.group(1) for t in tokens]
    if len(names) > 1:
        found.add("header_text", "The header can have one variable at most.")
    elif names and draft.parameter_format == "POSITIONAL" and names != ["1"]:
        found.add("header_text", "The header's variable is {{1}}.")
    if len(names) == 1:
        found.add("header_example", _example_problem(draft.header_example, names[0]))


def _check_buttons(draft: Draft, limits: _Limits, found: _Found) -> None:
    buttons = draft.buttons
    if len(buttons) > BUTTONS_MAX:
        found.add("buttons", f"A template has at most {BUTTONS_MAX} buttons.")
    for kind, most in PER_TYPE_MAX.items():
        if sum(b.type == kind for b in buttons) > most:
            label = _LABELS.get(kind, "copy-code")
            found.add("buttons", f"A template has at most {most} {label} button(s).")
    quick = [b.type == "QUICK_REPLY" for b in buttons]
    if sum(a != b for a, b in pairwise(quick)) > 1:
        found.add("buttons", "Keep the quick replies together, before or after the other buttons.")
    for index, button in enumerate(buttons):
        key = f"buttons.{index}"
        if button.type not in BUTTON_TYPES:
            found.add(key, "Choose the button's type: quick reply, website, phone or copy code.")
        elif button.type == "OTP":
            found.add(key, "One-time-password buttons belong to authentication templates.")
        elif button.type == "COPY_CODE":
            _check_copy_code(button, draft.category, key, found)
        else:
            _check_label(button.text, limits, key, found)
        if button.type == "URL":
            found.add(key, _url_problem(button, draft.parameter_format, limits))
        elif button.type == "PHONE_NUMBER":
            number = button.phone_number
            if not _PHONE.fullmatch(number) or (limits.phone_plus and number[:1] != "+"):
                found.add(key, "Give the phone number in international form: +15550051310.")


def _check_label(text: str, limits: _Limits, key: str, found: _Found) -> None:
    if not text.strip():
        found.add(key, "Write the button's text.")
    found.length(key, "button text", text, limits.button_text)
    if "{{" in text:
        found.add(key, "A button's text cannot contain variables.")


def _url_problem(button: Button, fmt: str, limits: _Limits) -> str | None:
    url = button.url
    tokens = list(_TOKEN.finditer(url))
    if not url.startswith("https://") or any(c.isspace() for c in url):
        return "Give the website as an https:// address without spaces."
    if len(url) > URL_MAX:
        return f"The address has {len(url)} characters; at most {URL_MAX} are allowed."
    if not tokens:
        return None
    if len(tokens) > 1 or tokens[0].end() != len(url):
        return "The address can end in one variable, {{1}}, and have none elsewhere."
    if not _STATIC_HOST.match(url[: tokens[0].start()]):
        return "The variable goes after the site's address: https://example.com/{{1}}."
    name = tokens[0].group(1)
    if name != "1":
        if fmt == "POSITIONAL":
            return "The address's variable is {{1}}."
        return _variable_problem(name, fmt, limits) or _example_problem(button.url_example, name)
    return _example_problem(button.url_example, name)


def _check_copy_code(button: Button, category: str, key: str, found: _Found) -> None:
    code = button.example.strip()
    if not code:
        found.add(key, "Give an example of the code the button copies.")
    elif len(code) > COPY_CODE_MAX or any(c.isspace() for c in code):
        found.add(key, f"The code is at most {COPY_CODE_MAX} characters, without spaces.")
    if category != "MARKETING":
        found.add(key, "Copy-code (coupon) buttons belong to marketing templates.")


# --- Meta's shape -------------------------------------------------------------------------


def _header(draft: Draft, named: bool) -> dict[str, Any]:
    header: dict[str, Any] = {"type": "HEADER", "format": draft.header_format}
    if draft.header_format == "TEXT":
        header["text"] = draft.header_text
        names = variables(draft.header_text)[:1]
        if names:
            header["example"] = _examples("header", names, [draft.header_example], named)
    elif draft.header_format in MEDIA_FORMATS:
        header["example"] = {"header_handle": [draft.header_example]}
    return header


def _examples(part: str, names: list[str], values: list[str], named: bool) -> dict[str, Any]:
    """Meta's example block: body_text is one row of values, header_text a flat list."""
    if named:
        pairs = [{"param_name": n, "example": v} for n, v in zip(names, values, strict=False)]
        return {f"{part}_text_named_params": pairs}
    row = list(values[: len(names)])
    return {"body_text": [row]} if part == "body" else {"header_text": row}


def _button(button: Button) -> dict[str, Any]:
    match button.type:
        case "URL":
            url = {"type": "URL", "text": button.text, "url": button.url}
            return url | ({"example": [button.url_example]} if variables(button.url) else {})
        case "PHONE_NUMBER":
            return {
                "type": "PHONE_NUMBER",
                "text": button.text,
                "phone_number": button.phone_number,
            }
        case "COPY_CODE":
            return {"type": "COPY_CODE", "example": button.example}
        case "OTP":
            otp = {"type": "OTP", "otp_type": button.otp_type}
            return otp | ({"text": button.text} if button.text else {})
    return {"type": button.type, "text": button.text}


def _distinct(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _v(name: object) -> str:
    return "{{" + str(name) + "}}"
