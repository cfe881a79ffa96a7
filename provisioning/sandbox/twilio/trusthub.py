"""trusthub.twilio.com v1: customer profiles, trust products and what goes in them (§4).

Both bundle kinds are ``BU…`` and move ``draft -> pending-review -> in-review ->
twilio-approved|twilio-rejected``. Submitting (``Status=pending-review``) needs a
compliant evaluation. Review moves on through control actions (``approve_profile``,
``reject_profile``) or the timeline (``control_set_timeline(profile_seconds=...)``).
The TrustHub ``status_callback`` payload is not documented publicly (§9), so none is sent.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .accounts import Principal
from .base import TwilioBase
from .errors import TwilioError, invalid, not_found
from .paging import page_v1
from .wire import form, iso, json_param, public, required

T = "/trusthub/v1"
BUNDLES = "<any(CustomerProfiles,TrustProducts):kind>"
DOCS = "<any(EndUsers,SupportingDocuments):kind>"
SECONDARY_PROFILE_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
A2P_TRUST_POLICY = "RNb0d4771c2c98518d916a3d4cd70a8f8b"
STARTER_PROFILE_POLICY = "RN806dd6cd175f314e1f96a9727ee271f4"  # sole proprietors
SOLE_PROP_TRUST_POLICY = "RN670d5d2e282a6130ae063b234b6019c8"

RULES = [
    Rule(f"{T}/{BUNDLES}", endpoint="bundles", methods=["GET", "POST"]),
    Rule(f"{T}/{BUNDLES}/<sid>", endpoint="bundle_item", methods=["GET", "POST", "DELETE"]),
    Rule(
        f"{T}/{BUNDLES}/<bundle_sid>/EntityAssignments",
        endpoint="assignments",
        methods=["GET", "POST"],
    ),
    Rule(
        f"{T}/{BUNDLES}/<bundle_sid>/EntityAssignments/<sid>",
        endpoint="assignment_item",
        methods=["GET", "DELETE"],
    ),
    Rule(
        f"{T}/{BUNDLES}/<bundle_sid>/Evaluations", endpoint="evaluations", methods=["GET", "POST"]
    ),
    Rule(
        f"{T}/{BUNDLES}/<bundle_sid>/Evaluations/<sid>", endpoint="evaluation_item", methods=["GET"]
    ),
    Rule(f"{T}/{DOCS}", endpoint="documents", methods=["GET", "POST"]),
    Rule(f"{T}/{DOCS}/<sid>", endpoint="document_item", methods=["GET", "POST", "DELETE"]),
]

# what the bundle's field names look like per kind
NAMES = {
    "CustomerProfiles": ("customer_profile_sid", "customer_profiles"),
    "TrustProducts": ("trust_product_sid", "trust_products"),
}


class TrustHubMixin(TwilioBase):
    """Bundles (customer profiles, trust products), end users, documents, evaluations."""

    def turl(self, path: str) -> str:
        return f"{self.base_url('trusthub')}/v1{path}"

    def _bundle_store(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.profiles if kind == "CustomerProfiles" else self.trust_products

    def _doc_store(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.end_users if kind == "EndUsers" else self.documents_store

    def own_bundle(self, principal: Principal, kind: str, sid: str, path: str) -> dict[str, Any]:
        bundle = self._bundle_store(kind).get(sid)
        if bundle is None or bundle["account_sid"] != principal.sid:
            raise not_found(path)
        return bundle

    # -- bundles ----------------------------------------------------------------------------
    def new_bundle(
        self,
        kind: str,
        account_sid: str,
        friendly_name: str,
        email: str,
        policy_sid: str,
        status_callback: str | None = None,
    ) -> dict[str, Any]:
        now = iso(self.clock.time())
        sid = self.sandbox.ids.sid("BU")
        url = self.turl(f"/{kind}/{sid}")
        prefix = NAMES[kind][1]
        bundle = {
            "sid": sid,
            "account_sid": account_sid,
            "policy_sid": policy_sid,
            "friendly_name": friendly_name,
            "status": "draft",
            "valid_until": None,
            "email": email,
            "status_callback": status_callback,
            "date_created": now,
            "date_updated": now,
            "url": url,
            "links": {
                f"{prefix}_entity_assignments": f"{url}/EntityAssignments",
                f"{prefix}_evaluations": f"{url}/Evaluations",
                f"{prefix}_channel_endpoint_assignment": f"{url}/ChannelEndpointAssignments",
            },
            "errors": None,
        }
        self._bundle_store(kind)[sid] = bundle
        return bundle

    def bundles(self, request: Request, principal: Principal, kind: str) -> Response:
        if request.method == "GET":
            args = request.args
            items = [
                b
                for b in self._bundle_store(kind).values()
                if b["account_sid"] == principal.sid
                and all(
                    args.get(p) is None or b[f] == args[p]
                    for p, f in (
                        ("Status", "status"),
                        ("FriendlyName", "friendly_name"),
                        ("PolicySid", "policy_sid"),
                    )
                )
            ]
            items = [public(b) for b in items]
            return json_response(page_v1(request, items, "results", self.turl(f"/{kind}")))
        params = form(request)
        bundle = self.new_bundle(
            kind,
            principal.sid,
            required(params, "FriendlyName"),
            required(params, "Email"),
            required(params, "PolicySid"),
            params.get("StatusCallback"),
        )
        return json_response(public(bundle), 201)

    def bundle_item(self, request: Request, principal: Principal, kind: str, sid: str) -> Response:
        bundle = self.own_bundle(principal, kind, sid, request.path.removeprefix("/trusthub"))
        if request.method == "DELETE":
            del self._bundle_store(kind)[sid]
            return Response(status=204)
        if request.method == "POST":
            params = form(request)
            for param, field in (
                ("FriendlyName", "friendly_name"),
                ("Email", "email"),
                ("StatusCallback", "status_callback"),
            ):
                if params.get(param):
                    bundle[field] = params[param]
            status = params.get("Status")
            if status is not None:
                self._submit(kind, bundle, status)
            bundle["date_updated"] = iso(self.clock.time())
        return json_response(public(bundle))

    def _submit(self, kind: str, bundle: dict[str, Any], status: str) -> None:
        if status == "draft" and bundle["status"] in ("draft", "twilio-rejected"):
            bundle["status"] = "draft"
            return
        if status != "pending-review":
            raise invalid("Status", "only pending-review (or draft) can be requested")
        if bundle["status"] not in ("draft", "twilio-rejected"):
            raise invalid("Status", f"bundle is {bundle['status']}")
        latest = self._latest_evaluation(kind, bundle["sid"])
        if latest is None or latest["status"] != "compliant":
            # Submitting a non-compliant bundle is refused; no specific code documented.
            raise TwilioError(400, 20001, "Bundle is not compliant: evaluate it first")
        bundle["status"] = "pending-review"
        bundle["errors"] = None
        bundle["_since"] = self.clock.time()

    def set_bundle_status(
        self, bundle: dict[str, Any], status: str, errors: list[dict] | None = None
    ) -> None:
        bundle.update(status=status, errors=errors, date_updated=iso(self.clock.time()))
        bundle["_since"] = self.clock.time()

    def find_bundle(self, sid: str) -> dict[str, Any]:
        bundle = self.profiles.get(sid) or self.trust_products.get(sid)
        if bundle is None:
            raise KeyError(f"no customer profile or trust product {sid}")
        return bundle

    def tick_trusthub(self, now: float) -> None:
        delay = self.timeline["profile"]
        for bundle in [*self.profiles.values(), *self.trust_products.values()]:
            since = bundle.get("_since", now)
            if bundle["status"] == "pending-review":
                self.set_bundle_status(bundle, "in-review")
            elif bundle["status"] == "in-review" and delay is not None and now - since >= delay:
                self.set_bundle_status(bundle, "twilio-approved")

    # -- entity assignments -------------------------------------------------------------------
    def assignments(
        self, request: Request, principal: Principal, kind: str, bundle_sid: str
    ) -> Response:
        path = request.path.removeprefix("/trusthub")
        self.own_bundle(principal, kind, bundle_sid, path)
        field = NAMES[kind][0]
        if request.method == "GET":
            items = [a for a in self.assignments_store.values() if a.get(field) == bundle_sid]
            url = self.turl(f"/{kind}/{bundle_sid}/EntityAssignments")
            return json_response(page_v1(request, items, "results", url))
        object_sid = required(form(request), "ObjectSid")
        if not self._assignable(principal, object_sid):
            raise invalid("ObjectSid", f"{object_sid} is not an object of this account")
        sid = self.sandbox.ids.sid("BV")
        record = {
            "sid": sid,
            field: bundle_sid,
            "account_sid": principal.sid,
            "object_sid": object_sid,
            "date_created": iso(self.clock.time()),
            "url": self.turl(f"/{kind}/{bundle_sid}/EntityAssignments/{sid}"),
        }
        self.assignments_store[sid] = record
        return json_response(record, 201)

    def _assignable(self, principal: Principal, object_sid: str) -> bool:
        parent = principal.account["owner_account_sid"]
        for store in (self.end_users, self.documents_store, self.profiles, self.trust_products):
            obj = store.get(object_sid)
            if obj is not None:
                # The parent's Primary BU may be attached to a secondary profile (§4 Step 1.7).
                return obj["account_sid"] in (principal.sid, parent)
        return False

    def assignment_item(
        self, request: Request, principal: Principal, kind: str, bundle_sid: str, sid: str
    ) -> Response:
        path = request.path.removeprefix("/trusthub")
        self.own_bundle(principal, kind, bundle_sid, path)
        record = self.assignments_store.get(sid)
        if record is None or record.get(NAMES[kind][0]) != bundle_sid:
            raise not_found(path)
        if request.method == "DELETE":
            del self.assignments_store[sid]
            return Response(status=204)
        return json_response(record)

    def assigned(self, kind: str, bundle_sid: str) -> list[str]:
        field = NAMES[kind][0]
        return [
            a["object_sid"] for a in self.assignments_store.values() if a.get(field) == bundle_sid
        ]

    # -- evaluations ----------------------------------------------------------------------------
    def evaluations(
        self, request: Request, principal: Principal, kind: str, bundle_sid: str
    ) -> Response:
        path = request.path.removeprefix("/trusthub")
        bundle = self.own_bundle(principal, kind, bundle_sid, path)
        field = NAMES[kind][0]
        if request.method == "GET":
            items = [e for e in self.evaluations_store.values() if e.get(field) == bundle_sid]
            url = self.turl(f"/{kind}/{bundle_sid}/Evaluations")
            return json_response(page_v1(request, items, "results", url))
        policy = required(form(request), "PolicySid")
        results = self._evaluate(principal, kind, bundle, policy)
        sid = self.sandbox.ids.sid("EL")
        record = {
            "sid": sid,
            "account_sid": principal.sid,
            "policy_sid": policy,
            field: bundle_sid,
            "status": "compliant" if all(r["passed"] for r in results) else "noncompliant",
            "results": results,
            "date_created": iso(self.clock.time()),
            "url": self.turl(f"/{kind}/{bundle_sid}/Evaluations/{sid}"),
            "_seq": len(self.evaluations_store),
        }
        self.evaluations_store[sid] = record
        return json_response({k: v for k, v in record.items() if k != "_seq"}, 201)

    def evaluation_item(
        self, request: Request, principal: Principal, kind: str, bundle_sid: str, sid: str
    ) -> Response:
        path = request.path.removeprefix("/trusthub")
        self.own_bundle(principal, kind, bundle_sid, path)
        record = self.evaluations_store.get(sid)
        if record is None or record.get(NAMES[kind][0]) != bundle_sid:
            raise not_found(path)
        return json_response({k: v for k, v in record.items() if k != "_seq"})

    def _latest_evaluation(self, kind: str, bundle_sid: str) -> dict[str, Any] | None:
        field = NAMES[kind][0]
        found = [e for e in self.evaluations_store.values() if e.get(field) == bundle_sid]
        return max(found, key=lambda e: e["_seq"]) if found else None

    def _evaluate(
        self, principal: Principal, kind: str, bundle: dict[str, Any], policy: str
    ) -> list[dict[str, Any]]:
        objects = self.assigned(kind, bundle["sid"])
        users = {self.end_users[o]["type"] for o in objects if o in self.end_users}
        docs = [self.documents_store[o] for o in objects if o in self.documents_store]
        bundles = [self.profiles.get(o) for o in objects if o in self.profiles]
        checks: list[tuple[str, bool, str]] = []
        parent = principal.account["owner_account_sid"]
        if kind == "CustomerProfiles" and policy == STARTER_PROFILE_POLICY:
            checks = self._starter_checks(users, docs, bundles, parent)
        elif kind == "TrustProducts" and policy == SOLE_PROP_TRUST_POLICY:
            sole = [
                self.end_users[o]
                for o in objects
                if o in self.end_users
                and self.end_users[o]["type"] == "sole_proprietor_information"
            ]
            mobile = str(
                ((sole[0]["attributes"] or {}) if sole else {}).get("mobile_phone_number") or ""
            )
            checks = [
                ("sole_proprietor_information", bool(sole),
                 "A sole_proprietor_information End-User is missing"),
                ("mobile_phone_number", mobile.startswith("+1") and len(mobile) == 12,
                 "mobile_phone_number must be a US or Canadian mobile in E.164"),
                ("customer_profile",
                 any(b is not None and b["account_sid"] == principal.sid for b in bundles),
                 "The starter Customer Profile is missing"),
            ]  # fmt: skip
        elif kind == "CustomerProfiles" and policy == SECONDARY_PROFILE_POLICY:
            primary_ok = any(
                b is not None
                and b["account_sid"] == parent
                and b.get("_isv")
                and b["status"] == "twilio-approved"
                for b in bundles
            )
            addresses_ok = any(
                d["type"] == "customer_profile_address"
                and all(
                    a in self.addresses_store
                    for a in str((d["attributes"] or {}).get("address_sids", "")).split(",")
                )
                for d in docs
            )
            checks = [
                (
                    "business_information",
                    "customer_profile_business_information" in users,
                    "A Business Information End-User is missing",
                ),
                (
                    "authorized_representative_1",
                    "authorized_representative_1" in users,
                    "An Authorized Representative End-User is missing",
                ),
                (
                    "business_address",
                    addresses_ok,
                    "A customer_profile_address document with valid address_sids is missing",
                ),
                (
                    "primary_customer_profile",
                    primary_ok,
                    "Secondary Customer Profile for direct_customer can only be created through "
                    "Twilio console (attach the ISV parent's approved Primary Customer Profile)",
                ),
            ]
        elif kind == "TrustProducts" and policy == A2P_TRUST_POLICY:
            own_profile = any(b is not None and b["account_sid"] == principal.sid for b in bundles)
            checks = [
                (
                    "messaging_profile_information",
                    "us_a2p_messaging_profile_information" in users,
                    "A us_a2p_messaging_profile_information End-User is missing",
                ),
                ("customer_profile", own_profile, "The secondary Customer Profile is missing"),
            ]
        else:
            checks = [("end_user", bool(users), "An End-User is missing")]
        return [
            {
                "requirement_name": name,
                "requirement_friendly_name": name.replace("_", " ").title(),
                "passed": passed,
                "failure_reason": None if passed else reason,
                "object_type": "bundle",
            }
            for name, passed, reason in checks
        ]

    def _starter_checks(
        self, users: set[str], docs: list[dict[str, Any]], bundles: list[Any], parent: str
    ) -> list[tuple[str, bool, str]]:
        """A starter (sole proprietor) profile: the person, an address, the ISV's primary."""
        return [
            ("starter_customer_profile_information",
             "starter_customer_profile_information" in users,
             "A starter_customer_profile_information End-User is missing"),
            ("customer_profile_address",
             any(d["type"] == "customer_profile_address" for d in docs),
             "A customer_profile_address document is missing"),
            ("primary_customer_profile",
             any(b is not None and b["account_sid"] == parent and b["status"] == "twilio-approved"
                 for b in bundles),
             "Attach the ISV parent's approved Primary Customer Profile"),
        ]  # fmt: skip

    # -- end users and supporting documents -----------------------------------------------
    def documents(self, request: Request, principal: Principal, kind: str) -> Response:
        store = self._doc_store(kind)
        if request.method == "GET":
            items = [d for d in store.values() if d["account_sid"] == principal.sid]
            return json_response(page_v1(request, items, "results", self.turl(f"/{kind}")))
        params = form(request)
        now = iso(self.clock.time())
        sid = self.sandbox.ids.sid("IT" if kind == "EndUsers" else "RD")
        record: dict[str, Any] = {
            "sid": sid,
            "account_sid": principal.sid,
            "friendly_name": required(params, "FriendlyName"),
            "type": required(params, "Type"),
            "attributes": json_param(params, "Attributes"),
            "date_created": now,
            "date_updated": now,
            "url": self.turl(f"/{kind}/{sid}"),
        }
        if kind == "SupportingDocuments":
            record |= {"mime_type": None, "status": "DRAFT"}
        store[sid] = record
        return json_response(record, 201)

    def document_item(
        self, request: Request, principal: Principal, kind: str, sid: str
    ) -> Response:
        store = self._doc_store(kind)
        record = store.get(sid)
        if record is None or record["account_sid"] != principal.sid:
            raise not_found(request.path.removeprefix("/trusthub"))
        if request.method == "DELETE":
            del store[sid]
            return Response(status=204)
        if request.method == "POST":
            params = form(request)
            if params.get("FriendlyName"):
                record["friendly_name"] = params["FriendlyName"]
            if "Attributes" in params:
                record["attributes"] = json_param(params, "Attributes")
            record["date_updated"] = iso(self.clock.time())
        return json_response(record)
