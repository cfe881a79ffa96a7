"""Twilio's REST API as the platform uses it: the one module that calls the Twilio SDK.

:class:`TwilioApi` names every operation the platform performs with one account's
credentials (the ISV master account, or a company's subaccount); the rest of the package
calls those, never the SDK. Underneath, the official SDK runs on an httpx transport
(:class:`HttpxHttpClient`), guarded like every provider call and retargetable to the
sandbox by base URL.

Every SDK call runs through :func:`call`. The SDK fails in three ways, all mapped here:

- ``TwilioRestException`` (or the RFC 9457 ``TwilioServiceException``) when a create,
  fetch, update or delete answers non-2xx;
- a bare ``TwilioException`` carrying the response when a *list page* answers non-2xx
  (``twilio.base.page.Page.process_response``), or without one when a page is garbled;
- httpx's ``TransportError`` (timeouts, refused connections, a dropped answer) when
  nothing usable came back.

401/403 and Twilio's credential codes are :class:`AuthError`; 429, 20429 and 5xx are
:class:`Retryable`; no answer is :class:`Unreachable`; anything else is :class:`Rejected`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.request import Request as TwilioRequest
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList
from twilio.rest.content.v1.content.approval_create import ApprovalCreateList
from twilio.rest.messaging.v2.channels_sender import ChannelsSenderList

from ..errors import (
    AuthError,
    BlockedDestination,
    ProviderError,
    Rejected,
    Retryable,
    Unreachable,
)
from ..http import DEFAULT_TIMEOUT, redact_url
from ..metrics import provider_call
from ..outbound import guarded
from ..text import ascii_digits

T = TypeVar("T")
AUTH_CODES = frozenset({20003, 20005, 20008})
THROTTLED = 20429


def call(function: Callable[[], T]) -> T:
    """Run an SDK call; its failures come out as the platform's typed errors."""
    try:
        return function()
    except (TwilioException, httpx.TransportError) as exc:
        raise map_twilio_error(exc) from exc


def create_or_find(create: Callable[[], T], find: Callable[[], T | None]) -> T:
    """Create; when Twilio may have acted without our knowing (no answer, 5xx), ``find``
    what the call may have created before failing. A 4xx (429 included) created nothing."""
    try:
        return call(create)
    except ProviderError as exc:
        if exc.http_status and exc.http_status < 500:
            raise
        found = call(find)
        if found is None:
            raise
        return found


def map_twilio_error(exc: Exception) -> ProviderError:
    """Any failure of an SDK call as a typed error (see the module docstring)."""
    if isinstance(exc, httpx.TransportError):
        return Unreachable("twilio", f"no answer: {type(exc).__name__}")
    if isinstance(exc, TwilioRestException):
        return _typed(exc.status, exc.code, exc.msg or str(exc))
    if isinstance(exc, TwilioServiceException):
        return _typed(exc.status, exc.code, exc.detail or exc.title)
    response = exc.args[1] if len(exc.args) > 1 else None
    if response is None or not hasattr(response, "status_code"):
        return Rejected("twilio", f"unexpected answer: {exc}")
    body = _json(response.text)
    retry_after = _seconds((response.headers or {}).get("Retry-After"))
    message = body.get("message") or f"{exc.args[0]} (HTTP {response.status_code})"
    return _typed(response.status_code, body.get("code"), message, retry_after)


def _typed(status: Any, code: Any, message: str, retry_after: float | None = None) -> ProviderError:
    status = int(status or 0)
    number = int(code) if ascii_digits(str(code or ""), 1, 10) else None
    cls: type[ProviderError]
    if status in (401, 403) or number in AUTH_CODES:
        cls = AuthError
    elif status == 429 or status >= 500 or number == THROTTLED:
        cls = Retryable
    else:
        cls = Rejected
    text = None if code is None else str(code)
    return cls("twilio", message, status or None, code=text, retry_after=retry_after)


