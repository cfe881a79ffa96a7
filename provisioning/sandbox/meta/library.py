"""Meta's Template Library (documentation/business-messaging/whatsapp/templates/template-library/):
``GET /message_template_library`` browses a small built-in catalogue
with ``search`` (name, header or body, any case), ``topic``, ``usecase``, ``industry``,
``language`` and ``name``, paged like every edge; ``POST /{waba}/message_templates`` with
``library_template_name`` (and no ``components``) creates the library item's content under
the business's name, in the item's category, with ``library_template_name`` kept on the
template. Its URL buttons take ``library_template_button_inputs`` ``{"type": "URL", "url":
{"base_url", "url_suffix_example"}}`` and its phone buttons ``{"type": "PHONE_NUMBER",
"phone_number"}``; ``library_template_body_inputs`` adds the authentication options. It is
reviewed on the clock like any creation.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from .errors import GraphError, invalid_parameter, template_error
from .graph import DEFAULT_VERSION, Call
from .paging import page_of, paging


# -- Meta's Template Library ------------------------------------------------------------------
# A small built-in catalogue in the shape ``GET /message_template_library`` answers
# (developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-library/:
# name, language, category, topic, usecase, industry, header, body, body_params,
# body_param_types, buttons, id). Each (name, language) is one item, as in Meta's library.
# The topics and use cases of the utility items are Meta's; the appointment topic and the
# authentication items' topic and use case are the simulator's own labels.
def _library_item(
    item_id: str,
    name: str,
    language: str,
    where: tuple[str, str, tuple[str, ...]],
    body: str,
    params: tuple[tuple[str, str], ...],
    buttons: tuple[dict[str, str], ...] = (),
    header: str | None = None,
    category: str = "UTILITY",
) -> dict[str, Any]:
    topic, usecase, industry = where
    item: dict[str, Any] = {
        "name": name, "language": language, "category": category, "topic": topic,
        "usecase": usecase, "industry": list(industry),
    }  # fmt: skip
    if header is not None:
        item["header"] = header
    item["body"] = body
    item["body_params"] = [value for value, _ in params]
    item["body_param_types"] = [kind for _, kind in params]
    item["buttons"] = list(buttons)
    item["id"] = item_id
    return item


def _url(text: str) -> dict[str, str]:
    return {"type": "URL", "text": text, "url": "https://www.example.com/"}


def _phone(text: str) -> dict[str, str]:
    return {"type": "PHONE_NUMBER", "text": text, "phone_number": "+15550100000"}


_COPY_CODE = {"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}
_COPY_CODE_ES = {"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar código"}
_SHOP = ("E_COMMERCE",)
_ORDERS = ("ORDER_MANAGEMENT", "DELIVERY_UPDATE", _SHOP)
_OTP = ("IDENTITY_VERIFICATION", "ONE_TIME_PASSWORD", ())

LIBRARY_TEMPLATES: tuple[dict[str, Any], ...] = (
    _library_item(
        "7138055039625601", "delivery_update_1", "en_US", _ORDERS,
        "Good news! Your order {{1}} is on its way and should arrive by {{2}}.",
        (("#12345", "TEXT"), ("March 3", "DATE")), (_url("Track order"),),
        header="Delivery update",
    ),
    _library_item(
        "7138055039625602", "delivery_update_1", "es_ES", _ORDERS,
        "¡Buenas noticias! Tu pedido {{1}} está en camino y debería llegar el {{2}}.",
        (("#12345", "TEXT"), ("3 de marzo", "DATE")), (_url("Seguir pedido"),),
        header="Actualización de entrega",
    ),
    _library_item(
        "7138055039625603", "delivery_failed_1", "en_US",
        ("ORDER_MANAGEMENT", "DELIVERY_FAILED", _SHOP),
        "We were unable to deliver order {{1}} today. Call us to arrange another delivery.",
        (("#12345", "TEXT"),), (_phone("Call us"),),
    ),
    _library_item(
        "7138055039625604", "order_confirmation_1", "en_US",
        ("ORDER_MANAGEMENT", "ORDER_CONFIRMATION", _SHOP),
        "Thank you for your order, {{1}}! Your order number is {{2}}. We will tell you when "
        "it ships.",
        (("Jim", "TEXT"), ("#12345", "TEXT")), (_url("View order"),),
        header="Order confirmed",
    ),
    _library_item(
        "7138055039625605", "order_confirmation_1", "pt_BR",
        ("ORDER_MANAGEMENT", "ORDER_CONFIRMATION", _SHOP),
        "Obrigado pelo seu pedido, {{1}}! O número do seu pedido é {{2}}. Avisaremos quando "
        "ele for enviado.",
        (("Jim", "TEXT"), ("#12345", "TEXT")), (_url("Ver pedido"),),
        header="Pedido confirmado",
    ),
    _library_item(
        "7138055039625606", "shipment_confirmation_1", "en_US",
        ("ORDER_MANAGEMENT", "SHIPMENT_CONFIRMATION", _SHOP),
        "Your order {{1}} has shipped with {{2}}. Your tracking number is {{3}}.",
        (("#12345", "TEXT"), ("CS Couriers", "TEXT"), ("1Z999AA10123456784", "TEXT")),
        (_url("Track shipment"),),
    ),
    _library_item(
        "7138055039625607", "payment_reminder_1", "en_US",
        ("PAYMENTS", "PAYMENT_DUE_REMINDER", ("FINANCIAL_SERVICES", "E_COMMERCE")),
        "Hi {{1}}, this is a reminder that your payment of {{2}} is due on {{3}}.",
        (("Jim", "TEXT"), ("$25.00", "AMOUNT"), ("March 3", "DATE")),
        (_url("Pay now"), _phone("Call us")),
        header="Payment reminder",
    ),
    _library_item(
        "7138055039625608", "payment_confirmation_1", "en_US",
        ("PAYMENTS", "PAYMENT_CONFIRMATION", ("FINANCIAL_SERVICES", "E_COMMERCE")),
        "We received your payment of {{1}} for account {{2}} on {{3}}. Thank you!",
        (("$25.00", "AMOUNT"), ("CS Mutual 1234", "TEXT"), ("March 3", "DATE")),
    ),
    _library_item(
        "7138055039625609", "appointment_reminder_1", "en_US",
        ("APPOINTMENTS", "APPOINTMENT_REMINDER", ("HEALTH", "PROFESSIONAL_SERVICES")),
        "Hi {{1}}, this is a reminder of your appointment at {{2}} on {{3}}. Call us if you "
        "need to reschedule.",
        (("Jim", "TEXT"), ("1 Hacker Way, Menlo Park", "ADDRESS"), ("March 3", "DATE")),
        (_phone("Call to reschedule"),),
        header="Appointment reminder",
    ),
    _library_item(
        "7138055039625610", "account_creation_confirmation_1", "en_US",
        ("ACCOUNT_UPDATES", "ACCOUNT_CREATION_CONFIRMATION", ("E_COMMERCE",)),
        "Hi {{1}}, your new account has been created. Verify {{2}} to finish setting up your "
        "profile.",
        (("Jim", "TEXT"), ("jim@example.com", "EMAIL")), (_url("Verify account"),),
        header="Finish setting up your account",
    ),
    _library_item(
        "7138055039625611", "low_balance_warning_1", "en_US",
        ("ACCOUNT_UPDATES", "LOW_BALANCE_WARNING", ("FINANCIAL_SERVICES",)),
        "The balance of your account ending in {{1}} is {{2}}, below the alert you set.",
        (("1234", "NUMBER"), ("$10.00", "AMOUNT")), (_url("View balance"),),
    ),
    _library_item(
        "7138055039625612", "feedback_survey_1", "en_US",
        ("CUSTOMER_FEEDBACK", "FEEDBACK_SURVEY", _SHOP),
        "Thank you for shopping with {{1}}. Tell us how we did: it takes a minute.",
        (("CS Mutual", "TEXT"),), (_url("Take the survey"),),
    ),
    _library_item(
        "7138055039625613", "otp_verification_1", "en_US", _OTP,
        "*{{1}}* is your verification code.", (("123456", "TEXT"),), (_COPY_CODE,),
        category="AUTHENTICATION",
    ),
    _library_item(
        "7138055039625614", "otp_verification_1", "es_ES", _OTP,
        "Tu código de verificación es *{{1}}*.", (("123456", "TEXT"),), (_COPY_CODE_ES,),
        category="AUTHENTICATION",
    ),
)  # fmt: skip

LIBRARY_BUTTON_INPUTS = ("URL", "PHONE_NUMBER", "OTP")
BODY_INPUTS = {
    "UTILITY": ("add_learn_more_link", "add_track_package_link"),
    "AUTHENTICATION": ("add_contact_number", "add_security_recommendation",
                       "code_expiration_minutes"),
}  # fmt: skip
OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")
PHONE_RE = re.compile(r"^\+?\d[\d ()-]{3,18}$")
URL_VARIABLE_RE = re.compile(r"\{\{[^}]*\}\}")
MAX_URL = 2000
MAX_SUPPORTED_APPS = 5
# The preset strings an authentication template adds, by language (the body is Meta's own).
SECURITY_NOTE = {"en": "For your security, do not share this code.",
                 "es": "Por tu seguridad, no lo compartas."}  # fmt: skip
EXPIRY_NOTE = {"en": "This code expires in {} minutes.", "es": "Este código caduca en {} minutos."}


def library_page(call: Call, graph_base: str) -> dict[str, Any]:
    """``GET /message_template_library``: the items that match every filter given, one page
    of them (``limit``, default 25, and cursors) in Graph's envelope."""
    items = {item["id"]: item for item in LIBRARY_TEMPLATES if _in_library(item, call.params)}
    ids = list(items)
    page, start, limit = page_of(ids, call.params)
    body: dict[str, Any] = {"data": [copy.deepcopy(items[i]) for i in page]}
    if page:
        edge = f"{graph_base}/{call.version or DEFAULT_VERSION}/message_template_library"
        body["paging"] = paging(call, edge, page, start, len(ids), limit)
    return body


