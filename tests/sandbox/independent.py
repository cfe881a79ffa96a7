"""Independent conformance: the Twilio and 360dialog simulators checked by code we did not write.

``tests/sandbox/openapi.py`` is the project's own validator; this module asks outside
parties instead, so a mistake shared by the simulator and our validator still fails:

* **Twilio responses** go through the official ``twilio`` SDK: each success body becomes the
  SDK's own resource instances (list bodies through the SDK's ``Page`` classes, which find
  the records by their list key). A field the SDK does not know, an enum value outside the
  SDK's enum class, or a date the SDK cannot parse fails. The same bodies are validated by
  ``openapi-core`` against the vendored Twilio OpenAPI specs (status, media type, schema).
* **Twilio webhooks** carry ``X-Twilio-Signature``: checked with the SDK's
  ``RequestValidator`` and the auth token of the account the webhook names (form or JSON
  with ``bodySHA256``), Event Streams deliveries included.
* **360dialog**: the partner webhooks' ``x-360dialog-signature`` is recomputed with the
  standard library's HMAC-SHA256 (the algorithm 360dialog documents); the messaging
  webhooks (Meta's envelope, forwarded unmodified) validate against Meta's own webhook
  schema, and waba-v2's message sends and Graph-style errors against Meta's Graph spec.
  The Partner API has no machine-readable spec: its shapes stay checked against the fact
  sheet in ``test_dialog360_conformance.py``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import importlib
import inspect
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from tests.sandbox.openapi import load_spec, route, validate_exchange, validate_request_body

# (spec, "METHOD template") -> SDK module and instance class; list and create share it.
_API = "twilio.rest.api.v2010.account"
_ACC = "/2010-04-01/Accounts/{AccountSid}"
_MSG = "twilio.rest.messaging.v1"
_TH = "twilio.rest.trusthub.v1"
_EV = "twilio.rest.events.v1"
_CONTENT = "twilio.rest.content.v1"
SDK_RESOURCES: dict[str, tuple[str, str]] = {
    "/2010-04-01/Accounts.json": (_API, "AccountInstance"),
    "/2010-04-01/Accounts/{Sid}.json": (_API, "AccountInstance"),
    f"POST {_ACC}/Keys.json": (f"{_API}.new_key", "NewKeyInstance"),
    f"{_ACC}/Keys.json": (f"{_API}.key", "KeyInstance"),
    f"{_ACC}/Keys/{{Sid}}.json": (f"{_API}.key", "KeyInstance"),
    f"{_ACC}/Addresses.json": (f"{_API}.address", "AddressInstance"),
    f"{_ACC}/Addresses/{{Sid}}.json": (f"{_API}.address", "AddressInstance"),
    **{
        f"{_ACC}/AvailablePhoneNumbers/{{CountryCode}}/{kind}.json": (
            f"{_API}.available_phone_number_country.{module}",
            f"{kind}Instance",
        )
        for kind, module in (("Local", "local"), ("TollFree", "toll_free"), ("Mobile", "mobile"))
    },
    f"{_ACC}/IncomingPhoneNumbers.json": (
        f"{_API}.incoming_phone_number",
        "IncomingPhoneNumberInstance",
    ),
    f"{_ACC}/IncomingPhoneNumbers/{{Sid}}.json": (
        f"{_API}.incoming_phone_number",
        "IncomingPhoneNumberInstance",
    ),
    **{
        f"{_ACC}/IncomingPhoneNumbers/{kind}.json": (
            f"{_API}.incoming_phone_number.{module}",
            f"{kind}Instance",
        )
        for kind, module in (("Local", "local"), ("TollFree", "toll_free"), ("Mobile", "mobile"))
    },
    "/v1/Services": (f"{_MSG}.service", "ServiceInstance"),
    "/v1/Services/{Sid}": (f"{_MSG}.service", "ServiceInstance"),
    "/v1/Services/{ServiceSid}/PhoneNumbers": (
        f"{_MSG}.service.phone_number",
        "PhoneNumberInstance",
    ),
    "/v1/Services/{ServiceSid}/PhoneNumbers/{Sid}": (
        f"{_MSG}.service.phone_number",
        "PhoneNumberInstance",
    ),
    "/v1/Services/{MessagingServiceSid}/Compliance/Usa2p": (
        f"{_MSG}.service.us_app_to_person",
        "UsAppToPersonInstance",
    ),
    "/v1/Services/{MessagingServiceSid}/Compliance/Usa2p/{Sid}": (
        f"{_MSG}.service.us_app_to_person",
        "UsAppToPersonInstance",
    ),
    "/v1/Services/{MessagingServiceSid}/Compliance/Usa2p/Usecases": (
        f"{_MSG}.service.us_app_to_person_usecase",
        "UsAppToPersonUsecaseInstance",
    ),
    "/v1/a2p/BrandRegistrations": (f"{_MSG}.brand_registration", "BrandRegistrationInstance"),
    "/v1/a2p/BrandRegistrations/{Sid}": (
        f"{_MSG}.brand_registration",
        "BrandRegistrationInstance",
    ),
    "/v2/Channels/Senders": ("twilio.rest.messaging.v2.channels_sender", "ChannelsSenderInstance"),
    "/v2/Channels/Senders/{Sid}": (
        "twilio.rest.messaging.v2.channels_sender",
        "ChannelsSenderInstance",
    ),
    "/v1/CustomerProfiles": (f"{_TH}.customer_profiles", "CustomerProfilesInstance"),
    "/v1/CustomerProfiles/{Sid}": (f"{_TH}.customer_profiles", "CustomerProfilesInstance"),
    "/v1/TrustProducts": (f"{_TH}.trust_products", "TrustProductsInstance"),
    "/v1/TrustProducts/{Sid}": (f"{_TH}.trust_products", "TrustProductsInstance"),
    **{
        f"/v1/{bundle}/{{{parent}Sid}}/{child}{suffix}": (
            f"{_TH}.{module}.{module}_{child_module}",
            f"{bundle}{child}Instance",
        )
        for bundle, parent, module in (
            ("CustomerProfiles", "CustomerProfile", "customer_profiles"),
            ("TrustProducts", "TrustProduct", "trust_products"),
        )
        for child, child_module in (
            ("EntityAssignments", "entity_assignments"),
            ("Evaluations", "evaluations"),
        )
        for suffix in ("", "/{Sid}")
    },
    "/v1/EndUsers": (f"{_TH}.end_user", "EndUserInstance"),
    "/v1/EndUsers/{Sid}": (f"{_TH}.end_user", "EndUserInstance"),
    "/v1/SupportingDocuments": (f"{_TH}.supporting_document", "SupportingDocumentInstance"),
    "/v1/SupportingDocuments/{Sid}": (f"{_TH}.supporting_document", "SupportingDocumentInstance"),
    "/v1/Sinks": (f"{_EV}.sink", "SinkInstance"),
    "/v1/Sinks/{Sid}": (f"{_EV}.sink", "SinkInstance"),
    "/v1/Sinks/{Sid}/Test": (f"{_EV}.sink.sink_test", "SinkTestInstance"),
    "/v1/Sinks/{Sid}/Validate": (f"{_EV}.sink.sink_validate", "SinkValidateInstance"),
    "/v1/Subscriptions": (f"{_EV}.subscription", "SubscriptionInstance"),
    "/v1/Subscriptions/{Sid}": (f"{_EV}.subscription", "SubscriptionInstance"),
    "/v1/Subscriptions/{SubscriptionSid}/SubscribedEvents": (
        f"{_EV}.subscription.subscribed_event",
        "SubscribedEventInstance",
    ),
    # Content API (content.twilio.com/v1): templates
    "/v1/Content": (f"{_CONTENT}.content", "ContentInstance"),
    "/v1/Content/{Sid}": (f"{_CONTENT}.content", "ContentInstance"),
    "/v1/ContentAndApprovals": (
        f"{_CONTENT}.content_and_approvals",
        "ContentAndApprovalsInstance",
    ),
    "/v1/Content/{ContentSid}/ApprovalRequests/whatsapp": (
        f"{_CONTENT}.content.approval_create",
        "ApprovalCreateInstance",
    ),
    "/v1/Content/{Sid}/ApprovalRequests": (
        f"{_CONTENT}.content.approval_fetch",
        "ApprovalFetchInstance",
    ),
}
# spec -> the SDK domain version its resources hang off
SDK_VERSIONS = {
    "twilio_api_v2010": lambda c: c.api.v2010,
    "twilio_messaging_v1": lambda c: c.messaging.v1,
    "twilio_messaging_v2": lambda c: c.messaging.v2,
    "twilio_trusthub_v1": lambda c: c.trusthub.v1,
    "twilio_events_v1": lambda c: c.events.v1,
    "twilio_content_v1": lambda c: c.content.v1,
}
_DATE_FIELD = re.compile(r"^date_|_date$")


class Violations(list):
    """Reasons collected over many checks; ``raise_if_any`` fails once, listing them all."""

    def raise_if_any(self, what: str) -> None:
        if self:
            raise AssertionError(
                f"{len(self)} {what} broke an independent check:\n" + "\n".join(self)
            )


# -- Twilio responses: the SDK ---------------------------------------------------------------
@functools.cache
def _client() -> Client:
    return Client("AC" + "0" * 32, "unused")  # builds versions only: never sends a request


def _resource(key: str) -> tuple[type, type | None] | None:
    """The SDK's instance class for operation ``key``, and its page class (lists)."""
    found = SDK_RESOURCES.get(key) or SDK_RESOURCES.get(key.split(" ", 1)[1])
    if found is None:
        return None
    module = importlib.import_module(found[0])
    page = getattr(module, found[1].removesuffix("Instance") + "Page", None)
    return getattr(module, found[1]), page


