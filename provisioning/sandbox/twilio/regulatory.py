"""numbers.twilio.com v2 Regulatory Compliance: regulations, end users, supporting
documents (their files uploaded to numbers-upload.twilio.com), bundles, item assignments,
evaluations, copies and replace-items; and the purchase check (21649, 21651).

A few regulations in Twilio's shape (``requirements.end_user``, ``supporting_document``
groups with ``accepted_documents``): Germany local (business, individual) and France local
(business). Bundles move ``draft -> pending-review -> in-review -> twilio-approved |
twilio-rejected``; submitting needs a compliant evaluation. The review ends by control
actions (``approve_regulatory_bundle``, ``reject_regulatory_bundle`` with a reason) or
the timeline (``control_set_timeline(regulatory_seconds=...)``).
``regulation_changed`` sets an approved bundle's ``valid_until``, as Twilio does when a
regulation changes (a copy must then be approved and its items put in the original).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .accounts import Principal
from .base import TwilioBase
from .errors import TwilioError, invalid, not_found
from .paging import page_v1
from .regulations import BY_SID, REGULATIONS, regulations_for
from .wire import form, iso, json_param, public, required

RC = "/numbers/v2/RegulatoryCompliance"
UPLOAD = "/numbers-upload/v2/RegulatoryCompliance"
RULES = [
    Rule(f"{RC}/Regulations", endpoint="regulations", methods=["GET"]),
    Rule(f"{RC}/Regulations/<sid>", endpoint="regulation_item", methods=["GET"]),
    Rule(f"{RC}/EndUsers", endpoint="rc_end_users", methods=["GET", "POST"]),
    Rule(f"{RC}/EndUsers/<sid>", endpoint="rc_end_user_item", methods=["GET"]),
    Rule(f"{RC}/SupportingDocuments", endpoint="rc_documents", methods=["GET", "POST"]),
    Rule(f"{UPLOAD}/SupportingDocuments", endpoint="rc_documents", methods=["POST"]),
    Rule(f"{RC}/SupportingDocuments/<sid>", endpoint="rc_document_item", methods=["GET"]),
    Rule(f"{RC}/Bundles", endpoint="rc_bundles", methods=["GET", "POST"]),
    Rule(f"{RC}/Bundles/<sid>", endpoint="rc_bundle_item", methods=["GET", "POST"]),
    Rule(
        f"{RC}/Bundles/<bundle_sid>/ItemAssignments",
        endpoint="rc_items",
        methods=["GET", "POST"],
    ),
    Rule(
        f"{RC}/Bundles/<bundle_sid>/ItemAssignments/<sid>",
        endpoint="rc_item",
        methods=["GET", "DELETE"],
    ),
    Rule(
        f"{RC}/Bundles/<bundle_sid>/Evaluations", endpoint="rc_evaluations", methods=["GET", "POST"]
    ),
    Rule(f"{RC}/Bundles/<bundle_sid>/Copies", endpoint="rc_copies", methods=["GET", "POST"]),
    Rule(f"{RC}/Bundles/<bundle_sid>/ReplaceItems", endpoint="rc_replace", methods=["POST"]),
]
APPROVED = ("twilio-approved", "provisionally-approved")
BUNDLE_FIELDS = (
    "sid", "account_sid", "regulation_sid", "friendly_name", "status", "valid_until", "email",
    "status_callback", "date_created", "date_updated",
)  # fmt: skip


NUMBER_KINDS = {"Local": "local", "Mobile": "mobile", "TollFree": "toll-free"}


class RegulatoryMixin(TwilioBase):
    """Regulatory compliance (numbers v2) and the bundle a purchase needs."""

    def rurl(self, path: str) -> str:
        return f"{self.base_url('numbers')}/v2/RegulatoryCompliance{path}"

    # -- regulations ---------------------------------------------------------------------
    def regulations(self, request: Request, principal: Principal) -> Response:
        args = request.args
        found = [
            public(r)
            for r in REGULATIONS
            if all(
                args.get(param) is None or r[key] == args[param]
                for param, key in (
                    ("IsoCountry", "iso_country"),
                    ("NumberType", "number_type"),
                    ("EndUserType", "end_user_type"),
                )
            )
        ]
        return json_response(page_v1(request, found, "results", self.rurl("/Regulations")))

    def regulation_item(self, request: Request, principal: Principal, sid: str) -> Response:
        regulation = BY_SID.get(sid)
        if regulation is None:
            raise not_found(request.path.removeprefix("/numbers"))
        return json_response(public(regulation))

    # -- end users and supporting documents ----------------------------------------------
    def rc_end_users(self, request: Request, principal: Principal) -> Response:
        return self._rc_items_of(request, principal, self.rc_user_store, "IT", "/EndUsers")

    def rc_documents(self, request: Request, principal: Principal) -> Response:
        store = self.rc_doc_store
        return self._rc_items_of(request, principal, store, "RD", "/SupportingDocuments")

    def _rc_items_of(
        self,
        request: Request,
        principal: Principal,
        store: dict[str, dict[str, Any]],
        prefix: str,
        path: str,
    ) -> Response:
        if request.method == "GET":
            items = [public(x) for x in store.values() if x["account_sid"] == principal.sid]
            return json_response(page_v1(request, items, "results", self.rurl(path)))
        params = form(request)
        now = iso(self.clock.time())
        sid = self.sandbox.ids.sid(prefix)
        record: dict[str, Any] = {
            "sid": sid,
            "account_sid": principal.sid,
            "friendly_name": required(params, "FriendlyName"),
            "type": required(params, "Type"),
            "attributes": json_param(params, "Attributes") or {},
            "date_created": now,
            "date_updated": now,
            "url": self.rurl(f"{path}/{sid}"),
        }
        if prefix == "IT" and record["type"] not in ("individual", "business"):
            raise TwilioError(400, 22200, "Invalid End-User Type")
        if prefix == "RD":
            upload = request.files.get("File")
            content = upload.read() if upload is not None else b""
            record |= {
                "mime_type": upload.mimetype if upload is not None and content else None,
                "status": "draft",
                "failure_reason": None,
                "errors": None,
                "_file_size": len(content),
            }
        store[sid] = record
        return json_response(public(record), 201)

    def rc_end_user_item(self, request: Request, principal: Principal, sid: str) -> Response:
        return json_response(public(self._rc_own(self.rc_user_store, principal, sid, request)))

    def rc_document_item(self, request: Request, principal: Principal, sid: str) -> Response:
        return json_response(public(self._rc_own(self.rc_doc_store, principal, sid, request)))

    @staticmethod
    def _rc_own(
        store: dict[str, dict[str, Any]], principal: Principal, sid: str, request: Request
    ) -> dict[str, Any]:
        record = store.get(sid)
        if record is None or record["account_sid"] != principal.sid:
            raise not_found(request.path.removeprefix("/numbers"))
        return record

    # -- bundles -----------------------------------------------------------------------------
    def _bundle_view(self, bundle: dict[str, Any]) -> dict[str, Any]:
        url = self.rurl(f"/Bundles/{bundle['sid']}")
        return {
            **{k: bundle[k] for k in BUNDLE_FIELDS},
            "url": url,
            "links": {
                "evaluations": f"{url}/Evaluations",
                "item_assignments": f"{url}/ItemAssignments",
                "bundle_copies": f"{url}/Copies",
            },
        }

    def _new_rc_bundle(
        self, principal: Principal, params: Any, regulation: dict[str, Any]
    ) -> dict[str, Any]:
        now = iso(self.clock.time())
        bundle = {
            "sid": self.sandbox.ids.sid("BU"),
            "account_sid": principal.sid,
            "regulation_sid": regulation["sid"],
            "friendly_name": required(params, "FriendlyName"),
            "status": "draft",
            "valid_until": None,
            "email": required(params, "Email"),
            "status_callback": params.get("StatusCallback") or None,
            "date_created": now,
            "date_updated": now,
            "_since": self.clock.time(),
            "_copy_of": None,
            "_review_reason": None,
        }
        self.rc_bundle_store[bundle["sid"]] = bundle
        return bundle

    def rc_bundles(self, request: Request, principal: Principal) -> Response:
        if request.method == "GET":
            args = request.args
            items = [
                self._bundle_view(b)
                for b in self.rc_bundle_store.values()
                if b["account_sid"] == principal.sid
                and all(
                    args.get(p) is None or b[f] == args[p]
                    for p, f in (
                        ("Status", "status"),
                        ("FriendlyName", "friendly_name"),
                        ("RegulationSid", "regulation_sid"),
                    )
                )
            ]
            return json_response(page_v1(request, items, "results", self.rurl("/Bundles")))
        params = form(request)
        regulation = BY_SID.get(params.get("RegulationSid") or "")
        if regulation is None:
            found = [
                r
                for r in regulations_for(params.get("IsoCountry", ""), params.get("NumberType", ""))
                if r["end_user_type"] == params.get("EndUserType")
            ]
            if not found:
                raise TwilioError(400, 22200, "Invalid End-User Type or Number Type")
            regulation = found[0]
        bundle = self._new_rc_bundle(principal, params, regulation)
        return json_response(self._bundle_view(bundle), 201)

    def _own_bundle(self, principal: Principal, sid: str, request: Request) -> dict[str, Any]:
        return self._rc_own(self.rc_bundle_store, principal, sid, request)

    def rc_bundle_item(self, request: Request, principal: Principal, sid: str) -> Response:
        bundle = self._own_bundle(principal, sid, request)
        if request.method == "POST":
            params = form(request)
            for param, key in (("FriendlyName", "friendly_name"), ("Email", "email"),
                               ("StatusCallback", "status_callback")):  # fmt: skip
                if params.get(param):
                    bundle[key] = params[param]
            if params.get("Status") is not None:
                self._rc_submit(bundle, params["Status"])
            bundle["date_updated"] = iso(self.clock.time())
        return json_response(self._bundle_view(bundle))

    def _rc_submit(self, bundle: dict[str, Any], status: str) -> None:
        if status != "pending-review":
            raise invalid("Status", "only pending-review can be requested")
        if bundle["status"] not in ("draft", "twilio-rejected"):
            raise invalid("Status", f"bundle is {bundle['status']}")
        latest = self._rc_latest_evaluation(bundle["sid"])
        if latest is None or latest["status"] != "compliant":
            # No specific code is documented for submitting a noncompliant bundle.
            raise TwilioError(400, 20001, "Bundle is not compliant: evaluate it first")
        self._rc_status(bundle, "pending-review")

    def _rc_status(self, bundle: dict[str, Any], status: str) -> None:
        bundle.update(status=status, date_updated=iso(self.clock.time()))
        bundle["_since"] = self.clock.time()

    def tick_regulatory(self) -> None:
        now = self.clock.time()
        delay = self.timeline.get("regulatory")
        for bundle in list(self.rc_bundle_store.values()):
            if bundle["status"] == "pending-review":
                self._rc_status(bundle, "in-review")
            elif bundle["status"] == "in-review" and delay is not None:
                due = now - bundle["_since"] >= delay
                if due:
                    self._rc_status(bundle, "twilio-approved")

    # -- items, evaluations, copies ------------------------------------------------------
    def _rc_assigned(self, bundle_sid: str) -> list[dict[str, Any]]:
        return [a for a in self.rc_assignment_store.values() if a["bundle_sid"] == bundle_sid]

    def _rc_assign(self, account_sid: str, bundle_sid: str, object_sid: str) -> dict[str, Any]:
        sid = self.sandbox.ids.sid("BV")
        record = {
            "sid": sid,
            "bundle_sid": bundle_sid,
            "account_sid": account_sid,
            "object_sid": object_sid,
            "date_created": iso(self.clock.time()),
            "url": self.rurl(f"/Bundles/{bundle_sid}/ItemAssignments/{sid}"),
        }
        self.rc_assignment_store[sid] = record
        return record

    def rc_items(self, request: Request, principal: Principal, bundle_sid: str) -> Response:
        bundle = self._own_bundle(principal, bundle_sid, request)
        if request.method == "GET":
            url = self.rurl(f"/Bundles/{bundle_sid}/ItemAssignments")
            return json_response(page_v1(request, self._rc_assigned(bundle_sid), "results", url))
        object_sid = required(form(request), "ObjectSid")
        target = self.rc_user_store.get(object_sid) or self.rc_doc_store.get(object_sid)
        if target is None or target["account_sid"] != principal.sid:
            raise TwilioError(400, 22205, "Attempting to assign invalid object_sid to Bundle")
        if bundle["status"] not in ("draft", "twilio-rejected"):
            raise invalid("ObjectSid", f"bundle is {bundle['status']}")
        return json_response(self._rc_assign(principal.sid, bundle_sid, object_sid), 201)

    def rc_item(
        self, request: Request, principal: Principal, bundle_sid: str, sid: str
    ) -> Response:
        bundle = self._own_bundle(principal, bundle_sid, request)
        record = self.rc_assignment_store.get(sid)
        if record is None or record["bundle_sid"] != bundle_sid:
            raise not_found(request.path.removeprefix("/numbers"))
        if request.method == "DELETE":
            if bundle["status"] not in ("draft", "twilio-rejected"):
                raise invalid("Sid", f"bundle is {bundle['status']}")
            del self.rc_assignment_store[sid]
            return Response(status=204)
        return json_response(record)

    def rc_evaluations(self, request: Request, principal: Principal, bundle_sid: str) -> Response:
        bundle = self._own_bundle(principal, bundle_sid, request)
        if request.method == "GET":
            found = sorted(
                (e for e in self.rc_evaluation_store.values() if e["bundle_sid"] == bundle_sid),
                key=lambda e: -e["_seq"],
            )
            url = self.rurl(f"/Bundles/{bundle_sid}/Evaluations")
            return json_response(page_v1(request, [public(e) for e in found], "results", url))
        results = self._rc_evaluate(bundle)
        record = self._rc_record_evaluation(bundle, results)
        return json_response(public(record), 201)

    def _rc_record_evaluation(
        self, bundle: dict[str, Any], results: list[dict[str, Any]]
    ) -> dict[str, Any]:
        sid = self.sandbox.ids.sid("EL")
        record = {
            "sid": sid,
            "account_sid": bundle["account_sid"],
            "regulation_sid": bundle["regulation_sid"],
            "bundle_sid": bundle["sid"],
            "status": "compliant" if all(r["passed"] for r in results) else "noncompliant",
            "results": results,
            "date_created": iso(self.clock.time()),
            "url": self.rurl(f"/Bundles/{bundle['sid']}/Evaluations/{sid}"),
            "_seq": len(self.rc_evaluation_store),
        }
        self.rc_evaluation_store[sid] = record
        return record

    def _rc_latest_evaluation(self, bundle_sid: str) -> dict[str, Any] | None:
        found = [e for e in self.rc_evaluation_store.values() if e["bundle_sid"] == bundle_sid]
        return max(found, key=lambda e: e["_seq"]) if found else None

    def _rc_evaluate(self, bundle: dict[str, Any]) -> list[dict[str, Any]]:
        """One result per requirement, with the fields found missing (Twilio's shape)."""
        regulation = BY_SID[bundle["regulation_sid"]]
        objects = [a["object_sid"] for a in self._rc_assigned(bundle["sid"])]
        users = [self.rc_user_store[o] for o in objects if o in self.rc_user_store]
        docs = [self.rc_doc_store[o] for o in objects if o in self.rc_doc_store]
        requirements = regulation["requirements"]
        results = []
        end_user = requirements["end_user"][0]
        user = next((u for u in users if u["type"] == end_user["type"]), None)
        results.append(self._rc_result(end_user, "end_user", user, end_user["detailed_fields"],
                                       regulation["_address_country"]))  # fmt: skip
        for group in requirements["supporting_document"]:
            requirement = group[0]
            accepted = {d["type"]: d for d in requirement["accepted_documents"]}
            doc = next((d for d in docs if d["type"] in accepted), None)
            fields = accepted[doc["type"]]["detailed_fields"] if doc else []
            results.append(self._rc_result(requirement, "supporting_document", doc, fields,
                                           regulation["_address_country"]))  # fmt: skip
        return results

    def _rc_result(
        self,
        requirement: dict[str, Any],
        object_type: str,
        item: dict[str, Any] | None,
        fields: list[dict[str, str]],
        country: str,
    ) -> dict[str, Any]:
        invalid_fields = []
        if item is not None:
            attributes = item.get("attributes") or {}
            for f in fields:
                name = f["machine_name"]
                value = attributes.get(name)
                reason = None
                if not value:
                    reason = f"{f['friendly_name']} is missing."
                elif name == "address_sids":
                    sids = value if isinstance(value, list) else str(value).split(",")
                    found = [self.addresses_store.get(s) for s in sids]
                    if not found or any(
                        a is None or a["account_sid"] != item["account_sid"] for a in found
                    ):
                        reason = "The address does not exist in this account."
                    elif any(a["iso_country"] != country for a in found):  # type: ignore[index]
                        reason = f"The address must be in {country}."
                if reason:
                    invalid_fields.append({"friendly_name": f["friendly_name"],
                                           "object_field": name, "failure_reason": reason,
                                           "error_code": 22215})  # fmt: skip
            a_file = "address_sids" not in {f["machine_name"] for f in fields}
            if object_type == "supporting_document" and a_file and not item.get("_file_size"):
                invalid_fields.append({"friendly_name": "File", "object_field": "file",
                                       "failure_reason": "The document's file is missing.",
                                       "error_code": 22217})  # fmt: skip
        passed = item is not None and not invalid_fields
        reason = None
        if item is None:
            reason = f"A {requirement['name']} {object_type.replace('_', ' ')} is missing."
        elif invalid_fields:
            reason = "Some fields are missing or invalid."
        return {
            "friendly_name": requirement["name"],
            "object_type": object_type,
            "passed": passed,
            "failure_reason": reason,
            "error_code": None if passed else 22214,
            "valid": [],
            "invalid": invalid_fields,
            "requirement_friendly_name": requirement["name"],
            "requirement_name": requirement["requirement_name"],
        }

    def rc_copies(self, request: Request, principal: Principal, bundle_sid: str) -> Response:
        original = self._own_bundle(principal, bundle_sid, request)
        if request.method == "GET":
            copies = [
                {k: b[k] for k in BUNDLE_FIELDS}
                for b in self.rc_bundle_store.values()
                if b["_copy_of"] == bundle_sid
            ]
            url = self.rurl(f"/Bundles/{bundle_sid}/Copies")
            return json_response(page_v1(request, copies, "results", url))
        params = form(request)
        fields = {"FriendlyName": params.get("FriendlyName") or original["friendly_name"],
                  "Email": original["email"],
                  "StatusCallback": original["status_callback"] or ""}  # fmt: skip
        copy = self._new_rc_bundle(principal, fields, BY_SID[original["regulation_sid"]])
        copy["_copy_of"] = bundle_sid
        for assignment in self._rc_assigned(bundle_sid):
            self._rc_assign(principal.sid, copy["sid"], assignment["object_sid"])
        return json_response({k: copy[k] for k in BUNDLE_FIELDS}, 201)

    def rc_replace(self, request: Request, principal: Principal, bundle_sid: str) -> Response:
        target = self._own_bundle(principal, bundle_sid, request)
        source_sid = required(form(request), "FromBundleSid")
        source = self.rc_bundle_store.get(source_sid)
        if source is None or source["account_sid"] != principal.sid:
            raise TwilioError(400, 22225, "From Bundle to Replace Items does not exist")
        if source_sid == bundle_sid:
            raise TwilioError(400, 22226, "Cannot replace Items from Bundle to same Bundle")
        if source["status"] not in APPROVED or source["regulation_sid"] != target["regulation_sid"]:
            raise TwilioError(
                400,
                22228,
                "From Bundle does not have latest Regulation requirements that matches "
                "destination Bundle",
            )
        for assignment in self._rc_assigned(bundle_sid):
            del self.rc_assignment_store[assignment["sid"]]
        for assignment in self._rc_assigned(source_sid):
            self._rc_assign(principal.sid, bundle_sid, assignment["object_sid"])
        target.update(valid_until=None, date_updated=iso(self.clock.time()))
        return json_response({k: target[k] for k in BUNDLE_FIELDS}, 201)

    # -- the purchase check --------------------------------------------------------------
    def check_regulatory_purchase(
        self, account_sid: str, entry: dict[str, Any], number_kind: str, params: Any
    ) -> None:
        """21649 without an approved bundle for the number's regulation; 21651 when the
        address given is not the one the bundle's documents prove."""
        number_type = NUMBER_KINDS[number_kind]
        regulated = {r["sid"] for r in regulations_for(entry["iso_country"], number_type)}
        if not regulated:
            return
        bundle = self.rc_bundle_store.get(params.get("BundleSid") or "")
        if (
            bundle is None
            or bundle["account_sid"] != account_sid
            or bundle["regulation_sid"] not in regulated
            or bundle["status"] not in APPROVED
        ):
            raise TwilioError(
                400, 21649, "Phone Number Requires a Bundle which has been twilio-approved"
            )
        proven = set()
        for assignment in self._rc_assigned(bundle["sid"]):
            doc = self.rc_doc_store.get(assignment["object_sid"])
            sids = ((doc or {}).get("attributes") or {}).get("address_sids") or []
            proven |= set(sids if isinstance(sids, list) else str(sids).split(","))
        if params.get("AddressSid") not in proven:
            raise TwilioError(400, 21651, "Document does not satisfy regulatory requirement")

    # -- control actions -------------------------------------------------------------------
    def _rc_find(self, sid: str) -> dict[str, Any]:
        bundle = self.rc_bundle_store.get(sid)
        if bundle is None:
            raise KeyError(f"no regulatory bundle {sid}")
        return bundle

    def control_approve_regulatory_bundle(self, *, sid: str) -> dict[str, Any]:
        bundle = self._rc_find(sid)
        self._rc_status(bundle, "twilio-approved")
        return self._bundle_view(bundle)

    def control_reject_regulatory_bundle(
        self, *, sid: str, reason: str = "The document is not legible."
    ) -> dict[str, Any]:
        """Reject, recording the reviewer's reason as a failed evaluation (what the
        Evaluations list shows after a review)."""
        bundle = self._rc_find(sid)
        self._rc_status(bundle, "twilio-rejected")
        results = [
            {"friendly_name": "Review", "object_type": "bundle", "passed": False,
             "failure_reason": reason, "error_code": 18001, "valid": [], "invalid": [],
             "requirement_friendly_name": "Twilio review", "requirement_name": "review"}
        ]  # fmt: skip
        self._rc_record_evaluation(bundle, results)
        return self._bundle_view(bundle)

    def control_regulation_changed(self, *, sid: str, days: int = 30) -> dict[str, Any]:
        """The bundle's regulation changed: it stays valid until ``days`` from now."""
        bundle = self._rc_find(sid)
        until = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC) + dt.timedelta(days=days)
        bundle.update(valid_until=until.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return self._bundle_view(bundle)

    def regulatory_reviews(self, approved: bool = False) -> list[dict[str, Any]]:
        """Bundles a person reviews in the demo (the sandbox page's rows); ``approved``:
        those whose regulation a person may change instead."""
        wanted = APPROVED if approved else ("pending-review", "in-review")
        return [
            {"sid": b["sid"], "account_sid": b["account_sid"], "valid_until": b["valid_until"],
             "friendly_name": b["friendly_name"], "status": b["status"]}
            for b in self.rc_bundle_store.values()
            if b["status"] in wanted
        ][:50]  # fmt: skip

    def control_set_regulatory_timeline(self, *, seconds: float | None = None) -> dict[str, Any]:
        """Approve bundles that were in review this long (None: only by a person)."""
        self.timeline["regulatory"] = seconds
        return {"regulatory_seconds": seconds}
