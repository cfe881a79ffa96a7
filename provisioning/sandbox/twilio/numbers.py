"""api.twilio.com 2010: AvailablePhoneNumbers search and IncomingPhoneNumbers (fact sheet §2)."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from . import catalog
from .accounts import V2010, Principal
from .base import TwilioBase
from .errors import TwilioError, invalid, not_found
from .paging import page_2010
from .wire import E164, boolean, form, rfc2822

ACC = "/api/2010-04-01/Accounts/<account_sid>"
RULES = [
    Rule(
        f"{ACC}/AvailablePhoneNumbers/<country>/<any(Local,TollFree,Mobile):kind>.json",
        endpoint="available_numbers",
        methods=["GET"],
    ),
    Rule(f"{ACC}/IncomingPhoneNumbers.json", endpoint="numbers_list", methods=["GET"]),
    Rule(f"{ACC}/IncomingPhoneNumbers.json", endpoint="number_buy", methods=["POST"]),
    Rule(
        f"{ACC}/IncomingPhoneNumbers/<any(Local,TollFree,Mobile):kind>.json",
        endpoint="numbers_list",
        methods=["GET"],
    ),
    Rule(
        f"{ACC}/IncomingPhoneNumbers/<any(Local,TollFree,Mobile):kind>.json",
        endpoint="number_buy",
        methods=["POST"],
    ),
    Rule(
        f"{ACC}/IncomingPhoneNumbers/<sid>.json",
        endpoint="number_item",
        methods=["GET", "POST", "DELETE"],
    ),
]

KEYPAD = {
    c: str(d)
    for d, letters in enumerate(["", "", "abc", "def", "ghi", "jkl", "mno", "pqrs", "tuv", "wxyz"])
    for c in letters
}

# form param -> field, for buy and update (SmsUrl & co.)
SETTABLE = {
    "FriendlyName": "friendly_name",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "SmsApplicationSid": "sms_application_sid",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "VoiceApplicationSid": "voice_application_sid",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "AddressSid": "address_sid",
    "BundleSid": "bundle_sid",
    "IdentitySid": "identity_sid",
    "EmergencyAddressSid": "emergency_address_sid",
    "TrunkSid": "trunk_sid",
    "VoiceReceiveMode": "voice_receive_mode",
}
# Setting one of a pair clears the other (SK-NUM gotcha).
EXCLUSIVE = {
    "sms_application_sid": "sms_url",
    "sms_url": "sms_application_sid",
    "voice_application_sid": "voice_url",
    "voice_url": "voice_application_sid",
}


def contains_pattern(value: str) -> re.Pattern[str]:
    """``Contains``: digits, letters (keypad) and ``*`` for any one digit, 2-16 chars."""
    if not 2 <= len(value) <= 16 or not re.fullmatch(r"[0-9A-Za-z*+]+", value):
        raise invalid("Contains", "use 2-16 digits, letters or *")
    digits = "".join(KEYPAD.get(c.lower(), c) for c in value.lstrip("+"))
    return re.compile(digits.replace("*", r"\d"))


def _flag(request: Request, name: str) -> bool | None:
    return boolean(request.args, name)


class NumbersMixin(TwilioBase):
    """Number search, purchase, update (incl. moving accounts) and release."""

    numbers: dict[str, dict[str, Any]]
    owned: dict[str, str]

    # -- search ----------------------------------------------------------------------------
    def available_numbers(
        self, request: Request, principal: Principal, account_sid: str, country: str, kind: str
    ) -> Response:
        self.active_2010(principal, account_sid, request.path)
        path = request.path.removeprefix("/api")
        if not catalog.supported(country, kind):
            raise not_found(path)
        args = request.args
        area = args.get("AreaCode")
        areas = [area] if area else catalog.areas_for(country, kind)
        pool = [
            entry
            for a in areas
            for entry in catalog.numbers_for(self.sandbox.seed, country, kind, a)
            if entry["phone_number"] not in self.owned
        ]
        pattern = contains_pattern(args["Contains"]) if args.get("Contains") else None
        wants = {
            cap: _flag(request, f"{name}Enabled")
            for cap, name in (("sms", "Sms"), ("mms", "Mms"), ("voice", "Voice"), ("fax", "Fax"))
        }
        excluded = {
            req
            for flag, reqs in (
                ("ExcludeAllAddressRequired", ("any", "local", "foreign")),
                ("ExcludeLocalAddressRequired", ("local",)),
                ("ExcludeForeignAddressRequired", ("foreign",)),
            )
            if _flag(request, flag)
            for req in reqs
        }
        exact = {
            field: value
            for param, field in (
                ("InRegion", "region"),
                ("InPostalCode", "postal_code"),
                ("InLocality", "locality"),
                ("InRateCenter", "rate_center"),
                ("InLata", "lata"),
            )
            if (value := args.get(param))
        }
        # NearNumber / NearLatLong / Distance are accepted and not applied (no geo model).
        found = [
            e
            for e in pool
            if (pattern is None or pattern.search(e["phone_number"][1:]))
            and all(want is None or e["capabilities"][cap] == want for cap, want in wants.items())
            and e["address_requirements"] not in excluded
            and all(str(e.get(field) or "").lower() == v.lower() for field, v in exact.items())
            and (_flag(request, "Beta") or not e["beta"])
        ]
        size = int(args.get("PageSize", 50))
        if not 1 <= size <= 1000:
            raise invalid("PageSize", "must be between 1 and 1000")
        # Live answers carry just the list and its uri (spec examples), no paging.
        return json_response({"available_phone_numbers": found[:size], "uri": path})

    # -- purchase ----------------------------------------------------------------------------
    def numbers_path(self, account_sid: str) -> str:
        return f"{V2010}/Accounts/{account_sid}/IncomingPhoneNumbers"

    def number_buy(
        self, request: Request, principal: Principal, account_sid: str, kind: str | None = None
    ) -> Response:
        account = self.active_2010(principal, account_sid, request.path)
        params = form(request)
        phone, area = params.get("PhoneNumber"), params.get("AreaCode")
        if phone:
            found = self._purchasable(phone)
        elif area:
            if kind is not None:
                raise TwilioError(400, 21457, "AreaCode parameter not supported")
            found = self._pick_in_area(area)
        else:
            # No code is documented for this; 20001 is Twilio's generic missing-parameter code.
            raise TwilioError(
                400, 20001, "Missing required parameter PhoneNumber or AreaCode in the post body"
            )
        number_kind, entry = found
        if kind is not None and kind != number_kind:
            raise TwilioError(400, 21422, "Phone number is not available")
        self.check_regulatory_purchase(account["sid"], entry, number_kind, params)
        address_sid = params.get("AddressSid")
        if entry["address_requirements"] != "none":
            address = self.addresses_store.get(address_sid or "")
            if address is None or address["account_sid"] != account["sid"]:
                raise TwilioError(400, 21631, "Phone Number Requires an Address")
        now = rfc2822(self.clock.time())
        sid = self.sandbox.ids.sid("PN")
        phone = entry["phone_number"]
        record: dict[str, Any] = {
            "account_sid": account["sid"],
            "address_sid": None,
            "address_requirements": entry["address_requirements"],
            "api_version": "2010-04-01",
            "beta": False,
            "capabilities": dict(entry["capabilities"]),
            "date_created": now,
            "date_updated": now,
            "friendly_name": entry["friendly_name"],
            "identity_sid": None,
            "phone_number": phone,
            "origin": "twilio",
            "sid": sid,
            "sms_application_sid": None,
            "sms_fallback_method": "POST",
            "sms_fallback_url": None,
            "sms_method": "POST",
            "sms_url": None,
            "status_callback": None,
            "status_callback_method": "POST",
            "trunk_sid": None,
            "uri": f"{self.numbers_path(account['sid'])}/{sid}.json",
            "voice_receive_mode": "voice",
            "voice_application_sid": None,
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": None,
            "voice_method": "POST",
            "voice_url": None,
            "emergency_status": "Inactive",
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "bundle_sid": None,
            "status": "in-use",
            "type": {"Local": "local", "TollFree": "toll-free", "Mobile": "mobile"}[number_kind],
        }
        self._apply(record, params)
        self.numbers[sid] = record
        self.owned[phone] = sid
        return json_response(record, 201)

    def _purchasable(self, phone: str) -> tuple[str, dict[str, Any]]:
        if phone == catalog.MAGIC_INVALID or not E164.match(phone):
            raise TwilioError(400, 21421, f"PhoneNumber {phone} is invalid")
        if phone == catalog.MAGIC_UNAVAILABLE or phone in self.owned:
            raise TwilioError(400, 21422, f"Phone number {phone} is not available")
        found = catalog.lookup(self.sandbox.seed, phone)
        if found is None:
            raise TwilioError(400, 21422, f"Phone number {phone} is not available")
        return found

    def _pick_in_area(self, area: str) -> tuple[str, dict[str, Any]]:
        if not (len(area) == 3 and area.isdigit() and area[0] > "1"):
            raise TwilioError(400, 21451, "Invalid area code")
        kind = "TollFree" if area in catalog.TOLL_FREE_AREAS else "Local"
        for entry in catalog.numbers_for(self.sandbox.seed, "US", kind, area):
            if entry["phone_number"] not in self.owned:
                return kind, entry
        raise TwilioError(400, 21452, f"No phone numbers found in area code {area}")

    @staticmethod
    def _apply(record: dict[str, Any], params: Any) -> None:
        for param, field in SETTABLE.items():
            if param in params:
                record[field] = params[param] or None
                if field in EXCLUSIVE and params[param]:
                    record[EXCLUSIVE[field]] = None
        if "VoiceCallerIdLookup" in params:
            record["voice_caller_id_lookup"] = boolean(params, "VoiceCallerIdLookup")

    # -- list / fetch / update / release ---------------------------------------------------
    def numbers_list(
        self, request: Request, principal: Principal, account_sid: str, kind: str | None = None
    ) -> Response:
        self.active_2010(principal, account_sid, request.path)
        items = [n for n in self.numbers.values() if n["account_sid"] == account_sid]
        if kind:
            wanted = {"Local": "local", "TollFree": "toll-free", "Mobile": "mobile"}[kind]
            items = [n for n in items if n["type"] == wanted]
        args = request.args
        if args.get("PhoneNumber"):
            # Partial values with * for any digit (§2).
            needle = re.escape(args["PhoneNumber"].strip().lstrip("+")).replace(r"\*", r"\d")
            items = [n for n in items if re.search(needle, n["phone_number"])]
        if args.get("FriendlyName"):
            items = [n for n in items if n["friendly_name"] == args["FriendlyName"]]
        if args.get("Origin"):
            items = [n for n in items if n["origin"] == args["Origin"]]
        path = request.path.removeprefix("/api")
        return json_response(page_2010(request, items, "incoming_phone_numbers", path))

    def number_item(
        self, request: Request, principal: Principal, account_sid: str, sid: str
    ) -> Response:
        self.active_2010(principal, account_sid, request.path)
        record = self.numbers.get(sid)
        if record is None or record["account_sid"] != account_sid:
            raise not_found(request.path.removeprefix("/api"))
        if request.method == "DELETE":
            # Release is permanent (SK-NUM).
            self.release_number(sid)
            return Response(status=204)
        if request.method == "POST":
            params = form(request)
            gaining = params.get("AccountSid")
            if gaining and gaining != account_sid:
                self._move(principal, record, gaining)
            self._apply(record, params)
            record["date_updated"] = rfc2822(self.clock.time())
        return json_response(record)

    def _move(self, principal: Principal, record: dict[str, Any], gaining_sid: str) -> None:
        """MOVE: parent credentials only; parent<->sub or sub<->sub under that parent."""
        if not principal.is_parent or principal.key_sid is not None:
            raise TwilioError(403, 20403, "Only the parent account can move phone numbers")
        gaining = self.accounts.get(gaining_sid)
        if gaining is None or gaining["owner_account_sid"] != principal.sid:
            raise invalid("AccountSid", "not this account or one of its subaccounts")
        if gaining["status"] != "active":
            raise TwilioError(400, 20005, "Account not active")
        self.detach_number(record["sid"])
        record["account_sid"] = gaining_sid
        record["uri"] = f"{self.numbers_path(gaining_sid)}/{record['sid']}.json"

    def release_number(self, sid: str) -> None:
        record = self.numbers.pop(sid, None)
        if record is not None:
            self.owned.pop(record["phone_number"], None)
            self.detach_number(sid)
