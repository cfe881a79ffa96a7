"""What the Twilio simulator's parts share: its state, and the calls its parts make on
one another (declared here, defined by the part named).

The parts (accounts, numbers, messages, inbound texts and calls, messaging, TrustHub,
senders, Event Streams, content, teardown, controls) derive from :class:`TwilioBase`;
:class:`~.simulator.TwilioSimulator` puts them together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import Simulator

if TYPE_CHECKING:
    from ..core import Sandbox
    from ..outbound import Delivery
    from .accounts import Principal


class TwilioBase(Simulator):
    """Twilio's state: accounts, numbers, services, A2P, TrustHub, senders, sinks, content."""

    name = "twilio"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        # accounts and numbers
        self.accounts: dict[str, dict[str, Any]] = {}
        self.keys_store: dict[str, dict[str, Any]] = {}
        self.addresses_store: dict[str, dict[str, Any]] = {}
        self.numbers: dict[str, dict[str, Any]] = {}
        self.owned: dict[str, str] = {}  # E.164 -> PN sid
        self.subaccount_limit = 1000
        # messaging services, brands and campaigns
        self.services: dict[str, dict[str, Any]] = {}
        self.service_numbers: dict[tuple[str, str], dict[str, Any]] = {}
        self.brands: dict[str, dict[str, Any]] = {}
        self.campaigns: dict[str, dict[str, Any]] = {}  # by messaging service sid
        self.a2p_interval = 1.0
        self.a2p_last: dict[tuple[str, str], float] = {}
        self.timeline: dict[str, float | None] = {"brand": None, "campaign": None, "profile": None}
        # TrustHub
        self.profiles: dict[str, dict[str, Any]] = {}
        self.trust_products: dict[str, dict[str, Any]] = {}
        self.end_users: dict[str, dict[str, Any]] = {}
        self.documents_store: dict[str, dict[str, Any]] = {}
        self.assignments_store: dict[str, dict[str, Any]] = {}  # BV sid -> record
        self.evaluations_store: dict[str, dict[str, Any]] = {}  # EL sid -> record
        # WhatsApp senders
        self.senders: dict[str, dict[str, Any]] = {}
        self.sender_delay = 1.0
        self.shared_wabas: set[str] = set()
        self.unshared_wabas: set[str] = set()
        self.require_shared_waba = False
        # Event Streams
        self.sinks: dict[str, dict[str, Any]] = {}
        self.subscriptions_store: dict[str, dict[str, Any]] = {}
        # Content API: WhatsApp templates, and the sids under WhatsApp's review
        self.contents: dict[str, dict[str, Any]] = {}
        self.account_contents: dict[str, dict[str, dict[str, Any]]] = {}  # AC sid -> its items
        self.content_reviews: set[str] = set()
        self.template_review_seconds: float | None = 30.0
        # Messages (inbound ones, from texts handed over by Sandbox.deliver_text) and calls
        self.messages: dict[str, dict[str, Any]] = {}  # SM sid -> Message
        self.calls: dict[str, dict[str, Any]] = {}  # CA sid -> call record
        self.transcriptions: list[dict[str, Any]] = []  # due transcribeCallback POSTs
        self.transcription_delay = 30.0
        # Regulatory compliance (numbers v2): bundles for numbers outside the US
        self.rc_bundle_store: dict[str, dict[str, Any]] = {}
        self.rc_user_store: dict[str, dict[str, Any]] = {}
        self.rc_doc_store: dict[str, dict[str, Any]] = {}
        self.rc_assignment_store: dict[str, dict[str, Any]] = {}
        self.rc_evaluation_store: dict[str, dict[str, Any]] = {}
        self.timeline["regulatory"] = None

    if TYPE_CHECKING:
        # accounts.AccountsMixin
        def new_account(
            self, *, friendly_name: str, owner: str | None, sid: str | None = None, token: str = ""
        ) -> dict[str, Any]: ...
        def reach_2010(self, principal: Principal, account_sid: str) -> dict[str, Any]: ...
        def active_2010(
            self, principal: Principal, account_sid: str, path: str
        ) -> dict[str, Any]: ...
        def set_account_status(self, account: dict[str, Any], status: str) -> None: ...

        # numbers.NumbersMixin
        def release_number(self, sid: str) -> None: ...

        # messages.MessagesMixin
        def record_message(
            self,
            *,
            account_sid: str,
            from_: str,
            to: str,
            body: str,
            direction: str,
            status: str,
            messaging_service_sid: str | None = None,
        ) -> dict[str, Any]: ...

        # inbound.InboundMixin
        def send_form(
            self, account_sid: str, url: str, params: dict[str, str], method: str = "POST"
        ) -> Delivery: ...

        # voice.VoiceMixin
        def receive_call(self, number: dict[str, Any], body: str) -> None: ...

        # messaging.MessagingMixin
        def detach_number(self, pn: str) -> None: ...
        def approve_brand(
            self, brand: dict[str, Any], identity_status: str = "VERIFIED", brand_score: int = 80
        ) -> None: ...
        def fail_brand(self, brand: dict[str, Any], reason: str, feedback: list[str]) -> None: ...
        def approve_campaign(self, campaign: dict[str, Any]) -> None: ...
        def fail_campaign(
            self, campaign: dict[str, Any], reason: str, error_code: int = 30899
        ) -> None: ...
        # 10DLC brand types (issue 18)
        def confirm_brand_otp(self, brand: dict[str, Any]) -> None: ...
        def suspend_campaign(self, campaign: dict[str, Any], reason: str) -> None: ...
        def expire_campaign(self, campaign: dict[str, Any]) -> None: ...

        # trusthub.TrustHubMixin
        def new_bundle(
            self,
            kind: str,
            account_sid: str,
            friendly_name: str,
            email: str,
            policy_sid: str,
            status_callback: str | None = None,
        ) -> dict[str, Any]: ...
        def find_bundle(self, sid: str) -> dict[str, Any]: ...
        def set_bundle_status(
            self, bundle: dict[str, Any], status: str, errors: list[dict] | None = None
        ) -> None: ...
        def tick_trusthub(self, now: float) -> None: ...
        def assigned(self, kind: str, bundle_sid: str) -> list[str]: ...

        # regulatory.RegulatoryMixin
        def check_regulatory_purchase(
            self, account_sid: str, entry: dict[str, Any], number_kind: str, params: Any
        ) -> None: ...
        def tick_regulatory(self) -> None: ...
        def regulatory_reviews(self, approved: bool = False) -> list[dict[str, Any]]: ...

        # senders.SendersMixin
        def sender_url(self, sid: str) -> str: ...
        def sender_status(
            self, sender: dict[str, Any], status: str, offline_reasons: list[dict] | None = None
        ) -> None: ...

        # events.EventsMixin
        def emit_brand_event(self, brand: dict[str, Any], kind: str) -> None: ...
        def emit_campaign_event(
            self, campaign: dict[str, Any], kind: str, status: str, reason: str | None = None
        ) -> None: ...
