"""Control actions (``POST /_sandbox/meta/<action>`` or ``sandbox.meta.control_<action>``)."""

from __future__ import annotations

from typing import Any

from .base import MetaBase
from .state import (
    PORTFOLIO_TIERS,
    QUALITY_RATINGS,
    THROUGHPUT_EVENTS,
    App,
    Token,
    ban_date,
)
from .templates import CATEGORIES, REJECTION_REASONS, validated_components

PARTNER_EVENTS = ("PARTNER_ADDED", "PARTNER_REMOVED", "PARTNER_APP_INSTALLED",
                  "PARTNER_APP_UNINSTALLED")  # fmt: skip


class ControlMixin(MetaBase):
    """Seeding, state changes that emit webhooks, and delivery/fault knobs."""

    def control_seed_app(
        self,
        *,
        app_id: str | None = None,
        app_secret: str | None = None,
        name: str = "Sandbox Partner App",
        webhook_url: str | None = None,
        verify_token: str | None = None,
        fields: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create (or update) the partner app; returns its ids, app token and the partner's
        admin system-user token (access to every WABA shared with the app)."""
        ids = self.sandbox.ids
        app_id = app_id or ids.digits(16)
        app = self.apps.get(app_id)
        if app is None:
            user_id = ids.digits(15)
            app = App(app_id, app_secret or ids.hex(32), name)
            app.system_user_id = user_id
            app.system_user_token = "EAA" + ids.token(140)
            self.tokens[app.system_user_token] = Token(
                app.system_user_token,
                app_id,
                "SYSTEM_USER",
                user_id,
                self.clock.time(),
                scopes=[
                    "business_management",
                    "whatsapp_business_management",
                    "whatsapp_business_messaging",
                ],
                all_partner_wabas=True,
            )
            self.apps[app_id] = app
        if app_secret:
            app.secret = app_secret
        app.name = name or app.name
        if webhook_url is not None:
            app.webhook_url = webhook_url
        if verify_token is not None:
            app.verify_token = verify_token
        if fields is not None:
            app.fields = set(fields)
        return {
            "app_id": app.app_id,
            "app_secret": app.secret,
            "app_token": f"{app.app_id}|{app.secret}",
            "system_user_id": app.system_user_id,
            "system_user_token": app.system_user_token,
            "webhook_url": app.webhook_url,
            "fields": sorted(app.fields),
        }

    def control_seed_waba(
        self,
        *,
        app_id: str,
        numbers: int = 1,
        business_name: str = "Sandbox Customer Business",
        waba_name: str | None = None,
        status: str = "PENDING",
        subscribe: bool = False,
        verified: bool = True,
        pin: str | None = None,
        scope_variant: str | None = None,
    ) -> dict[str, Any]:
        """A business + WABA with ``numbers`` phone numbers shared with ``app_id``, without
        the popup or webhooks (fast: for tests and fleet benchmarks). Returns the ids and a
        business token granting the WABA."""
        if app_id not in self.apps:
            raise LookupError(f"unknown app {app_id}; call seed_app first")
        business = self.new_business(business_name)
        waba = self.new_waba(business.id, waba_name or f"{business_name} WABA", app_id)
        phones = [
            self.new_phone(waba, verified_name=business_name, verified=verified, status=status)
            for _ in range(numbers)
        ]
        for phone in phones:
            phone.pin = pin if pin is not None else phone.pin
        if subscribe:
            waba.subscribed_apps[app_id] = None
        token = self.issue_token(app_id, [waba.id], [business.id], scope_variant)
        return {
            "business_id": business.id,
            "waba_id": waba.id,
            "phone_number_ids": [p.id for p in phones],
            "display_phone_numbers": [p.number for p in phones],
            "access_token": token.value,
        }

    def control_complete_signup(self, *, app_id: str, **choices: Any) -> dict[str, Any]:
        """Do what the ES popup does. ``flow``: FINISH (default), FINISH_ONLY_WABA,
        FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING, CANCEL, ERROR_CANCEL or ERROR; optional
        business_id/business_name, waba_id/waba_name, phone_number_id/phone_number,
        verified_name, verified, redirect_uri, current_step, scope_variant
        ("manage_events"), solution_id. Returns code, event, message (the JSON string the
        popup posts), auth_response and the ids."""
        return self.finish_signup(app_id=app_id, **choices)

    def control_set_quality(self, *, phone_number_id: str, quality_rating: str) -> dict[str, Any]:
        """Change a number's quality rating. Meta sends no webhook for it today:
        phone_number_quality_update is a throughput event (M-wh/phone_number_quality_update),
        so the change is learnt from Graph (the number's ``quality_rating`` and its
        ``health_status``, where RED makes the number LIMITED)."""
        if quality_rating not in QUALITY_RATINGS:
            raise ValueError(f"quality_rating must be one of {', '.join(QUALITY_RATINGS)}")
        phone = self.phones[phone_number_id]
        phone.quality_rating = quality_rating
        return {"phone_number_id": phone.id, "quality_rating": quality_rating, "sent": []}

    def control_set_portfolio_limit(self, *, business_id: str, tier: str) -> dict[str, Any]:
        """Change a business portfolio's messaging limit, shared by every number of its
        WABAs (M-limits); each WABA's subscribers get business_capability_update with the
        tier in ``max_daily_conversations_per_business``."""
        if tier not in PORTFOLIO_TIERS:
            raise ValueError(f"tier must be one of {', '.join(PORTFOLIO_TIERS)}")
        business = self.businesses[business_id]
        business.messaging_limit = tier
        value = {"max_daily_conversations_per_business": tier, "max_phone_numbers_per_waba": 25}
        sent: list[dict[str, Any]] = []
        for waba in [w for w in self.wabas.values() if w.business_id == business_id]:
            sent += self.emit_webhook(waba.id, "business_capability_update", dict(value))
        return {"business_id": business_id, "tier": tier, "sent": sent}

    def control_set_messaging_limit(self, *, phone_number_id: str, tier: str) -> dict[str, Any]:
        """The limit of the portfolio that owns this number (limits are per portfolio)."""
        business_id = self.wabas[self.phones[phone_number_id].waba_id].business_id
        return self.control_set_portfolio_limit(business_id=business_id, tier=tier)

    def control_set_throughput(
        self, *, phone_number_id: str, event: str = "THROUGHPUT_UPGRADE"
    ) -> dict[str, Any]:
        """phone_number_quality_update as Meta sends it today: ``event`` ONBOARDING or
        THROUGHPUT_UPGRADE, ``max_daily_conversations_per_business`` a ``TIER_*`` string
        (TIER_UNLIMITED for higher throughput), no ``current_limit`` (removed Feb 2026)."""
        if event not in THROUGHPUT_EVENTS:
            raise ValueError(f"event must be one of {', '.join(THROUGHPUT_EVENTS)}")
        phone = self.phones[phone_number_id]
        business = self.businesses[self.wabas[phone.waba_id].business_id]
        if event == "THROUGHPUT_UPGRADE":
            phone.throughput_level = "HIGH"
            tier = "TIER_UNLIMITED"
        else:
            tier = business.messaging_limit
        # management webhooks carry the bare display number, not the id (fact sheet §2.3)
        value = {
            "display_phone_number": phone.number,
            "event": event,
            "max_daily_conversations_per_business": tier,
        }
        sent = self.emit_webhook(phone.waba_id, "phone_number_quality_update", value)
        return {"phone_number_id": phone.id, "event": event, "sent": sent}

    def control_set_name_review(self, *, seconds: float = 0.0) -> dict[str, Any]:
        """Numbers added from now on have their display name under review for ``seconds``
        (``name_status`` PENDING_REVIEW; ``/register`` answers 2388001 until then)."""
        self.name_review_seconds = float(seconds)
        return {"seconds": self.name_review_seconds}

    def control_partner_event(
        self, *, waba_id: str, event: str = "PARTNER_REMOVED"
    ) -> dict[str, Any]:
        """The customer removes the partner (PARTNER_REMOVED: the WABA is unshared) or
        uninstalls the app (PARTNER_APP_UNINSTALLED: its permissions are revoked), or shares
        again (PARTNER_ADDED). Keyed by the business, the WABA in ``waba_info``
        (M-wh/account_update). Removal revokes every token of the customer for the app."""
        if event not in PARTNER_EVENTS:
            raise ValueError(f"event must be one of {', '.join(PARTNER_EVENTS)}")
        waba = self.wabas[waba_id]
        app_id = waba.partner_app_id
        info = {"waba_id": waba.id, "owner_business_id": waba.business_id}
        if event in ("PARTNER_APP_INSTALLED", "PARTNER_APP_UNINSTALLED") and app_id:
            info["partner_app_id"] = app_id
        # deliver first: a removed partner's app stops being a destination afterwards
        sent = self.emit_webhook(
            waba.id, "account_update", {"event": event, "waba_info": info},
            entry_id=waba.business_id,
        )  # fmt: skip
        if event in ("PARTNER_REMOVED", "PARTNER_APP_UNINSTALLED"):
            for token in self.tokens.values():
                if waba.id in token.waba_ids and token.app_id == app_id:
                    token.revoked = True
            waba.subscribed_apps.pop(app_id or "", None)
            if event == "PARTNER_REMOVED":
                waba.partner_app_id = None
        elif app_id is None and event == "PARTNER_ADDED":
            waba.partner_app_id = next(iter(self.apps), None)
        return {"waba_id": waba_id, "business_id": waba.business_id, "sent": sent}

    def control_offboard(self, *, waba_id: str, reconnect: bool = False) -> dict[str, Any]:
        """account_update ACCOUNT_OFFBOARDED (a device change or re-registration) or, with
        ``reconnect``, ACCOUNT_RECONNECTED."""
        event = "ACCOUNT_RECONNECTED" if reconnect else "ACCOUNT_OFFBOARDED"
        return {"sent": self.emit_webhook(waba_id, "account_update", {"event": event})}

    def control_account_alert(
        self,
        *,
        waba_id: str,
        entity_type: str = "PHONE_NUMBER",
        entity_id: str | None = None,
        severity: str = "WARNING",
        alert_type: str = "INCREASED_CAPABILITIES_ELIGIBILITY",
        description: str = "Your business is eligible for higher messaging limits.",
    ) -> dict[str, Any]:
        """account_alerts (fact sheet §2.4): an alert about a number or the business."""
        waba = self.wabas[waba_id]
        default = waba.phone_ids[0] if entity_type == "PHONE_NUMBER" else waba.business_id
        value = {
            "entity_type": entity_type,
            "entity_id": entity_id or default,
            "alert_info": {
                "alert_severity": severity,
                "alert_status": "ACTIVE",
                "alert_type": alert_type,
                "alert_description": description,
            },
        }
        return {"sent": self.emit_webhook(waba_id, "account_alerts", value)}

    def control_security_event(
        self, *, phone_number_id: str, event: str = "PIN_CHANGED", requester: str | None = None
    ) -> dict[str, Any]:
        """The ``security`` field: the number's two-step verification PIN was changed (or a
        reset was asked for). A changed PIN is no longer the one the platform stored."""
        phone = self.phones[phone_number_id]
        if event == "PIN_CHANGED":
            phone.pin = self.sandbox.ids.digits(6)
        value: dict[str, Any] = {"display_phone_number": phone.number, "event": event}
        if requester:
            value["requester"] = requester
        return {"sent": self.emit_webhook(phone.waba_id, "security", value, phone.id)}

    def control_inbound_message(
        self,
        *,
        phone_number_id: str,
        text: str = "Hello",
        name: str = "Ana",
        wa_id: str | None = "15550009999",
        username: str | None = None,
    ) -> dict[str, Any]:
        """A customer's text message (the ``messages`` field). ``contacts[].user_id`` and
        ``messages[].from_user_id`` are the business-scoped user id Meta adds to every
        message (2026); for a user with a username ``wa_id`` (the phone number) may be
        absent (wa_id=None), and ``from`` then carries the user id."""
        phone = self.phones[phone_number_id]
        ids = self.sandbox.ids
        user_id = f"US.{ids.digits(16)}"
        profile: dict[str, Any] = {"name": name}
        if username:
            profile["username"] = username
        contact: dict[str, Any] = {"profile": profile, "user_id": user_id}
        if wa_id:
            contact["wa_id"] = wa_id
        message = {
            "from": wa_id or user_id,
            "from_user_id": user_id,
            "id": "wamid." + ids.token(40),
            "timestamp": str(int(self.clock.time())),
            "type": "text",
            "text": {"body": text},
        }
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": phone.number, "phone_number_id": phone.id},
            "contacts": [contact],
            "messages": [message],
        }
        sent = self.emit_webhook(phone.waba_id, "messages", value, phone.id)
        return {"user_id": user_id, "message_id": message["id"], "sent": sent}

    def control_message_status(
        self,
        *,
        phone_number_id: str,
        message_id: str | None = None,
        status: str = "delivered",
        recipient: str | None = "15550009999",
        user_id: str | None = None,
        error_code: int = 131026,
    ) -> dict[str, Any]:
        """The status of a message the number sent (the ``messages`` field, ``statuses``):
        ``recipient_id`` (the phone number, absent for a user reached by user id only),
        ``recipient_user_id`` and the contact; a ``failed`` one carries ``errors`` and no
        contact (M-wh/messages status)."""
        phone = self.phones[phone_number_id]
        ids = self.sandbox.ids
        user_id = user_id or f"US.{ids.digits(16)}"
        item: dict[str, Any] = {
            "id": message_id or "wamid." + ids.token(40),
            "status": status,
            "timestamp": str(int(self.clock.time())),
            "recipient_user_id": user_id,
        }
        if recipient:
            item["recipient_id"] = recipient
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": phone.number, "phone_number_id": phone.id},
        }
        if status == "failed":
            item["errors"] = [{
                "code": error_code, "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Message failed to send."},
            }]  # fmt: skip
        else:
            contact: dict[str, Any] = {"profile": {"name": "Ana"}, "user_id": user_id}
            if recipient:
                contact["wa_id"] = recipient
            value["contacts"] = [contact]
            item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "utility",
                               "type": "regular"}  # fmt: skip
        value["statuses"] = [item]
        sent = self.emit_webhook(phone.waba_id, "messages", value, phone.id)
        return {"message_id": item["id"], "status": status, "sent": sent}

    def control_ban_waba(
        self, *, waba_id: str, state: str = "DISABLE", date: str | None = None
    ) -> dict[str, Any]:
        """account_update DISABLED_UPDATE with ban_info (SCHEDULE_FOR_DISABLE, DISABLE or
        REINSTATE); DISABLE bans the numbers, REINSTATE restores them."""
        waba = self.wabas[waba_id]
        waba.ban_state, waba.ban_date = state, date or ban_date(self.clock.time())
        for phone_id in waba.phone_ids:
            phone = self.phones[phone_id]
            if state == "DISABLE":
                phone.status = "BANNED"
            elif state == "REINSTATE" and phone.status == "BANNED":
                phone.status = "CONNECTED" if phone.pin else "PENDING"
        info = {"waba_ban_state": state, "waba_ban_date": waba.ban_date}
        sent = self.emit_webhook(
            waba_id, "account_update", {"event": "DISABLED_UPDATE", "ban_info": info}
        )
        return {"waba_id": waba_id, "ban_info": info, "sent": sent}

    control_disable = control_ban_waba

    def control_restrict_waba(
        self,
        *,
        waba_id: str,
        restriction_type: str = "RESTRICTED_BIZ_INITIATED_MESSAGING",
        expiration: int | None = None,
        clear: bool = False,
    ) -> dict[str, Any]:
        """account_update ACCOUNT_RESTRICTION with restriction_info (``clear`` lifts all)."""
        waba = self.wabas[waba_id]
        if clear:
            waba.restrictions = []
        else:
            expires = expiration or int(self.clock.time()) + 7 * 86400
            waba.restrictions.append({"restriction_type": restriction_type, "expiration": expires})
        value = {"event": "ACCOUNT_RESTRICTION", "restriction_info": list(waba.restrictions)}
        return {"waba_id": waba_id, "sent": self.emit_webhook(waba_id, "account_update", value)}

    def control_violation(self, *, waba_id: str, violation_type: str = "SPAM") -> dict[str, Any]:
        """account_update ACCOUNT_VIOLATION with violation_info."""
        value = {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": violation_type}}
        return {"waba_id": waba_id, "sent": self.emit_webhook(waba_id, "account_update", value)}

    def control_revoke_token(self, *, token: str) -> dict[str, Any]:
        """Invalidate a token: every later call with it fails with 190/460."""
        self.tokens[token].revoked = True
        return {"revoked": True}

    def control_emit(
        self,
        *,
        waba_id: str,
        field: str,
        value: dict[str, Any],
        phone_number_id: str | None = None,
    ) -> dict[str, Any]:
        """Send any webhook field with any value (routed and signed like the others)."""
        sent = self.emit_webhook(waba_id, field, value, phone_number_id)
        return {"sent": sent}

    def control_set_call_budget(
        self, *, waba_id: str, calls: int | None, window_seconds: float = 3600.0
    ) -> dict[str, Any]:
        """Enforce a management-call budget on a WABA (error 80007 past it); None removes."""
        waba = self.wabas[waba_id]
        waba.call_budget, waba.budget_window, waba.calls = calls, window_seconds, []
        return {"waba_id": waba_id, "calls": calls, "window_seconds": window_seconds}

    # -- message templates (the part: templates.TemplatesMixin) -------------------------------
    # ``which`` names one template: template_id, or waba_id and name (and language).
    def control_set_template_review(self, *, seconds: float = 30.0) -> dict[str, Any]:
        """Templates created from now on are decided ``seconds`` later, on the clock."""
        self.template_review_seconds = float(seconds)
        return {"seconds": self.template_review_seconds}

    def control_set_template_cap(self, *, per_hour: int | None = 100) -> dict[str, Any]:
        """Creations a WABA may make per hour (Meta: 100; None: no cap)."""
        self.template_hourly_cap = per_hour
        return {"per_hour": per_hour}

    def control_reject_template(
        self, *, name: str, reason: str = "INVALID_FORMAT"
    ) -> dict[str, Any]:
        """The next review of a template of this name rejects it with ``reason``."""
        if reason not in REJECTION_REASONS:
            raise ValueError(f"reason must be one of {', '.join(REJECTION_REASONS)}")
        self.template_rejections[name] = reason
        return {"name": name, "reason": reason}

    def control_review_template(
        self, *, decision: str = "APPROVED", reason: str | None = None, **which: str
    ) -> dict[str, Any]:
        """Decide a template's review now: APPROVED, or REJECTED with ``reason``."""
        template = self.find_template(**which)
        sent = self.review_template(template, decision, reason)
        return {"template_id": template.id, "status": template.status, "sent": sent}

    def control_approve_template(self, **which: str) -> dict[str, Any]:
        return self.control_review_template(decision="APPROVED", **which)

    def control_pause_template(self, **which: str) -> dict[str, Any]:
        """Low quality: quality RED, then PAUSED (a third pause disables the template)."""
        template = self.find_template(**which)
        sent = self.pause_template(template)
        return {"template_id": template.id, "status": template.status, "sent": sent}

    def control_disable_template(self, **which: str) -> dict[str, Any]:
        template = self.find_template(**which)
        return {"template_id": template.id, "sent": self.disable_template(template)}

    def control_set_template_quality(self, *, score: str, **which: str) -> dict[str, Any]:
        """GREEN, YELLOW, RED or UNKNOWN, told with message_template_quality_update."""
        template = self.find_template(**which)
        return {"template_id": template.id, "sent": self.set_template_quality(template, score)}

    def control_recategorise_template(
        self, *, category: str, complete: bool = False, **which: str
    ) -> dict[str, Any]:
        """Announce a new category (applied 24 h later on the clock) or, with ``complete``,
        apply it now."""
        template = self.find_template(**which)
        sent = self.recategorise_template(template, category, complete=complete)
        return {"template_id": template.id, "category": template.category, "sent": sent}

    def control_update_template_components(
        self,
        *,
        body: str | None = None,
        header: str | None = None,
        footer: str | None = None,
        buttons: list[dict[str, Any]] | None = None,
        **which: str,
    ) -> dict[str, Any]:
        """Edit the body, the text header, the footer or the buttons (Meta's listing shape:
        ``{"type": "URL", "text": ..., "url": ...}``); the rest of the template stays."""
        template = self.find_template(**which)
        given = {"BODY": body, "HEADER": header, "FOOTER": footer}
        components = []
        for component in template.components:
            kind = component["type"]
            if kind in given and given[kind] is not None:
                component = {**component, "text": given.pop(kind)}
            elif kind == "BUTTONS" and buttons is not None:
                component, buttons = {**component, "buttons": buttons}, None
            components.append(component)
        for kind, text in given.items():
            if text is not None:
                extra = {"format": "TEXT"} if kind == "HEADER" else {}
                components.append({"type": kind, **extra, "text": text})
        if buttons is not None:
            components.append({"type": "BUTTONS", "buttons": buttons})
        sent = self.update_template_components(template, validated_components(components))
        return {"template_id": template.id, "sent": sent}

    def control_seed_templates(
        self,
        *,
        waba_id: str,
        count: int = 250,
        status: str = "APPROVED",
        category: str = "UTILITY",
        language: str = "en_US",
        prefix: str = "seeded",
    ) -> dict[str, Any]:
        """Add ``count`` templates to a WABA directly, without webhooks (cheap: for tests and
        fleet benchmarks). PENDING ones are reviewed on the clock like created ones."""
        if category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        waba, now = self.wabas[waba_id], self.clock.time()
        first = len(waba.template_ids)
        quality = "GREEN" if status == "APPROVED" else "UNKNOWN"
        block = self.sandbox.ids.digits(11)  # ids drawn once per call: seeding stays cheap
        example = {"body_text": [["Ana"]]}  # shared: components are replaced, never edited
        ids = []
        for i in range(first, first + count):
            body = {"type": "BODY", "text": f"Hello {{{{1}}}}, update {i}.", "example": example}
            template = self.new_template(
                waba, f"{prefix}_{i:05d}", language, f"{block}{i % 100_000:05d}",
                category=category, components=[body], status=status, quality_score=quality,
                created=now, quality_date=now,
            )  # fmt: skip
            if status == "PENDING":
                self.template_reviews[template.id] = now + self.template_review_seconds
            ids.append(template.id)
        return {"waba_id": waba_id, "count": count, "template_ids": ids}

    def control_add_malformed_template(
        self, *, waba_id: str, raw: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A listing item served as it is (default: no language, no category, components
        not a list), for tests of what a client skips."""
        fresh = self.sandbox.ids.digits(16)
        raw = raw or {"id": fresh, "name": "malformed_template", "status": "APPROVED",
                      "components": "BODY"}  # fmt: skip
        template_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        template = self.new_template(
            self.wabas[waba_id], str(raw.get("name") or ""), "",
            fresh if not template_id or template_id in self.templates else template_id, raw=raw,
        )  # fmt: skip
        return {"template_id": template.id, "raw": raw}

    def control_set_delivery(
        self, *, duplicate: bool = False, reorder: bool = False
    ) -> dict[str, Any]:
        """Duplicate every webhook, and/or hold each back until the next one (reordering)."""
        self.delivery.update(duplicate=duplicate, reorder=reorder)
        if not reorder:
            self.flush_held(newest_first=False)
        return dict(self.delivery)

    def control_flush_webhooks(self) -> dict[str, Any]:
        """Send webhooks held back by ``reorder``."""
        return {"sent": self.flush_held()}

    def control_set_fault_codes(
        self, *, throttle: int = 4, server_error: int = 2, signup_order: str | None = None
    ) -> dict[str, Any]:
        """Which code the throttle (4/80007/80008/130429) and server_error (1/2) faults use;
        optionally the popup's default order (message_first or code_first)."""
        self.fault_codes = {"throttle": throttle, "server_error": server_error}
        if signup_order:
            self.signup_order = signup_order
        return {**self.fault_codes, "signup_order": self.signup_order}