class _AnySolution(dict):
    """A page's path values: the SDK needs some to build instances, none matters here."""

    def __missing__(self, key: str) -> str:
        return "x"


def _instance(instance_cls: type, spec: str, payload: dict[str, Any]) -> Any:
    version = SDK_VERSIONS[spec](_client())
    params = inspect.signature(instance_cls.__init__).parameters
    path = {n: "x" for n, p in params.items() if n not in ("self", "version", "payload")
            and p.default is inspect.Parameter.empty}  # fmt: skip
    return instance_cls(version, payload, **path)


def _enums(instance_cls: type) -> dict[str, set[str]]:
    """The SDK's enum classes of a resource, by the payload field they name."""
    enums = {}
    for name, member in vars(instance_cls).items():
        if not inspect.isclass(member) or name.startswith("_"):
            continue
        values = {v for k, v in vars(member).items() if k.isupper() and isinstance(v, str)}
        if values:
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            enums[snake] = values
            enums[snake + "s"] = values  # e.g. AddressRequirement -> address_requirements
    return enums


def sdk_problems(spec: str, key: str, body: bytes, status: int) -> list[str]:
    """What the official SDK finds wrong with a success body of operation ``key``."""
    resource = _resource(key)
    if resource is None:
        return [f"no SDK resource is mapped for {spec} {key}"]
    instance_cls, page_cls = resource
    payload = json.loads(body)
    method, template = key.split(" ", 1)
    if page_cls is not None and method == "GET" and not template.endswith(("}", "}.json")):
        version = SDK_VERSIONS[spec](_client())
        page = page_cls(version, TwilioResponse(status, body.decode()), _AnySolution())
        records = [(item, page.get_instance(item)) for item in page.load_page(page._payload)]
    else:
        records = [(payload, _instance(instance_cls, spec, payload))]
    enums = _enums(instance_cls)
    problems = []
    for item, instance in records:
        known = {k for k in vars(instance) if not k.startswith("_")}
        for field in sorted(set(item) - known):
            problems.append(f"{instance_cls.__name__}: the SDK has no field {field!r}")
        for field, value in item.items():
            parsed = getattr(instance, field, None)
            if value and _DATE_FIELD.search(field) and not isinstance(parsed, dt.datetime):
                problems.append(f"{instance_cls.__name__}.{field}: the SDK cannot read {value!r}")
            allowed = enums.get(field)
            for one in value if isinstance(value, list) else [value]:
                if allowed and isinstance(one, str) and one not in allowed:
                    problems.append(
                        f"{instance_cls.__name__}.{field}: {one!r} is not in the SDK's enum "
                        f"{sorted(allowed)}"
                    )
    return problems


