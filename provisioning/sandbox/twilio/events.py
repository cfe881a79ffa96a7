"""events.twilio.com v1: Sinks and Subscriptions, and CloudEvents delivery (fact sheet §4).

A2P status events are delivered as CloudEvents JSON arrays to the webhook sinks of the
subaccount that owns the brand or campaign, for each subscription naming the type.
Deliveries are signed as Twilio signs a JSON webhook (``X-Twilio-Signature`` over the
sink URL with ``bodySHA256``, keyed with the auth token of the account owning the sink;
Twilio's Event Streams "Webhook Quickstart" points to that validation).
Sinks start ``initialized``; ``Test`` sends a test event and ``Validate`` with its
``TestId`` makes the sink ``active``. Events go to every sink not ``failed``.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from ..core import dumps
from .accounts import Principal
from .base import TwilioBase
from .errors import invalid, not_found
from .paging import page_v1
from .webhooks import signed_json
from .wire import form, iso, json_param, public, required

E = "/events/v1"
RULES = [
    Rule(f"{E}/Sinks", endpoint="sinks_route", methods=["GET", "POST"]),
    Rule(f"{E}/Sinks/<sid>", endpoint="sink_item", methods=["GET", "POST", "DELETE"]),
    Rule(f"{E}/Sinks/<sid>/Test", endpoint="sink_test", methods=["POST"]),
    Rule(f"{E}/Sinks/<sid>/Validate", endpoint="sink_validate", methods=["POST"]),
    Rule(f"{E}/Subscriptions", endpoint="subscriptions", methods=["GET", "POST"]),
    Rule(
        f"{E}/Subscriptions/<sid>", endpoint="subscription_item", methods=["GET", "POST", "DELETE"]
    ),
    Rule(
        f"{E}/Subscriptions/<sid>/SubscribedEvents", endpoint="subscribed_events", methods=["GET"]
    ),
]
COMPLIANCE = "com.twilio.messaging.compliance."
SCHEMAS = {
    "brand-registration": "A2P.BrandRegistrationUpdated",
    "campaign-registration": "A2P.CampaignRegistrationUpdated",
}


class EventsMixin(TwilioBase):
    """Event Streams sinks/subscriptions and the delivery of A2P status events."""

    def eurl(self, path: str) -> str:
        return f"{self.base_url('events')}/v1{path}"

    def _own(self, store: dict, principal: Principal, sid: str, path: str) -> dict[str, Any]:
        record = store.get(sid)
        if record is None or record["_account"] != principal.sid:
            raise not_found(path)
        return record

    # -- sinks --------------------------------------------------------------------------------
    def sinks_route(self, request: Request, principal: Principal) -> Response:
        if request.method == "GET":
            status = request.args.get("Status")
            items = [
                public(s)
                for s in self.sinks.values()
                if s["_account"] == principal.sid and (status is None or s["status"] == status)
            ]
            return json_response(page_v1(request, items, "sinks", self.eurl("/Sinks")))
        params = form(request)
        description = required(params, "Description")
        sink_type = required(params, "SinkType")
        config = json_param(params, "SinkConfiguration")
        if config is None:
            required(params, "SinkConfiguration")
        if sink_type == "webhook" and not (isinstance(config, dict) and config.get("destination")):
            raise invalid("SinkConfiguration", "a webhook sink needs a destination")
        now = iso(self.clock.time())
        sid = self.sandbox.ids.sid("DG")
        url = self.eurl(f"/Sinks/{sid}")
        sink = {
            "date_created": now,
            "date_updated": now,
            "description": description,
            "sid": sid,
            "sink_configuration": config,
            "sink_type": sink_type,
            "status": "initialized",
            "url": url,
            "links": {"sink_test": f"{url}/Test", "sink_validate": f"{url}/Validate"},
            "_account": principal.sid,
            "_test_id": None,
        }
        self.sinks[sid] = sink
        return json_response(public(sink), 201)

    def sink_item(self, request: Request, principal: Principal, sid: str) -> Response:
        sink = self._own(self.sinks, principal, sid, request.path.removeprefix("/events"))
        if request.method == "DELETE":
            del self.sinks[sid]
            return Response(status=204)
        if request.method == "POST" and form(request).get("Description"):
            sink["description"] = form(request)["Description"]
            sink["date_updated"] = iso(self.clock.time())
        return json_response(public(sink))

    def sink_test(self, request: Request, principal: Principal, sid: str) -> Response:
        sink = self._own(self.sinks, principal, sid, request.path.removeprefix("/events"))
        test_id = self.sandbox.ids.sid("TE")
        sink["_test_id"] = test_id
        event = self.cloud_event(
            "com.twilio.eventstreams.test-event",
            f"/v1/Sinks/{sid}/Test",
            {"test_id": test_id},
            "EventStreams.TestSink",
        )
        self._deliver(sink, [event])
        return json_response({"result": "submitted"}, 201)

    def sink_validate(self, request: Request, principal: Principal, sid: str) -> Response:
        sink = self._own(self.sinks, principal, sid, request.path.removeprefix("/events"))
        test_id = required(form(request), "TestId")
        if sink["_test_id"] is None or test_id != sink["_test_id"]:
            return json_response({"result": "invalid"}, 201)
        sink["status"] = "active"
        return json_response({"result": "valid"}, 201)

    # -- subscriptions ----------------------------------------------------------------------------
    def subscriptions(self, request: Request, principal: Principal) -> Response:
        if request.method == "GET":
            sink_sid = request.args.get("SinkSid")
            items = [
                public(s)
                for s in self.subscriptions_store.values()
                if s["_account"] == principal.sid and sink_sid in (None, s["sink_sid"])
            ]
            return json_response(
                page_v1(request, items, "subscriptions", self.eurl("/Subscriptions"))
            )
        params = form(request)
        description = required(params, "Description")
        sink_sid = required(params, "SinkSid")
        self._own(self.sinks, principal, sink_sid, f"/v1/Sinks/{sink_sid}")
        types = [self._parse_type(t) for t in params.getlist("Types")]
        if not types:
            required(params, "Types")
        now = iso(self.clock.time())
        sid = self.sandbox.ids.sid("DF")
        url = self.eurl(f"/Subscriptions/{sid}")
        subscription = {
            "account_sid": principal.sid,
            "sid": sid,
            "date_created": now,
            "date_updated": now,
            "description": description,
            "sink_sid": sink_sid,
            "url": url,
            "links": {"subscribed_events": f"{url}/SubscribedEvents"},
            "_account": principal.sid,
            "_types": types,
        }
        self.subscriptions_store[sid] = subscription
        return json_response(public(subscription), 201)

    @staticmethod
    def _parse_type(raw: str) -> dict[str, Any]:
        # The SDK sends each entry as a JSON object string: {"type": ..., "schema_version": 1}.
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, dict) or not value.get("type"):
            raise invalid("Types", "each entry needs a type")
        return {"type": value["type"], "schema_version": int(value.get("schema_version") or 1)}

    def subscription_item(self, request: Request, principal: Principal, sid: str) -> Response:
        path = request.path.removeprefix("/events")
        subscription = self._own(self.subscriptions_store, principal, sid, path)
        if request.method == "DELETE":
            del self.subscriptions_store[sid]
            return Response(status=204)
        if request.method == "POST" and form(request).get("Description"):
            subscription["description"] = form(request)["Description"]
        return json_response(public(subscription))

    def subscribed_events(self, request: Request, principal: Principal, sid: str) -> Response:
        path = request.path.removeprefix("/events")
        subscription = self._own(self.subscriptions_store, principal, sid, path)
        url = self.eurl(f"/Subscriptions/{sid}/SubscribedEvents")
        items = [
            {
                "account_sid": principal.sid,
                "type": t["type"],
                "schema_version": t["schema_version"],
                "subscription_sid": sid,
                "url": f"{url}/{t['type']}",
            }
            for t in subscription["_types"]
        ]
        return json_response(page_v1(request, items, "types", url))

    # -- delivery ---------------------------------------------------------------------------------
    def cloud_event(self, type_: str, source: str, data: dict[str, Any], schema: str) -> dict:
        return {
            "specversion": "1.0",
            "type": type_,
            "source": source,
            "id": self.sandbox.ids.sid("EZ"),
            "dataschema": f"https://events-schemas.twilio.com/{schema}/1",
            "datacontenttype": "application/json",
            "time": iso(self.clock.time()),
            "data": data,
        }

    def emit_event(self, account_sid: str, type_: str, source: str, data: dict[str, Any]) -> int:
        """Deliver one event to every sink of ``account_sid`` subscribed to ``type_``.

        The sinks are chosen under the sandbox lock, then delivered to: a delivery lets go
        of the lock, and another request may add or remove subscriptions meanwhile.
        """
        group = type_.removeprefix(COMPLIANCE).split(".")[0]
        with self.sandbox.lock:
            event = self.cloud_event(type_, source, data, SCHEMAS.get(group, "A2P.Event"))
            sinks = [
                self.sinks.get(subscription["sink_sid"])
                for subscription in self.subscriptions_store.values()
                if subscription["_account"] == account_sid
                and any(t["type"] == type_ for t in subscription["_types"])
            ]
            targets = [s for s in sinks if s is not None and s["status"] != "failed"]
            for sink in targets:
                self._deliver(sink, [event])
        return len(targets)

    def _deliver(self, sink: dict[str, Any], events: list[dict[str, Any]]) -> None:
        config = sink["sink_configuration"] or {}
        if sink["sink_type"] != "webhook" or not config.get("destination"):
            return
        body = dumps(events)
        token = self.accounts[sink["_account"]]["auth_token"]
        url, headers = signed_json(token, config["destination"], body)
        self.sandbox.outbound.send(
            self.name, url, body, headers, method=str(config.get("method") or "POST").upper()
        )

    def emit_brand_event(self, brand: dict[str, Any], kind: str) -> None:
        self.emit_event(
            brand["account_sid"],
            f"{COMPLIANCE}brand-registration.{kind}",
            f"/v1/a2p/BrandRegistrations/{brand['sid']}",
            {
                "accountsid": brand["account_sid"],
                "brandsid": brand["sid"],
                "brandstatus": brand["status"],
                "identitystatus": brand["identity_status"],
                "brandregistrationerrors": brand["errors"] or [],
                "externalstatus": brand["status"],
                "failurereason": brand["failure_reason"],
            },
        )

    def emit_campaign_event(
        self, campaign: dict[str, Any], kind: str, status: str, reason: str | None = None
    ) -> None:
        service = campaign["messaging_service_sid"]
        self.emit_event(
            campaign["account_sid"],
            f"{COMPLIANCE}campaign-registration.{kind}",
            f"/v1/Services/{service}/Compliance/Usa2p/{campaign['sid']}",
            {
                "accountsid": campaign["account_sid"],
                "brandsid": campaign["brand_registration_sid"],
                "campaignsid": campaign["campaign_id"],
                "campaignregistrationstatus": status,
                "messagingservicesid": service,
                "a2pusecase": campaign["us_app_to_person_usecase"],
                "externalstatus": campaign["campaign_status"],
                "failurereason": reason,
                "errorcode": (campaign["errors"] or [{}])[0].get("error_code"),
            },
        )