def _json(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


# -- the SDK on httpx ---------------------------------------------------------------

log = logging.getLogger("provisioning.twilio.api")

# SDK domain attribute -> host alias under the sandbox (see provisioning.sandbox.core)
DOMAINS = ("api", "messaging", "trusthub", "events", "content", "numbers")
# numbers-upload.twilio.com (regulatory document files) is reached as the numbers host
# with "-upload" added (see TwilioApi.regulatory_document), in the sandbox too.
JSON_TYPES = ("application/json", "application/scim+json")


class HttpxHttpClient(HttpClient):
    """A ``twilio.http.HttpClient`` on one long-lived ``httpx.Client``.

    Logs method, redacted URL (no query values that carry secrets, never credentials)
    and status only; bodies and headers are never logged. The transport is guarded
    (:mod:`provisioning.outbound`): the SDK reaches only the hosts the policy allows.
    """

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        logger: logging.Logger = log,
    ) -> None:
        seconds = timeout.read if isinstance(timeout, httpx.Timeout) else timeout
        super().__init__(logger, is_async=False, timeout=seconds)
        self._client = httpx.Client(transport=guarded(transport), timeout=timeout)

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        kwargs: dict[str, object] = {}
        if headers.get("Content-Type") in JSON_TYPES:
            # Senders v2 and other JSON APIs: the SDK hands over a dict for the body.
            kwargs["json"] = data
        elif data:
            kwargs["data"] = data
        if timeout is not None:
            if timeout <= 0:
                raise ValueError(timeout)
            kwargs["timeout"] = timeout
        self._test_only_last_request = TwilioRequest(
            method=method.upper(), url=uri, params=params, headers=headers
        )
        try:
            with provider_call("twilio", method, uri) as timing:
                response = self._client.request(
                    method.upper(),
                    uri,
                    params=params,  # type: ignore[arg-type]
                    headers=headers,
                    auth=auth,
                    follow_redirects=allow_redirects,
                    **kwargs,  # type: ignore[arg-type]
                )
                timing.status = response.status_code
        except (BlockedDestination, Unreachable) as exc:  # from the guard
            exc.provider = "twilio"
            raise
        self.logger.info(
            "twilio %s %s -> %s",
            method.upper(),
            redact_url(response.request.url),
            response.status_code,
        )
        self._test_only_last_response = Response(
            response.status_code, response.text, response.headers
        )
        return self._test_only_last_response

    def post_multipart(
        self,
        url: str,
        fields: dict[str, str],
        file: tuple[str, bytes, str],
        auth: tuple[str, str],
    ) -> httpx.Response:
        """A multipart POST (a file upload the SDK cannot send) through the same guarded
        client; logged like every call (method, redacted URL, status), never the body."""
        try:
            with provider_call("twilio", "POST", url) as timing:
                response = self._client.post(url, data=fields, files={"File": file}, auth=auth)
                timing.status = response.status_code
        except (BlockedDestination, Unreachable) as exc:  # from the guard
            exc.provider = "twilio"
            raise
        self.logger.info("twilio POST %s -> %s", redact_url(response.request.url),
                         response.status_code)  # fmt: skip
        return response

    def close(self) -> None:
        self._client.close()


