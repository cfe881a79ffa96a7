"""What the conformance validator knows beyond the specs: wire formats and live-behaviour fixes.

``FORMATS`` checks the date formats the providers document (other formats stay annotations).
``SPEC_PATCHES`` corrects the specs where the providers' live behaviour (the fact sheets in
``/work/shared/providers``, or a spec's own examples) contradicts a schema; each entry says why.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import jsonschema

# -- formats --------------------------------------------------------------------------------
FORMATS = jsonschema.FormatChecker(formats=())
_RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$"
)


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    # RFC 3339 wants an offset; Graph writes it without a colon ("+0000"), so accept both.
    if not isinstance(value, str):
        return True
    return bool(_ISO_DATETIME.match(value)) and datetime.fromisoformat(value) is not None


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_ISO_DATE.match(value)) and date.fromisoformat(value) is not None


@FORMATS.checks("date-time-rfc-2822", raises=(TypeError, ValueError))
def _is_rfc2822(value: object) -> bool:
    # Twilio's 2010 API: "Thu, 30 Jul 2015 23:19:04 +0000".
    if not isinstance(value, str):
        return True
    return bool(_RFC2822.match(value)) and email.utils.parsedate_to_datetime(value) is not None


# -- spec patches ----------------------------------------------------------------------
def _add_enum(*values: str) -> Callable[[dict], dict]:
    def patch(node: dict) -> dict:
        return node | {"enum": [*node["enum"], *(v for v in values if v not in node["enum"])]}

    return patch


def _required(*names: str) -> Callable[[dict], dict]:
    return lambda node: node | {"required": list(names)}


def _nullable(node: dict) -> dict:
    return node | {"nullable": True}


def _or_empty_string(node: dict) -> dict:
    return {"anyOf": [node, {"type": "string", "maxLength": 0}]}


def _or_decimal_string(node: dict) -> dict:
    return {"anyOf": [node, {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}]}


# Meta's document was merged from several files and collision-renamed: the webhook's
# IncomingMessage points at the *outbound* send schemas (TextMessage: to, recipient_type
# required, additionalProperties false), whose inbound twins are TextMessage_2 & co., which
# in turn point at the outbound BaseMessageProperties instead of BaseMessageProperties_1.
# Result: every inbound example of POST /whatsapp/webhooks fails its own schema.
_INBOUND_TWINS = {
    "TextMessage": "TextMessage_2",
    "ReactionMessage": "ReactionMessage_1",
    "AudioMessage": "AudioMessage_1",
    "DocumentMessage": "DocumentMessage_1",
    "ImageMessage": "ImageMessage_1",
    "StickerMessage": "StickerMessage_1",
    "VideoMessage": "VideoMessage_1",
    "LocationMessage": "LocationMessage_1",
}
_INBOUND_REFS = {
    "BaseMessageProperties": "BaseMessageProperties_1",
    "ContactObject": "ContactObject_1",
    "ErrorObject": "ErrorObject_2",
}


def _retarget(node: Any, renames: dict[str, str]) -> Any:
    prefix = "#/components/schemas/"
    if isinstance(node, list):
        return [_retarget(item, renames) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _retarget(v, renames) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix) :] in renames:
        out["$ref"] = prefix + renames[ref[len(prefix) :]]
    return out


def _inbound_messages(schemas: dict) -> dict:
    schemas = dict(schemas)
    incoming = _retarget(schemas["IncomingMessage"], _INBOUND_TWINS)
    schemas["IncomingMessage"] = incoming
    members = {m["$ref"].rsplit("/", 1)[1] for m in incoming.get("oneOf", []) if "$ref" in m}
    for name in members | {"SystemMessage"}:
        if name in schemas:
            schemas[name] = _retarget(schemas[name], _INBOUND_REFS)
    return schemas


_META = "/components/schemas"
_META_PN = f"{_META}/WhatsAppBusinessAccountPhoneNumber"
_META_ENUMS = "fact sheet meta.md 1.7 (enums, union of observed values; Meta docs drift)"
_TW = "/components/schemas/api.v2010.account"
_TW_EMPTY_SID = (
    'Twilio returns "" for an unset application SID: the spec\'s own IncomingPhoneNumber '
    "examples do, the pattern ^AP... rejects it"
)
_TW_LATLONG = (
    'AvailablePhoneNumbers carries latitude/longitude as decimal strings ("19.720000") in '
    "the spec's own examples and on the wire; the schema says number"
)

# Where a spec contradicts the providers' live behaviour (the fact sheets in
# /work/shared/providers, or the spec's own examples), the live behaviour wins:
# spec name -> [(JSON pointer of the node, patch function, reason)]. Applied once at load.
SPEC_PATCHES: dict[str, list[tuple[str, Callable[[Any], Any], str]]] = {
    "meta": [
        (
            "/components/schemas",
            _inbound_messages,
            "inbound webhook messages resolve to the send schemas (collision-renamed "
            "components; see _INBOUND_TWINS)",
        ),
        (f"{_META}/PhoneNumberInfo/properties/quality_rating", _add_enum("UNKNOWN"), _META_ENUMS),
        (
            f"{_META}/PhoneNumberInfo/properties/code_verification_status",
            _add_enum("NOT_VERIFIED", "EXPIRED"),
            _META_ENUMS,
        ),
        (f"{_META}/WhatsAppPhoneNumberQualityRating", _add_enum("UNKNOWN"), _META_ENUMS),
        (
            f"{_META}/WhatsAppCodeVerificationStatus",
            _add_enum("NOT_VERIFIED", "EXPIRED"),
            _META_ENUMS,
        ),
        (
            f"{_META}/WhatsAppPhoneNumberStatus",
            _add_enum("CONNECTED", "DISCONNECTED", "FLAGGED", "RATE_LIMITED", "UNKNOWN"),
            _META_ENUMS,
        ),
        (
            f"{_META_PN}/properties/messaging_limit_tier",
            _add_enum("TIER_2K", "TIER_NOT_SET"),
            _META_ENUMS,
        ),
        (
            _META_PN,
            _required("id"),
            "Graph returns only the default or requested (fields=) fields, and the "
            "phone_numbers edge's defaults have no status (meta.md 1.7: "
            "data[]{id, display_phone_number, verified_name, code_verification_status, "
            "quality_rating}); only id is always there",
        ),
    ],
    "twilio_api_v2010": [
        *(
            (f"{_TW}.{schema}/properties/{field}", _or_empty_string, _TW_EMPTY_SID)
            for schema in (
                "incoming_phone_number",
                "incoming_phone_number.incoming_phone_number_local",
                "incoming_phone_number.incoming_phone_number_mobile",
                "incoming_phone_number.incoming_phone_number_toll_free",
            )
            for field in ("sms_application_sid", "voice_application_sid")
        ),
        *(
            (
                f"{_TW}.available_phone_number_country.available_phone_number_{kind}"
                f"/properties/{field}",
                _or_decimal_string,
                _TW_LATLONG,
            )
            for kind in ("local", "mobile", "toll_free")
            for field in ("latitude", "longitude")
        ),
    ],
    "twilio_messaging_v1": [
        (
            "/components/schemas/messaging.v1.brand_registrations/properties/identity_status",
            _nullable,
            "identity_status is null until TCR has verified the brand (the spec's own "
            "fetchSoleProprietorPending example); the $ref'd enum has no nullable",
        ),
    ],
}


# -- error envelopes ---------------------------------------------------------------------------
# For an error status (>= 400) the operation does not document (the Twilio specs document no
# errors at all), the body is checked against the provider's error envelope instead: a JSON
# pointer into the spec, or a schema (Draft 4) from the fact sheet.
_TWILIO_ERROR = {
    "description": "twilio.md 7: {code, message, more_info, status} (sometimes details); some "
    "newer APIs return {errors: [{code, message, infoUrl}]} or RFC 9457",
    "anyOf": [
        {
            "type": "object",
            "required": ["code", "message", "status"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "more_info": {"type": "string"},
                "status": {"type": "integer"},
            },
        },
        {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {"type": "object", "required": ["code", "message"]},
                }
            },
        },
        {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "code": {"type": "integer"},
            },
        },
    ],
}

ERROR_ENVELOPES: dict[str, str | dict] = {
    # meta.md 3.1: every Graph error is {"error": {message, type, code, ...}}
    "meta": "/components/schemas/GraphAPIError",
    **{
        name: _TWILIO_ERROR
        for name in (
            "twilio_api_v2010",
            "twilio_messaging_v1",
            "twilio_messaging_v2",
            "twilio_trusthub_v1",
            "twilio_events_v1",
            "twilio_content_v1",
        )
    },
}
