"""api.twilio.com 2010: Accounts (subaccounts), Keys and Addresses, and credential scoping.

Scoping (fact sheet §1): a parent's *auth token* reaches a subaccount's v2010 resources;
product hosts (messaging, trusthub, events) only ever act on the account whose
credentials were presented; API keys act only on the account they were created in; a
subaccount never reaches its parent or siblings.

Status (twilio.com/docs/iam/api/subaccounts; help.twilio.com/articles/223135987): only
the parent suspends, reactivates or closes a subaccount (a subaccount changing its own
status gets 20403, the code the simulator uses for parent-only calls). Closing is
irreversible (21479) and releases every number. A suspended or closed account is "not
active" (twilio.com/docs/api/errors/20005): its own credentials get 401/20005, and so do
the parent's calls on its resources, except reading the account itself and its Messages
log (a closed account's history stays readable).
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .base import TwilioBase
from .errors import TwilioError, invalid, not_found, unauthorized
from .paging import page_2010
from .wire import form, public, required, rfc2822

V2010 = "/2010-04-01"
ACCOUNT_STATUSES = ("active", "suspended", "closed")
# The Addresses list's filters (the 2010 spec): query parameter -> field
ADDRESS_FILTERS = {
    "CustomerName": "customer_name",
    "FriendlyName": "friendly_name",
    "IsoCountry": "iso_country",
    "EmergencyEnabled": "emergency_enabled",
}

RULES = [
    Rule("/api/2010-04-01/Accounts.json", endpoint="accounts_list", methods=["GET"]),
    Rule("/api/2010-04-01/Accounts.json", endpoint="accounts_create", methods=["POST"]),
    Rule("/api/2010-04-01/Accounts/<sid>.json", endpoint="account_fetch", methods=["GET"]),
    Rule("/api/2010-04-01/Accounts/<sid>.json", endpoint="account_update", methods=["POST"]),
    Rule("/api/2010-04-01/Accounts/<account_sid>/Keys.json", endpoint="keys", methods=["GET"]),
    Rule(
        "/api/2010-04-01/Accounts/<account_sid>/Keys.json", endpoint="key_create", methods=["POST"]
    ),
    Rule(
        "/api/2010-04-01/Accounts/<account_sid>/Keys/<sid>.json",
        endpoint="key_item",
        methods=["GET", "POST", "DELETE"],
    ),
    Rule(
        "/api/2010-04-01/Accounts/<account_sid>/Addresses.json",
        endpoint="addresses",
        methods=["GET", "POST"],
    ),
    Rule(
        "/api/2010-04-01/Accounts/<account_sid>/Addresses/<sid>.json",
        endpoint="address_item",
        methods=["GET", "DELETE"],
    ),
]


@dataclass
class Principal:
    """Who is calling: the account the credentials belong to, and how they authenticated."""

    account: dict[str, Any]
    key_sid: str | None = None

    @property
    def sid(self) -> str:
        return self.account["sid"]

    @property
    def is_parent(self) -> bool:
        return self.account["owner_account_sid"] == self.account["sid"]


class AccountsMixin(TwilioBase):
    """Accounts, Keys, Addresses and the authentication every route goes through."""

    accounts: dict[str, dict[str, Any]]
    keys_store: dict[str, dict[str, Any]]
    addresses_store: dict[str, dict[str, Any]]
    subaccount_limit: int

    # -- authentication ------------------------------------------------------------------
    def authenticate(self, request: Request) -> Principal:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            raise unauthorized()
        user, secret = auth.username, auth.password or ""
        if user.startswith("AC"):
            account = self.accounts.get(user)
            if account is None or not hmac.compare_digest(account["auth_token"], secret):
                raise unauthorized()
            principal = Principal(account)
        elif user.startswith("SK"):
            key = self.keys_store.get(user)
            if key is None or not hmac.compare_digest(key["_secret"], secret):
                raise unauthorized()
            principal = Principal(self.accounts[key["_account"]], key_sid=user)
        else:
            raise unauthorized()
        if principal.account["status"] in ("suspended", "closed"):
            raise not_active()
        return principal

    def reach_2010(self, principal: Principal, account_sid: str) -> dict[str, Any]:
        """The account a v2010 URL names, if these credentials may act on it (§1)."""
        target = self.accounts.get(account_sid)
        if target is None:
            raise unauthorized()
        if target["sid"] == principal.sid:
            return target
        # Only the parent's own auth token reaches a subaccount; parent keys do not (§1).
        if principal.key_sid is None and target["owner_account_sid"] == principal.sid:
            return target
        raise unauthorized()

    def active_2010(self, principal: Principal, account_sid: str, path: str) -> dict[str, Any]:
        target = self.reach_2010(principal, account_sid)
        if target["status"] in ("suspended", "closed"):
            raise not_active()
        return target

    # -- accounts -------------------------------------------------------------------------
    def new_account(
        self, *, friendly_name: str, owner: str | None, sid: str | None = None, token: str = ""
    ) -> dict[str, Any]:
        ids, now = self.sandbox.ids, self.clock.time()
        sid = sid or ids.sid("AC")
        base = f"{V2010}/Accounts/{sid}"
        account = {
            "auth_token": token or ids.hex(32),
            "date_created": rfc2822(now),
            "date_updated": rfc2822(now),
            "friendly_name": friendly_name,
            "owner_account_sid": owner or sid,
            "sid": sid,
            "status": "active",
            "subresource_uris": {
                name: f"{base}/{path}.json"
                for name, path in (
                    ("addresses", "Addresses"),
                    ("available_phone_numbers", "AvailablePhoneNumbers"),
                    ("incoming_phone_numbers", "IncomingPhoneNumbers"),
                    ("keys", "Keys"),
                    ("messages", "Messages"),
                    ("signing_keys", "SigningKeys"),
                    ("balance", "Balance"),
                )
            },
            "type": "Full",
            "uri": f"{base}.json",
        }
        self.accounts[sid] = account
        return account

    def accounts_create(self, request: Request, principal: Principal) -> Response:
        if not principal.is_parent or principal.key_sid is not None:
            raise TwilioError(403, 20403, "Subaccounts cannot create subaccounts")
        live = [
            a
            for a in self.accounts.values()
            if a["owner_account_sid"] == principal.sid
            and a["sid"] != principal.sid
            and a["status"] != "closed"
        ]
        if len(live) >= self.subaccount_limit:
            raise TwilioError(400, 21480, "Reached maximum number of subaccounts")
        params = form(request)
        when = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        default_name = "SubAccount Created at " + when.strftime("%Y-%m-%d %I:%M %p").lower()
        account = self.new_account(
            friendly_name=params.get("FriendlyName") or default_name, owner=principal.sid
        )
        return json_response(account, 201)

    def accounts_list(self, request: Request, principal: Principal) -> Response:
        visible = [
            a
            for a in self.accounts.values()
            if a["sid"] == principal.sid
            or (principal.key_sid is None and a["owner_account_sid"] == principal.sid)
        ]
        name, status = request.args.get("FriendlyName"), request.args.get("Status")
        visible = [
            a
            for a in visible
            if (name is None or a["friendly_name"] == name)
            and (status is None or a["status"] == status)
        ]
        return json_response(page_2010(request, visible, "accounts", f"{V2010}/Accounts.json"))

    def account_fetch(self, request: Request, principal: Principal, sid: str) -> Response:
        return json_response(self.reach_2010(principal, sid))

    def account_update(self, request: Request, principal: Principal, sid: str) -> Response:
        account = self.reach_2010(principal, sid)
        params = form(request)
        status = params.get("Status")
        if status is not None:
            if status not in ACCOUNT_STATUSES:
                raise invalid("Status", f"must be one of {', '.join(ACCOUNT_STATUSES)}")
            if account["sid"] == account["owner_account_sid"]:
                raise invalid("Status", "the main account's status cannot be changed")
            if account["sid"] == principal.sid:
                raise TwilioError(403, 20403, "Only the parent account can change its status")
            if account["status"] == "closed" and status != "closed":
                # Closing is irreversible (CLOSE).
                raise TwilioError(400, 21479, "Account is closed and cannot be reopened")
            self.set_account_status(account, status)
        if params.get("FriendlyName"):
            account["friendly_name"] = params["FriendlyName"]
        account["date_updated"] = rfc2822(self.clock.time())
        return json_response(account)

    def set_account_status(self, account: dict[str, Any], status: str) -> None:
        """Suspend keeps numbers; close releases every number (CLOSE)."""
        account["status"] = status
        account["date_updated"] = rfc2822(self.clock.time())
        if status == "closed":
            for pn in [
                n["sid"] for n in self.numbers.values() if n["account_sid"] == account["sid"]
            ]:
                self.release_number(pn)

    # -- keys -------------------------------------------------------------------------------
    def keys_path(self, account_sid: str) -> str:
        return f"{V2010}/Accounts/{account_sid}/Keys"

    def keys(self, request: Request, principal: Principal, account_sid: str) -> Response:
        self.active_2010(principal, account_sid, request.path)
        items = [public(k) for k in self.keys_store.values() if k["_account"] == account_sid]
        return json_response(
            page_2010(request, items, "keys", f"{self.keys_path(account_sid)}.json")
        )

    def key_create(self, request: Request, principal: Principal, account_sid: str) -> Response:
        self.active_2010(principal, account_sid, request.path)
        now = rfc2822(self.clock.time())
        sid = self.sandbox.ids.sid("SK")
        secret = self.sandbox.ids.token(32)
        key = {
            "sid": sid,
            "friendly_name": form(request).get("FriendlyName") or sid,
            "date_created": now,
            "date_updated": now,
            "_secret": secret,
            "_account": account_sid,
        }
        self.keys_store[sid] = key
        # The secret is in this response only (§1), never in a fetch or list.
        return json_response(public(key) | {"secret": secret}, 201)

    def key_item(
        self, request: Request, principal: Principal, account_sid: str, sid: str
    ) -> Response:
        self.active_2010(principal, account_sid, request.path)
        key = self.keys_store.get(sid)
        if key is None or key["_account"] != account_sid:
            raise not_found(request.path.removeprefix("/api"))
        if request.method == "DELETE":
            del self.keys_store[sid]
            return Response(status=204)
        if request.method == "POST" and form(request).get("FriendlyName"):
            key["friendly_name"] = form(request)["FriendlyName"]
            key["date_updated"] = rfc2822(self.clock.time())
        return json_response(public(key))

    # -- addresses (TrustHub step 1.5 and numbers needing an address) -------------------
    def addresses(self, request: Request, principal: Principal, account_sid: str) -> Response:
        self.active_2010(principal, account_sid, request.path)
        path = f"{V2010}/Accounts/{account_sid}/Addresses"
        if request.method == "GET":
            args = request.args
            wanted = {f: args[p] for p, f in ADDRESS_FILTERS.items() if args.get(p) is not None}
            items = [
                a
                for a in self.addresses_store.values()
                if a["account_sid"] == account_sid
                and all(_as_query(a[f]) == v for f, v in wanted.items())
            ]
            return json_response(page_2010(request, items, "addresses", f"{path}.json"))
        params = form(request)
        fields = ("CustomerName", "Street", "City", "Region", "PostalCode", "IsoCountry")
        values = {name: required(params, name) for name in fields}
        now = rfc2822(self.clock.time())
        sid = self.sandbox.ids.sid("AD")
        address = {
            "account_sid": account_sid,
            "city": values["City"],
            "customer_name": values["CustomerName"],
            "date_created": now,
            "date_updated": now,
            "friendly_name": params.get("FriendlyName"),
            "iso_country": values["IsoCountry"],
            "postal_code": values["PostalCode"],
            "region": values["Region"],
            "sid": sid,
            "street": values["Street"],
            "street_secondary": params.get("StreetSecondary"),
            "uri": f"{path}/{sid}.json",
            "emergency_enabled": False,
            "validated": True,
            "verified": True,
        }
        self.addresses_store[sid] = address
        return json_response(address, 201)

    def address_item(
        self, request: Request, principal: Principal, account_sid: str, sid: str
    ) -> Response:
        self.active_2010(principal, account_sid, request.path)
        address = self.addresses_store.get(sid)
        if address is None or address["account_sid"] != account_sid:
            raise not_found(request.path.removeprefix("/api"))
        if request.method == "DELETE":
            del self.addresses_store[sid]
            return Response(status=204)
        return json_response(address)


def not_active() -> TwilioError:
    """20005 "Account not active": a suspended or closed account."""
    return TwilioError(401, 20005, "Account not active")


def _as_query(value: Any) -> Any:
    """A field as a query string carries it (booleans are ``true``/``false``)."""
    return str(value).lower() if isinstance(value, bool) else value