def make_client(
    username: str,
    password: str,
    *,
    account_sid: str | None = None,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> Client:
    """A ``twilio.rest.Client`` using httpx; ``base_url`` retargets api, messaging,
    trusthub, events, content and numbers to ``{base_url}/{alias}`` (e.g. the sandbox)."""
    client = Client(
        username,
        password,
        account_sid=account_sid,
        http_client=HttpxHttpClient(transport=transport, timeout=timeout),
    )
    if base_url:
        root = base_url.rstrip("/")
        client.edge = None
        client.region = None
        for alias in DOMAINS:
            getattr(client, alias).base_url = f"{root}/{alias}"
    return client


# -- the operations ------------------------------------------------------------------


@dataclass(frozen=True)
class Creation:
    """A create with side effects, and the lookup of what it made (by a name it gave), for
    :func:`create_or_find` and for resuming after a lost answer."""

    create: Callable[[], Any]
    find: Callable[[], Any]

    def looked_up(self) -> Any:
        """What an earlier attempt made, or None."""
        return call(self.find)

    def run(self) -> Any:
        """Create; after no answer or a 5xx, what the create may have made."""
        return create_or_find(self.create, self.find)


# ListContentAndApprovals' PageSize maximum (twilio-oai content v1: "the maximum is 1000").
CONTENT_PAGE_MAX = 1000
CONTENT_FIELDS = (
    "sid",
    "account_sid",
    "friendly_name",
    "language",
    "variables",
    "types",
    "approval_requests",
)
APPROVAL_FIELDS = (
    "name",
    "category",
    "content_type",
    "status",
    "rejection_reason",
    "allow_category_change",
)


def _wire(instance: Any, fields: tuple[str, ...] = CONTENT_FIELDS) -> dict[str, Any]:
    """An SDK instance back as the JSON fields it was read from (absent ones as None)."""
    return {name: getattr(instance, name, None) for name in fields}


def _found(fetch: Callable[[], T]) -> T | None:
    """What ``fetch`` reads, or None when Twilio answers 404."""
    try:
        return fetch()
    except TwilioRestException as exc:
        if exc.status == 404:
            return None
        raise


def _named(items: Any, name: str, **match: Any) -> Any:
    """The first of ``items`` with ``friendly_name`` and the ``match`` attributes."""
    return next(
        (
            item
            for item in items
            if item.friendly_name == name
            and all(getattr(item, key) == value for key, value in match.items())
        ),
        None,
    )


class TwilioApi:
    """What the platform does in one Twilio account (the ISV master or a subaccount)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @property
    def account_sid(self) -> str:
        return str(self.client.account_sid)

    # accounts: the master's view of its subaccounts

    def fetch_account(self, sid: str) -> Any:
        return call(self.client.api.v2010.accounts(sid).fetch)

    def find_subaccount(self, friendly_name: str) -> Any:
        """The open subaccount named ``friendly_name`` (None when there is none)."""
        accounts = self.client.api.v2010.accounts
        found = call(lambda: accounts.list(friendly_name=friendly_name, limit=5))
        return next((a for a in found if a.status != "closed"), None)

    def create_subaccount(self, friendly_name: str) -> Any:
        """A new subaccount; after a lost answer, the one the create made."""
        accounts = self.client.api.v2010.accounts
        return create_or_find(
            lambda: accounts.create(friendly_name=friendly_name),
            lambda: self.find_subaccount(friendly_name),
        )

    def set_account_status(self, sid: str, status: str) -> None:
        call(lambda: self.client.api.v2010.accounts(sid).update(status=status))

    def move_number(self, from_account: str, number_sid: str, to_account: str) -> None:
        """Transfer a number between subaccounts (the parent's credentials)."""
        number = self.client.api.v2010.accounts(from_account).incoming_phone_numbers(number_sid)
        call(lambda: number.update(account_sid=to_account))

    # phone numbers

    def available_numbers(self, country: str, number_type: str, **filters: Any) -> list[Any]:
        catalogue = self.client.api.v2010.account.available_phone_numbers(country.upper())
        listing = getattr(catalogue, number_type)
        return call(lambda: listing.list(**filters))

    def owned_number(self, phone_number: str) -> Any:
        """The account's number ``phone_number`` (None when it does not own it)."""
        incoming = self.client.api.v2010.account.incoming_phone_numbers
        numbers = call(lambda: incoming.list(phone_number=phone_number))
        return next((n for n in numbers if n.phone_number == phone_number), None)

    def buy_number(self, phone_number: str, **options: Any) -> Any:
        """Buy (paid); after a lost answer or a 5xx, the number if the purchase went through."""
        incoming = self.client.api.v2010.account.incoming_phone_numbers
        values = {"phone_number": phone_number, **{k: v for k, v in options.items() if v}}
        return create_or_find(
            lambda: incoming.create(**values), lambda: self.owned_number(phone_number)
        )

    def release_number(self, number_sid: str) -> None:
        """Release for good; a number already gone is released."""
        number = self.client.api.v2010.account.incoming_phone_numbers(number_sid)
        try:
            call(number.delete)
        except ProviderError as exc:
            if exc.http_status != 404:
                raise

    def update_number(self, number_sid: str, **values: Any) -> Any:
        number = self.client.api.v2010.account.incoming_phone_numbers(number_sid)
        return call(lambda: number.update(**values))

    # WhatsApp senders

    def whatsapp_senders(self) -> list[Any]:
        senders = self.client.messaging.v2.channels_senders
        return call(lambda: senders.list(channel="whatsapp"))

    def find_sender(self, sender_id: str) -> Any:
        return next((s for s in self.whatsapp_senders() if s.sender_id == sender_id), None)

    def create_sender(self, sender_id: str, body: dict[str, Any]) -> Any:
        """A new sender; after a lost answer, the one the create made."""
        request = ChannelsSenderList.MessagingV2ChannelsSenderRequestsCreate(
            {"sender_id": sender_id, **body}
        )
        senders = self.client.messaging.v2.channels_senders
        return create_or_find(lambda: senders.create(request), lambda: self.find_sender(sender_id))

    def update_sender(self, sender_sid: str, body: dict[str, Any]) -> Any:
        request = ChannelsSenderList.MessagingV2ChannelsSenderRequestsUpdate(body)
        return call(lambda: self.client.messaging.v2.channels_senders(sender_sid).update(request))

    def fetch_sender(self, sender_sid: str) -> Any:
        return call(self.client.messaging.v2.channels_senders(sender_sid).fetch)

    def delete_sender(self, sender_sid: str) -> None:
        """Delete for good (``DELETE /v2/Channels/Senders/{sid}``, 204); one already gone is
        deleted."""
        try:
            call(self.client.messaging.v2.channels_senders(sender_sid).delete)
        except ProviderError as exc:
            if exc.http_status != 404:
                raise

    def whatsapp_sender_pages(
        self, page_size: int, before_call: Callable[[], None]
    ) -> Iterator[list[Any]]:
        """The senders, a page at a time; ``before_call`` runs before each request."""
        senders = self.client.messaging.v2.channels_senders
        before_call()
        page = call(partial(senders.page, channel="whatsapp", page_size=page_size))
        while True:
            yield list(page)
            if not page.next_page_url:
                return
            before_call()
            page = call(page.next_page)

    # TrustHub: customer profiles and trust products ("bundles"), their items

    def approved_customer_profiles(self) -> list[Any]:
        profiles = self.client.trusthub.v1.customer_profiles
        return call(lambda: profiles.list(status="twilio-approved"))

    def bundle(self, kind: str, name: str, email: str, policy_sid: str) -> Creation:
        """A customer profile (``customer_profiles``) or trust product (``trust_products``)."""
        bundles = getattr(self.client.trusthub.v1, kind)
        return Creation(
            lambda: bundles.create(friendly_name=name, email=email, policy_sid=policy_sid),
            lambda: _named(bundles.list(friendly_name=name, policy_sid=policy_sid), name),
        )

    def trusthub_item(
        self, kind: str, name: str, type_: str, attributes: dict[str, Any]
    ) -> Creation:
        """An end user (``end_users``) or supporting document (``supporting_documents``);
        their lists take no filter, so they are matched by name and type."""
        items = getattr(self.client.trusthub.v1, kind)
        return Creation(
            lambda: items.create(friendly_name=name, type=type_, attributes=attributes),
            lambda: _named(items.list(), name, type=type_),
        )

    def address(self, name: str, **fields: Any) -> Creation:
        addresses = self.client.api.v2010.account.addresses
        return Creation(
            lambda: addresses.create(friendly_name=name, **fields),
            lambda: _named(addresses.list(friendly_name=name), name),
        )

    def _assignments(self, kind: str, bundle_sid: str) -> Any:
        bundle = getattr(self.client.trusthub.v1, kind)(bundle_sid)
        return getattr(bundle, f"{kind}_entity_assignments")

    def assigned(self, kind: str, bundle_sid: str) -> set[str]:
        """The object sids attached to a bundle."""
        return {a.object_sid for a in call(self._assignments(kind, bundle_sid).list)}

    def assignment(self, kind: str, bundle_sid: str, object_sid: str) -> Creation:
        assignments = self._assignments(kind, bundle_sid)
        return Creation(
            lambda: assignments.create(object_sid=object_sid),
            lambda: next((a for a in assignments.list() if a.object_sid == object_sid), None),
        )

    def bundle_status(self, kind: str, bundle_sid: str) -> str:
        return call(getattr(self.client.trusthub.v1, kind)(bundle_sid).fetch).status

    def evaluate_bundle(self, kind: str, bundle_sid: str, policy_sid: str) -> Any:
        bundle = getattr(self.client.trusthub.v1, kind)(bundle_sid)
        evaluations = getattr(bundle, f"{kind}_evaluations")
        return call(lambda: evaluations.create(policy_sid=policy_sid))

    def submit_bundle(self, kind: str, bundle_sid: str) -> None:
        bundle = getattr(self.client.trusthub.v1, kind)(bundle_sid)
        call(lambda: bundle.update(status="pending-review"))

    # Event Streams

    def event_sink(self, description: str, destination: str) -> Creation:
        sinks = self.client.events.v1.sinks

        def ours(sink: Any) -> bool:
            config = sink.sink_configuration or {}
            return sink.description == description and config.get("destination") == destination

        configuration = {"destination": destination, "method": "POST", "batch_events": False}
        return Creation(
            lambda: sinks.create(
                description=description, sink_type="webhook", sink_configuration=configuration
            ),
            lambda: next((s for s in sinks.list() if ours(s)), None),
        )

    def event_subscription(self, description: str, sink_sid: str, types: list[str]) -> Creation:
        subscriptions = self.client.events.v1.subscriptions
        return Creation(
            lambda: subscriptions.create(
                description=description, sink_sid=sink_sid, types=[{"type": t} for t in types]
            ),
            lambda: next(
                (s for s in subscriptions.list(sink_sid=sink_sid) if s.description == description),
                None,
            ),
        )

    # A2P 10DLC: brands, Messaging Services, campaigns

    def brand_registration(self, customer_profile_sid: str, **values: Any) -> Creation:
        """The brand (billable), found after a lost answer by its customer profile."""
        registrations = self.client.messaging.v1.brand_registrations
        return Creation(
            lambda: registrations.create(
                customer_profile_bundle_sid=customer_profile_sid, **values
            ),
            lambda: next(
                (
                    b
                    for b in registrations.list()
                    if b.customer_profile_bundle_sid == customer_profile_sid
                ),
                None,
            ),
        )

    def fetch_brand(self, brand_sid: str) -> Any:
        return call(self.client.messaging.v1.brand_registrations(brand_sid).fetch)

    def messaging_service(self, name: str, usecase: str) -> Creation:
        services = self.client.messaging.v1.services
        return Creation(
            lambda: services.create(friendly_name=name, usecase=usecase),
            lambda: _named(services.list(), name),
        )

    def service_number(self, service_sid: str, number_sid: str) -> Creation:
        """A number of the account added to a Messaging Service (a 10DLC number sends for
        the service's campaign); found again by its sid in the service."""
        numbers = self.client.messaging.v1.services(service_sid).phone_numbers
        return Creation(
            lambda: numbers.create(phone_number_sid=number_sid),
            lambda: _found(numbers(number_sid).fetch),
        )

    def campaign(self, service_sid: str, **values: Any) -> Creation:
        """The campaign of a Messaging Service of its own (its one campaign is ours)."""
        campaigns = self.client.messaging.v1.services(service_sid).us_app_to_person
        return Creation(
            lambda: campaigns.create(**values), lambda: next(iter(campaigns.list()), None)
        )

    # 10DLC brand types (issue 18): the sole proprietor's verification text

    def resend_brand_otp(self, brand_sid: str) -> Any:
        """Text the sole proprietor's mobile a new verification code (SmsOtp). Nothing
        lists these requests: a lost answer is not looked up, and the caller counts it."""
        otps = self.client.messaging.v1.brand_registrations(brand_sid).brand_registration_otps
        return call(otps.create)

    # Content API: WhatsApp templates are Content items with a WhatsApp approval request.
    # Answers come back as the wire dicts Twilio sent (the fields of CONTENT_FIELDS).

    def content_pages(self, page_size: int = CONTENT_PAGE_MAX) -> Iterator[list[dict[str, Any]]]:
        """Every Content item with its approval requests (``ContentAndApprovals``), a page
        at a time."""
        listing = self.client.content.v1.content_and_approvals
        size = max(1, min(page_size, CONTENT_PAGE_MAX))
        page = call(partial(listing.page, page_size=size))
        while page is not None:
            yield [_wire(item) for item in page]
            if not page.next_page_url:
                return
            page = call(page.next_page)

    def find_content(self, friendly_name: str, language: str) -> dict[str, Any] | None:
        """The Content item named ``friendly_name`` in ``language`` (None when there is none)."""
        for page in self.content_pages():
            for item in page:
                if (item["friendly_name"], item["language"]) == (friendly_name, language):
                    return item
        return None

    def content(
        self,
        friendly_name: str,
        language: str,
        types: dict[str, Any],
        variables: dict[str, str],
    ) -> Creation:
        """A new Content item (``POST /v1/Content``); found again by name and language."""
        contents = self.client.content.v1.contents
        request = ContentList.ContentCreateRequest(
            {
                "friendly_name": friendly_name,
                "language": language,
                "variables": variables,
                "types": types,
            }
        )
        return Creation(
            lambda: _wire(contents.create(request)),
            lambda: self.find_content(friendly_name, language),
        )

    def delete_content(self, content_sid: str) -> None:
        """Delete a Content item for good; one already gone is deleted."""
        try:
            call(self.client.content.v1.contents(content_sid).delete)
        except ProviderError as exc:
            if exc.http_status != 404:
                raise

    def whatsapp_approval(self, content_sid: str, name: str, category: str) -> Creation:
        """Submit a Content item to WhatsApp as template ``name``; after a lost answer, the
        approval request it made."""
        approvals = self.client.content.v1.contents(content_sid).approval_create
        request = ApprovalCreateList.ContentApprovalRequest({"name": name, "category": category})
        return Creation(
            lambda: _wire(approvals.create(request), APPROVAL_FIELDS),
            lambda: self.submitted_approval(content_sid),
        )

    def approval_status(self, content_sid: str) -> dict[str, Any]:
        """The WhatsApp approval of a Content item (``GET .../ApprovalRequests``, its
        ``whatsapp`` object: name, category, content_type, status, rejection_reason...)."""
        fetched = call(self.client.content.v1.contents(content_sid).approval_fetch().fetch)
        return dict(fetched.whatsapp or {})

    def submitted_approval(self, content_sid: str) -> dict[str, Any] | None:
        """The WhatsApp approval request of a Content item, None when never submitted."""
        approval = self.approval_status(content_sid)
        return approval if approval.get("status") not in (None, "", "unsubmitted") else None

    # -- toll-free verification (issue 18 item 1) --------------------------------------
    # messaging.twilio.com/v1/Tollfree/Verifications, in the subaccount owning the number.

    def tollfree_verifications(
        self, *, number_sid: str | None = None, external_reference_id: str | None = None
    ) -> list[Any]:
        """The account's verification requests, filtered by number or by our reference."""
        filters = {
            key: value
            for key, value in (
                ("tollfree_phone_number_sid", number_sid),
                ("external_reference_id", external_reference_id),
            )
            if value
        }
        listing = self.client.messaging.v1.tollfree_verifications
        return call(lambda: listing.list(**filters))

    def tollfree_verification(
        self, number_sid: str, external_reference_id: str, **values: Any
    ) -> Creation:
        """A verification request for a toll-free number, found after a lost answer by the
        ``ExternalReferenceId`` it was sent with (Twilio echoes it back)."""
        listing = self.client.messaging.v1.tollfree_verifications

        def find() -> Any:
            found = self.tollfree_verifications(external_reference_id=external_reference_id)
            return next(
                (
                    v
                    for v in found
                    if v.external_reference_id == external_reference_id
                    and v.tollfree_phone_number_sid == number_sid
                ),
                None,
            )

        return Creation(
            lambda: listing.create(
                tollfree_phone_number_sid=number_sid,
                external_reference_id=external_reference_id,
                **values,
            ),
            find,
        )

    def fetch_tollfree_verification(self, sid: str) -> Any:
        return call(self.client.messaging.v1.tollfree_verifications(sid).fetch)

    def update_tollfree_verification(self, sid: str, **values: Any) -> Any:
        """Edit a rejected request (``POST .../Verifications/{sid}``, 202): a resubmission."""
        verification = self.client.messaging.v1.tollfree_verifications(sid)
        return call(lambda: verification.update(**values))

    def delete_tollfree_verification(self, sid: str) -> None:
        """Withdraw a request for good; one already gone is deleted."""
        try:
            call(self.client.messaging.v1.tollfree_verifications(sid).delete)
        except ProviderError as exc:
            if exc.http_status != 404:
                raise

    # -- Regulatory compliance bundles (numbers v2): numbers outside the US (issue 18) ----

    @property
    def _regulatory(self) -> Any:
        return self.client.numbers.v2.regulatory_compliance

    def regulations(self, iso_country: str, number_type: str, end_user_type: str) -> list[Any]:
        """The regulations (with their requirements) for a country, number type and
        end-user type: what a bundle must hold. None: the number needs no bundle."""
        listing = self._regulatory.regulations
        return call(
            lambda: listing.list(
                iso_country=iso_country,
                number_type=number_type,
                end_user_type=end_user_type,
                include_constraints=True,
            )
        )

    def regulation(self, regulation_sid: str) -> Any:
        """One regulation as it is now (a bundle's, to update it after a change)."""
        regulation = self._regulatory.regulations(regulation_sid)
        return call(lambda: regulation.fetch(include_constraints=True))

    def regulatory_end_user(self, name: str, type_: str, attributes: dict[str, Any]) -> Creation:
        users = self._regulatory.end_users
        return Creation(
            lambda: users.create(friendly_name=name, type=type_, attributes=attributes),
            lambda: _named(users.list(), name, type=type_),
        )

    def regulatory_document(
        self,
        name: str,
        type_: str,
        attributes: dict[str, Any],
        file: tuple[str, bytes, str] | None = None,
    ) -> Creation:
        """A supporting document; with ``file`` (name, bytes, mime type) it is uploaded as
        multipart to numbers-upload.twilio.com (the SDK sends no files)."""
        documents = self._regulatory.supporting_documents

        def create() -> Any:
            if file is None:
                return documents.create(friendly_name=name, type=type_, attributes=attributes)
            return self._upload_document(name, type_, attributes, file)

        return Creation(create, lambda: _named(documents.list(), name, type=type_))

    def _upload_document(
        self, name: str, type_: str, attributes: dict[str, Any], file: tuple[str, bytes, str]
    ) -> Any:
        http = self.client.http_client
        if not isinstance(http, HttpxHttpClient):
            raise TypeError("uploads need the platform's httpx client")
        base = self.client.numbers.base_url
        head, _, tail = base.rpartition("numbers")  # numbers.twilio.com or {sandbox}/numbers
        url = f"{head}numbers-upload{tail}/v2/RegulatoryCompliance/SupportingDocuments"
        fields = {"FriendlyName": name, "Type": type_, "Attributes": json.dumps(attributes)}
        credentials = (str(self.client.username), str(self.client.password))
        try:
            response = http.post_multipart(url, fields, file, credentials)
        except httpx.TransportError as exc:
            raise map_twilio_error(exc) from exc
        body = _json(response.text)
        if response.status_code >= 300:
            message = body.get("message") or f"upload refused (HTTP {response.status_code})"
            raise _typed(response.status_code, body.get("code"), message)
        return _Fields(body)

    def regulatory_bundle(
        self,
        name: str,
        email: str,
        regulation_sid: str,
        *,
        iso_country: str,
        number_type: str,
        end_user_type: str,
        status_callback: str | None = None,
    ) -> Creation:
        bundles = self._regulatory.bundles
        values = {"status_callback": status_callback} if status_callback else {}
        values |= {"iso_country": iso_country, "number_type": number_type,
                   "end_user_type": end_user_type}  # fmt: skip
        return Creation(
            lambda: bundles.create(
                friendly_name=name, email=email, regulation_sid=regulation_sid, **values
            ),
            lambda: _named(bundles.list(friendly_name=name, regulation_sid=regulation_sid), name),
        )

    def fetch_regulatory_bundle(self, bundle_sid: str) -> Any:
        return call(self._regulatory.bundles(bundle_sid).fetch)

    def regulatory_items(self, bundle_sid: str) -> set[str]:
        """The object sids assigned to a bundle."""
        items = self._regulatory.bundles(bundle_sid).item_assignments
        return {item.object_sid for item in call(items.list)}

    def regulatory_assignments(self, bundle_sid: str) -> dict[str, str]:
        """A bundle's items: object sid -> assignment sid."""
        items = self._regulatory.bundles(bundle_sid).item_assignments
        return {item.object_sid: item.sid for item in call(items.list)}

    def remove_regulatory_item(self, bundle_sid: str, assignment_sid: str) -> None:
        """Take an item out of a (draft) bundle; one already gone is removed."""
        assignment = self._regulatory.bundles(bundle_sid).item_assignments(assignment_sid)
        try:
            call(assignment.delete)
        except ProviderError as exc:
            if exc.http_status != 404:
                raise

    def regulatory_item(self, bundle_sid: str, object_sid: str) -> Creation:
        items = self._regulatory.bundles(bundle_sid).item_assignments
        return Creation(
            lambda: items.create(object_sid=object_sid),
            lambda: next((i for i in items.list() if i.object_sid == object_sid), None),
        )

    def evaluate_regulatory_bundle(self, bundle_sid: str) -> Any:
        """An evaluation against the bundle's regulation (no side effect but a record)."""
        return call(self._regulatory.bundles(bundle_sid).evaluations.create)

    def regulatory_evaluations(self, bundle_sid: str) -> list[Any]:
        return call(self._regulatory.bundles(bundle_sid).evaluations.list)

    def submit_regulatory_bundle(self, bundle_sid: str) -> Any:
        bundle = self._regulatory.bundles(bundle_sid)
        return call(lambda: bundle.update(status="pending-review"))

    def regulatory_bundle_copy(self, bundle_sid: str, name: str) -> Creation:
        """A copy of a bundle (a draft to update when its regulation changed)."""
        copies = self._regulatory.bundles(bundle_sid).bundle_copies
        return Creation(
            lambda: copies.create(friendly_name=name),
            lambda: _named(copies.list(), name),
        )

    def replace_regulatory_items(self, bundle_sid: str, from_bundle_sid: str) -> Any:
        """The bundle's items replaced by those of its approved copy (same bundle sid, so
        the numbers bought with it keep it)."""
        replace = self._regulatory.bundles(bundle_sid).replace_items
        return call(lambda: replace.create(from_bundle_sid=from_bundle_sid))


class _Fields:
    """A JSON object read by attribute, like an SDK instance (the upload's answer)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body

    def __getattr__(self, name: str) -> Any:
        try:
            return self._body[name]
        except KeyError:
            raise AttributeError(name) from None


def connect(
    username: str,
    password: str,
    *,
    account_sid: str | None = None,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> TwilioApi:
    """The API of one account (``base_url`` retargets it, e.g. to the sandbox)."""
    return TwilioApi(
        make_client(
            username, password, account_sid=account_sid, base_url=base_url, transport=transport
        )
    )