def _in_library(item: dict[str, Any], params: dict[str, Any]) -> bool:
    search = str(params.get("search") or "").casefold()
    if search and not any(
        search in str(item.get(k, "")).casefold() for k in ("name", "header", "body")
    ):
        return False
    for key in ("topic", "usecase"):
        if params.get(key) and str(params[key]).upper() != item[key]:
            return False
    if params.get("industry") and str(params["industry"]).upper() not in item["industry"]:
        return False
    return all(not params.get(key) or params[key] == item[key] for key in ("language", "name"))


def from_library(params: dict[str, Any], name: str, language: str) -> dict[str, Any]:
    """A creation naming ``library_template_name``: the library item's content under the
    business's (validated) name and language, in the item's category, or Meta's refusal
    (code 100)."""
    if params.get("components") not in (None, "", []):
        raise template_error(
            "Invalid parameter",
            "A template from the library takes its content from the library: leave out "
            "components, or create the template without library_template_name.",
        )
    item = library_item(params.get("library_template_name"), language)
    inputs = _json_param(params, "library_template_button_inputs", list) or []
    body_inputs = _body_inputs(item, params.get("library_template_body_inputs"))
    components = _library_components(item, body_inputs)
    buttons = _library_buttons(item, inputs)
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    return {
        "name": name,
        "language": language,
        "category": item["category"],
        "components": components,
        "parameter_format": "POSITIONAL",
        "library_template_name": item["name"],
    }