# -- Twilio responses: openapi-core ---------------------------------------------------------
@functools.cache
def _openapi(spec: str) -> OpenAPI:
    return OpenAPI.from_dict(load_spec(spec).doc)  # the doc with SPEC_PATCHES applied


def openapi_core_problems(spec: str, exchange: Mapping[str, Any]) -> list[str]:
    """openapi-core's verdict on a recorded success response (status, media type, schema)."""
    doc = load_spec(spec).doc
    server = doc["servers"][0]["url"]
    _spec, path = route(exchange) or ("", "")
    parts = urlsplit(path)
    environ = EnvironBuilder(
        method=str(exchange["method"]), base_url=server, path=parts.path, query_string=parts.query
    ).get_environ()
    request = WerkzeugOpenAPIRequest(Request(environ))
    response = WerkzeugOpenAPIResponse(
        Response(
            exchange.get("body") or b"",
            status=int(exchange["status"]),
            content_type=str(exchange.get("content_type") or "application/json"),
        )
    )
    try:
        _openapi(spec).validate_response(request, response)
    except Exception as exc:  # openapi-core raises one of many classes; all are failures
        cause = exc.__cause__
        details = [e.message for e in getattr(cause, "schema_errors", None) or []]
        return [f"{type(exc).__name__}: {exc}"[:300], *details[:5]]
    return []


def _operation(routed: tuple[str, str], method: str) -> str | None:
    """The operation a request is for (the most specific template): only its name is taken
    from the project's matcher, the verdicts come from the SDK and openapi-core."""
    candidates = load_spec(routed[0]).candidates(method, routed[1])
    return candidates[0].key if candidates else None


