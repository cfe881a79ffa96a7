"""What the Meta simulator's parts share: its state, the factories of its objects, and
the calls its parts make on one another (declared here, defined by the part named).

The parts (:class:`~.graph.GraphMixin`, :class:`~.handlers.HandlersMixin`,
:class:`~.webhooks.WebhooksMixin`, :class:`~.signup.SignupMixin`,
:class:`~.templates.TemplatesMixin`, :class:`~.control.ControlMixin`,
:class:`~.numbers.NumbersMixin`, :class:`~.number_controls.NumberControlsMixin`) derive
from :class:`MetaBase`;
:class:`~provisioning.sandbox.meta.MetaSimulator` puts them together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import Simulator
from .state import (
    App,
    AuthCode,
    Business,
    NameReview,
    ObaRequest,
    PhoneNumber,
    Template,
    Token,
    VerificationCode,
    Waba,
)

if TYPE_CHECKING:
    from ..core import Sandbox
    from .coexistence import AppData
    from .errors import GraphError
    from .graph import Call


class MetaBase(Simulator):
    """Meta's state: apps, businesses, WABAs, numbers, tokens, codes; starts empty."""

    name = "meta"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.apps: dict[str, App] = {}
        self.businesses: dict[str, Business] = {}
        self.wabas: dict[str, Waba] = {}
        self.phones: dict[str, PhoneNumber] = {}
        self.tokens: dict[str, Token] = {}
        self.codes: dict[str, AuthCode] = {}
        self.app_calls: dict[str, list[float]] = {}
        self.numbers_in_use: set[str] = set()
        self.number_seq = 0
        self.delivery = {"duplicate": False, "reorder": False}
        self.held: list[tuple[str, bytes, dict[str, str]]] = []
        self.signup_order = "message_first"
        self.name_review_seconds = 0.0  # control_set_name_review: display names under review
        self.fault_codes = {"throttle": 4, "server_error": 2}
        # message templates (templates.TemplatesMixin): every template by id, and what is due
        self.templates: dict[str, Template] = {}
        self.template_review_seconds = 30.0  # control_set_template_review
        self.template_hourly_cap: int | None = 100  # creations per WABA per hour
        self.template_creations: dict[str, list[float]] = {}  # waba id -> creation times
        self.template_rejections: dict[str, str] = {}  # name -> reason of its next review
        self.template_reviews: dict[str, float] = {}  # pending template id -> decided at
        self.template_recategorisations: dict[str, float] = {}  # template id -> applied at
        # coexistence (coexistence.CoexistenceMixin): phone id -> WhatsApp Business app data
        self.coexistence: dict[str, AppData] = {}
        # a number's life after onboarding (numbers.NumbersMixin), by phone number id
        self.verification_codes: dict[str, VerificationCode] = {}  # the last code sent
        self.name_reviews: dict[str, NameReview] = {}  # display names under review
        self.oba_requests: dict[str, ObaRequest] = {}  # the latest OBA request
        self.migrations: dict[str, str] = {}  # migrating number -> the number it moves
        self.display_name_review_seconds = 60.0  # control_set_display_name_review
        self.oba_review_seconds = 120.0  # control_set_oba_review

    if TYPE_CHECKING:
        # graph.GraphMixin
        def fbtrace(self) -> str: ...
        def authenticate(self, call: Call) -> Token: ...
        def count_waba_call(self, waba_id: str, call: Call) -> None: ...
        def batch(self, call: Call) -> list[dict[str, Any]]: ...

        # handlers.HandlersMixin
        def route_graph(self, call: Call) -> Any: ...
        def phone_for(self, call: Call, phone_id: str, token: Token) -> PhoneNumber: ...
        def waba_for(self, call: Call, waba_id: str, token: Token) -> Waba: ...
        def throttle_error(self, code: int) -> GraphError: ...

        # templates.TemplatesMixin
        def list_templates(self, call: Call, waba: Waba) -> dict[str, Any]: ...
        def create_template(self, call: Call, waba: Waba) -> dict[str, Any]: ...
        def delete_templates(self, call: Call, waba: Waba) -> dict[str, Any]: ...
        def template_fields(self, call: Call, template: Template) -> dict[str, Any]: ...
        def tick_templates(self) -> None: ...
        def find_template(
            self,
            template_id: str | None = None,
            *,
            waba_id: str | None = None,
            name: str | None = None,
            language: str | None = None,
        ) -> Template: ...
        def new_template(
            self, waba: Waba, name: str, language: str, template_id: str | None = None,
            **fields: Any,
        ) -> Template: ...  # fmt: skip
        def review_template(
            self, template: Template, decision: str, reason: str | None = None
        ) -> list[dict[str, Any]]: ...
        def set_template_quality(self, template: Template, score: str) -> list[dict[str, Any]]: ...
        def pause_template(self, template: Template) -> list[dict[str, Any]]: ...
        def disable_template(self, template: Template) -> list[dict[str, Any]]: ...
        def recategorise_template(
            self, template: Template, category: str, *, complete: bool
        ) -> list[dict[str, Any]]: ...
        def update_template_components(
            self, template: Template, components: list[dict[str, Any]]
        ) -> list[dict[str, Any]]: ...

        # numbers.NumbersMixin
        def add_phone_number(self, call: Call, waba_id: str) -> dict[str, Any]: ...
        def verification(self, call: Call, phone_id: str, step: str) -> dict[str, Any]: ...
        def official_business_account(self, call: Call, phone_id: str) -> dict[str, Any]: ...
        def request_display_name(self, call: Call, phone: PhoneNumber) -> dict[str, Any]: ...
        def after_register(self, phone: PhoneNumber) -> None: ...
        def decide_name(
            self, phone: PhoneNumber, decision: str, reason: str | None = None
        ) -> list[dict[str, Any]]: ...
        def decide_oba(
            self, phone: PhoneNumber, decision: str, reason: str | None = None
        ) -> None: ...
        def tick_numbers(self) -> None: ...

        # profile.ProfileMixin
        def business_profile(self, call: Call, phone_id: str) -> dict[str, Any]: ...
        def start_upload(self, call: Call, app_id: str) -> dict[str, Any]: ...
        def upload_data(self, call: Call, upload_id: str) -> dict[str, Any]: ...

        # coexistence.CoexistenceMixin
        def smb_app_data(self, call: Call, phone_id: str) -> dict[str, Any]: ...
        def tick_coexistence(self) -> None: ...

        # webhooks.WebhooksMixin
        def emit_webhook(
            self,
            waba_id: str,
            field_name: str,
            value: dict[str, Any],
            phone_id: str | None = None,
            *,
            entry_id: str | None = None,
        ) -> list[dict[str, Any]]: ...
        def flush_held(self, *, newest_first: bool = True) -> int: ...

        # signup.SignupMixin
        def finish_signup(
            self,
            *,
            app_id: str,
            flow: str = "FINISH",
            business_id: str | None = None,
            business_name: str | None = None,
            waba_id: str | None = None,
            waba_name: str | None = None,
            phone_number_id: str | None = None,
            phone_number: str | None = None,
            verified_name: str | None = None,
            verified: bool = True,
            redirect_uri: str | None = None,
            current_step: str = "PHONE_NUMBER_SETUP",
            error_message: str | None = None,
            session_id: str | None = None,
            scope_variant: str | None = None,
            solution_id: str | None = None,
            omit_waba_id: bool = False,
        ) -> dict[str, Any]: ...

    # -- state factories ------------------------------------------------------------------
    def new_business(self, name: str) -> Business:
        business = Business(self.sandbox.ids.digits(16), name)
        self.businesses[business.id] = business
        return business

    def new_waba(self, business_id: str, name: str, app_id: str | None) -> Waba:
        ids = self.sandbox.ids
        waba = Waba(
            ids.digits(15),
            name,
            business_id,
            app_id,
            self.clock.time(),
            namespace=ids.hex(8) + "_" + ids.hex(4) + "_" + ids.hex(4) + "_" + ids.hex(12),
        )
        self.wabas[waba.id] = waba
        return waba

    def new_phone(
        self,
        waba: Waba,
        *,
        number: str | None = None,
        verified_name: str,
        verified: bool = True,
        biz_app: bool = False,
        status: str = "PENDING",
    ) -> PhoneNumber:
        digits = "".join(ch for ch in (number or "") if ch.isdigit()) or self._next_number()
        self.numbers_in_use.add(digits)
        phone = PhoneNumber(
            self.sandbox.ids.digits(15),
            waba.id,
            digits,
            verified_name,
            self.clock.time(),
            status="CONNECTED" if biz_app else status,
            # live value is NOT_VERIFIED (fact sheet §1.7); the spec's enum says UNVERIFIED
            code_verification_status="VERIFIED" if verified or biz_app else "NOT_VERIFIED",
            is_on_biz_app=biz_app,
        )
        if phone.status == "CONNECTED":
            phone.last_onboarded_time = self.clock.time()
        elif self.name_review_seconds > 0:
            phone.name_ready_at = self.clock.time() + self.name_review_seconds
            self.name_reviews[phone.id] = NameReview(verified_name, phone.name_ready_at, True)
        self.phones[phone.id] = phone
        waba.phone_ids.append(phone.id)
        return phone

    def _next_number(self) -> str:
        while True:
            self.number_seq += 1
            digits = f"1555{self.number_seq:07d}"
            if digits not in self.numbers_in_use:
                return digits

    def issue_token(
        self,
        app_id: str,
        waba_ids: list[str],
        business_ids: list[str],
        scope_variant: str | None = None,
    ) -> Token:
        """A business integration system-user token granting these WABAs."""
        management = (
            "whatsapp_business_manage_events"  # the June 2026 variant (fact sheet §1.5)
            if scope_variant == "manage_events"
            else "whatsapp_business_management"
        )
        if scope_variant not in (None, "manage_events", "no_targets"):
            raise ValueError("scope_variant must be manage_events or no_targets")
        token = Token(
            "EAA" + self.sandbox.ids.token(140),
            app_id,
            "SYSTEM_USER",
            self.sandbox.ids.digits(15),
            self.clock.time(),
            waba_ids=list(reversed(waba_ids)),
            business_ids=list(business_ids),
            scopes=["business_management", management, "whatsapp_business_messaging"],
            # mid-2026: debug_token may list no WABA under the WhatsApp scopes (issue 13)
            lists_targets=scope_variant != "no_targets",
        )
        self.tokens[token.value] = token
        return token

    def issue_code(self, app_id: str, token: str, redirect_uri: str | None) -> AuthCode:
        code = AuthCode("AQ" + self.sandbox.ids.token(160), app_id, token, self.clock.time())
        code.redirect_uri = redirect_uri
        self.codes[code.code] = code
        return code