def library_item(library_name: Any, language: str) -> dict[str, Any]:
    """The library's item of this name in this language, or the refusal that says why not."""
    if not isinstance(library_name, str) or not library_name:
        raise invalid_parameter("Param library_template_name must be a non-empty string")
    named = [item for item in LIBRARY_TEMPLATES if item["name"] == library_name]
    if not named:
        raise template_error(
            "Library template not found",
            f"There is no template named {library_name} in the template library: browse "
            "GET /message_template_library for the names.",
        )
    for item in named:
        if item["language"] == language:
            return item
    languages = ", ".join(item["language"] for item in named)
    raise template_error(
        "Library template not available in this language",
        f"The library template {library_name} is not available in {language}; it is "
        f"available in {languages}.",
    )


def _library_components(item: dict[str, Any], body_inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """HEADER and BODY (and an authentication template's FOOTER) as Graph lists them."""
    components: list[dict[str, Any]] = []
    if item.get("header"):
        components.append({"type": "HEADER", "format": "TEXT", "text": item["header"]})
    body: dict[str, Any] = {"type": "BODY", "text": item["body"]}
    language = item["language"].split("_")[0]
    if item["category"] == "AUTHENTICATION":
        secure = bool(body_inputs.get("add_security_recommendation"))
        if secure:
            body["text"] += " " + SECURITY_NOTE.get(language, SECURITY_NOTE["en"])
        body["add_security_recommendation"] = secure
    if item["body_params"]:
        body["example"] = {"body_text": [list(item["body_params"])]}
    components.append(body)
    minutes = body_inputs.get("code_expiration_minutes")
    if minutes is not None:
        note = EXPIRY_NOTE.get(language, EXPIRY_NOTE["en"]).format(minutes)
        components.append({"type": "FOOTER", "text": note, "code_expiration_minutes": minutes})
    return components


def _body_inputs(item: dict[str, Any], given: Any) -> dict[str, Any]:
    """``library_template_body_inputs``: an object (pywa may send a list of objects), with
    the options the item's category takes."""
    if isinstance(given, str):
        given = _json_param({"inputs": given}, "inputs", (dict, list))
    if isinstance(given, list) and all(isinstance(part, dict) for part in given):
        given = {key: value for part in given for key, value in part.items()}
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise invalid_parameter("Param library_template_body_inputs must be a JSON object")
    allowed = BODY_INPUTS[item["category"]]
    for key, value in given.items():
        if key not in allowed:
            raise _input_error(
                f"library_template_body_inputs.{key} does not apply to {item['name']} "
                f"({item['category'].lower()}): it takes {', '.join(allowed)}."
            )
        if key == "code_expiration_minutes":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 90:
                raise _input_error("code_expiration_minutes is a number of minutes, 1 to 90.")
        elif not isinstance(value, bool):
            raise _input_error(f"library_template_body_inputs.{key} is true or false.")
    return given


def _library_buttons(item: dict[str, Any], inputs: list[Any]) -> list[dict[str, Any]]:
    """The item's buttons with the business's inputs: each URL button takes the next URL
    input, each phone button the next PHONE_NUMBER input; an OTP button may take its kind."""
    given: dict[str, list[dict[str, Any]]] = {kind: [] for kind in LIBRARY_BUTTON_INPUTS}
    for entry in inputs:
        kind = str(entry.get("type", "")).upper() if isinstance(entry, dict) else ""
        if kind not in given:
            raise invalid_parameter(
                "Each library_template_button_inputs item must be an object with a type: "
                + ", ".join(LIBRARY_BUTTON_INPUTS)
            )
        given[kind].append(entry)
    buttons = []
    for button in item["buttons"]:
        kind = button["type"]
        if kind == "URL":
            buttons.append(_url_button(item, button, _next_input(item, button, given["URL"])))
        elif kind == "PHONE_NUMBER":
            entry = _next_input(item, button, given["PHONE_NUMBER"])
            buttons.append(_phone_button(item, button, entry))
        elif kind == "OTP":
            buttons.append(_otp_button(button, given["OTP"].pop(0) if given["OTP"] else {}))
        else:
            buttons.append(dict(button))
    for kind, left in given.items():
        if left:
            count = sum(button["type"] == kind for button in item["buttons"])
            raise _input_error(
                f"The library template {item['name']} has {count} {kind} button(s): remove "
                f"the {len(left)} extra {kind} item(s) of library_template_button_inputs."
            )
    return buttons


def _next_input(
    item: dict[str, Any], button: dict[str, Any], inputs: list[dict[str, Any]]
) -> dict[str, Any]:
    if inputs:
        return inputs.pop(0)
    what = (
        'a "url": {"base_url", "url_suffix_example"}'
        if button["type"] == "URL"
        else 'a "phone_number"'
    )
    raise _input_error(
        f'The {button["type"]} button "{button["text"]}" of the library template '
        f"{item['name']} needs {what} in library_template_button_inputs."
    )


def _url_button(
    item: dict[str, Any], button: dict[str, Any], entry: dict[str, Any]
) -> dict[str, Any]:
    """A URL button: the business's ``base_url`` (with ``{{1}}`` at its end at most, then
    a full example URL in ``url_suffix_example``)."""
    url = entry.get("url")
    base = url.get("base_url") if isinstance(url, dict) else None
    label = f'the URL button "{button["text"]}" of {item["name"]}'
    if not isinstance(base, str) or not base.startswith(("https://", "http://")):
        raise _input_error(f"The base_url of {label} must be a web address (https://...).")
    if len(base) > MAX_URL:
        raise _input_error(f"The base_url of {label} has at most {MAX_URL} characters.")
    built = {"type": "URL", "text": button["text"], "url": base}
    variables = URL_VARIABLE_RE.findall(base)
    if not variables:
        return built
    if variables != ["{{1}}"] or not base.endswith("{{1}}"):
        raise _input_error(
            f"The base_url of {label} has one variable at most, {{{{1}}}}, at its end."
        )
    example = url.get("url_suffix_example") if isinstance(url, dict) else None
    fixed = base[: -len("{{1}}")]
    if not isinstance(example, str) or not example.startswith(fixed) or example == fixed:
        raise _input_error(
            f"The base_url of {label} has a variable: give url_suffix_example, the whole "
            f"address with an example value (e.g. {fixed}12345)."
        )
    built["example"] = [example]
    return built


def _phone_button(
    item: dict[str, Any], button: dict[str, Any], entry: dict[str, Any]
) -> dict[str, Any]:
    number = entry.get("phone_number")
    if not isinstance(number, str) or not PHONE_RE.match(number.strip()):
        raise _input_error(
            f'The phone_number of the button "{button["text"]}" of {item["name"]} must be '
            "a phone number with its country code, e.g. +15550100001 (at most 20 characters)."
        )
    return {"type": "PHONE_NUMBER", "text": button["text"], "phone_number": number.strip()}


def _otp_button(button: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """COPY_CODE by default; ONE_TAP and ZERO_TAP name the Android apps (``supported_apps``)
    and ZERO_TAP also needs ``zero_tap_terms_accepted``."""
    otp_type = str(entry.get("otp_type") or button.get("otp_type") or "COPY_CODE").upper()
    if otp_type not in OTP_TYPES:
        raise _input_error(f"otp_type is one of {', '.join(OTP_TYPES)}.")
    built: dict[str, Any] = {"type": "OTP", "otp_type": otp_type, "text": button["text"]}
    if otp_type == "COPY_CODE":
        return built
    apps = entry.get("supported_apps")
    if (
        not isinstance(apps, list)
        or not 1 <= len(apps) <= MAX_SUPPORTED_APPS
        or not all(
            isinstance(app, dict)
            and isinstance(app.get("package_name"), str)
            and app["package_name"]
            and isinstance(app.get("signature_hash"), str)
            and app["signature_hash"]
            for app in apps
        )
    ):
        raise _input_error(
            f"A {otp_type} button needs supported_apps: 1 to {MAX_SUPPORTED_APPS} objects "
            "with package_name and signature_hash."
        )
    built.update(autofill_text="Autofill", supported_apps=apps)
    if otp_type == "ZERO_TAP":
        if entry.get("zero_tap_terms_accepted") is not True:
            raise _input_error("A ZERO_TAP button needs zero_tap_terms_accepted: true.")
        built["zero_tap_terms_accepted"] = True
    return built


def _json_param(params: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """A parameter that is JSON (a form post carries it as a string), or None."""
    value = params.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise invalid_parameter(f"Param {key} must be valid JSON") from None
    if value is not None and not isinstance(value, kind):
        raise invalid_parameter(f"Param {key} has the wrong type")
    return value


def _input_error(detail: str) -> GraphError:
    return template_error("Invalid library template input", detail)