def check_twilio_exchanges(exchanges: Iterable[Mapping[str, Any]]) -> set[str]:
    """SDK and openapi-core over every recorded Twilio success; the operations covered."""
    violations, covered = Violations(), set()
    for exchange in exchanges:
        routed = route(exchange)
        status = int(exchange.get("status") or 0)
        if routed is None or exchange.get("provider") != "twilio" or not 200 <= status < 300:
            continue
        key = _operation(routed, str(exchange["method"]))
        if key is None:
            violations.append(f"{exchange['method']} {exchange['path']}: no operation found")
            continue
        covered.add(f"{routed[0]} {key}")
        head = f"{exchange['method']} {exchange['path']} -> {status}"
        problems = openapi_core_problems(routed[0], exchange)
        if exchange.get("body"):
            problems += sdk_problems(routed[0], key, exchange["body"], status)
        violations.extend(f"{head}: {p}" for p in problems)
    violations.raise_if_any("Twilio responses")
    return covered


# -- webhooks: signatures and Meta's envelope --------------------------------------------------
def _twilio_account(delivery: Any) -> str:
    body = delivery.body.decode()
    if delivery.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body)).get("AccountSid", "")
    payload = json.loads(body)
    if isinstance(payload, list):  # Event Streams: CloudEvents, the account in data
        return (
            str(((payload[0] or {}).get("data") or {}).get("accountsid") or "") if payload else ""
        )
    return str(payload.get("AccountSid") or "")


def check_webhooks(sandbox: Any, *, d360_secret: str | None = None) -> dict[str, int]:
    """Every delivery the Twilio and 360dialog simulators made, checked; counts per kind."""
    violations, counts = (
        Violations(),
        dict.fromkeys(
            ("twilio_signed", "twilio_event_streams", "d360_partner", "d360_messaging"), 0
        ),
    )
    for delivery in sandbox.outbound.deliveries:
        where = f"{delivery.provider} {delivery.method} {delivery.url}"
        if delivery.provider == "twilio":
            signature = delivery.headers.get("X-Twilio-Signature")
            account = sandbox.twilio.accounts.get(_twilio_account(delivery))
            if signature is None:
                violations.append(f"{where}: unsigned")
                continue
            validator = RequestValidator(account["auth_token"] if account else "")
            form = delivery.headers.get("Content-Type", "").startswith("application/x-www")
            body = dict(parse_qsl(delivery.body.decode())) if form else delivery.body.decode()
            if account is None or not validator.validate(delivery.url, body, signature):
                violations.append(f"{where}: X-Twilio-Signature does not validate")
            stream = not form and isinstance(json.loads(body), list)  # Event Streams
            counts["twilio_event_streams" if stream else "twilio_signed"] += 1
        elif delivery.provider == "dialog360":
            payload = json.loads(delivery.body)
            if isinstance(payload, dict) and payload.get("object") == "whatsapp_business_account":
                try:
                    validate_request_body("meta", "POST /whatsapp/webhooks", delivery.body)
                except AssertionError as exc:
                    violations.append(f"{where}: {exc}")
                counts["d360_messaging"] += 1
                continue
            signature = delivery.headers.get("x-360dialog-signature")
            if d360_secret is not None:
                expected = hmac.new(d360_secret.encode(), delivery.body, hashlib.sha256)
                if not hmac.compare_digest(expected.hexdigest(), signature or ""):
                    violations.append(f"{where}: x-360dialog-signature does not validate")
            counts["d360_partner"] += 1
    violations.raise_if_any("webhooks")
    return counts


def check_waba_exchanges(exchanges: Iterable[Mapping[str, Any]]) -> int:
    """waba-v2 answers Meta shapes for what it proxies: message sends and Graph errors."""
    violations, checked = Violations(), 0
    for exchange in exchanges:
        path = str(exchange.get("path") or "")
        if exchange.get("provider") != "dialog360" or not path.startswith("/waba/"):
            continue
        body = exchange.get("body") or b""
        payload = json.loads(body) if body else None
        status = int(exchange["status"])
        sent = path == "/waba/messages" and exchange["method"] == "POST" and status == 200
        graph_error = isinstance(payload, dict) and "error" in payload
        if not (sent or graph_error):
            continue
        graph = {**exchange, "provider": "meta", "path": "/graph/v23.0/1/messages"}
        try:
            validate_exchange(graph, {"1": "Phone-Number-ID"})
        except AssertionError as exc:
            violations.append(f"{exchange['method']} {path} -> {status}: {exc}")
        checked += 1
    violations.raise_if_any("waba-v2 responses")
    return checked
