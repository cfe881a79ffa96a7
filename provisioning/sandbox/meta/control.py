"""Control actions (``POST /_sandbox/meta/<action>`` or ``sandbox.meta.control_<action>``)."""

from __future__ import annotations

from typing import Any

from .state import QUALITY_RATINGS, TIER_LIMITS, App, Token


class ControlMixin:
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

    def control_set_quality(
        self, *, phone_number_id: str, quality_rating: str, shape: str = "both"
    ) -> dict[str, Any]:
        """Change a number's quality; emits phone_number_quality_update (FLAGGED on YELLOW or
        RED, UNFLAGGED back to GREEN) in the legacy and/or current shape."""
        if quality_rating not in QUALITY_RATINGS:
            raise ValueError(f"quality_rating must be one of {', '.join(QUALITY_RATINGS)}")
        phone = self.phones[phone_number_id]
        old, phone.quality_rating = phone.quality_rating, quality_rating
        event = None
        if quality_rating in ("YELLOW", "RED") and old != quality_rating:
            event = "FLAGGED"
        elif quality_rating == "GREEN" and old in ("YELLOW", "RED"):
            event = "UNFLAGGED"
        sent: list[dict[str, Any]] = []
        if event:
            sent = self._quality_update(phone, event, None, shape)
        return {"phone_number_id": phone.id, "quality_rating": quality_rating, "sent": sent}

    def control_set_messaging_limit(
        self, *, phone_number_id: str, tier: str, shape: str = "both"
    ) -> dict[str, Any]:
        """Change the messaging limit; emits phone_number_quality_update UPGRADE/DOWNGRADE
        (legacy: current_limit; current: old_limit + max_daily_conversations_per_business)
        and, in the current shape, business_capability_update."""
        if tier not in TIER_LIMITS:
            raise ValueError(f"tier must be one of {', '.join(TIER_LIMITS)}")
        phone = self.phones[phone_number_id]
        old, phone.messaging_limit = phone.messaging_limit, tier
        rank = list(TIER_LIMITS)
        event = "UPGRADE" if rank.index(tier) > rank.index(old) else "DOWNGRADE"
        sent = self._quality_update(phone, event, old, shape)
        if shape in ("current", "both"):
            sent += self.emit_webhook(
                phone.waba_id,
                "business_capability_update",
                {
                    "max_daily_conversation_per_phone": TIER_LIMITS[tier],
                    "max_daily_conversations_per_business": TIER_LIMITS[tier],
                    "max_phone_numbers_per_business": 25,
                },
            )
        return {"phone_number_id": phone.id, "tier": tier, "sent": sent}

    def _quality_update(
        self, phone: Any, event: str, old_limit: str | None, shape: str
    ) -> list[dict[str, Any]]:
        if shape not in ("legacy", "current", "both"):
            raise ValueError("shape must be legacy, current or both")
        # management webhooks carry the bare display number, not the id (fact sheet §2.3)
        base = {"display_phone_number": phone.number, "event": event}
        sent = []
        if shape in ("legacy", "both"):
            value = {**base, "current_limit": phone.messaging_limit}
            sent += self.emit_webhook(phone.waba_id, "phone_number_quality_update", value)
        if shape in ("current", "both"):
            value = dict(base)
            if old_limit:
                value["old_limit"] = old_limit
            value["current_limit"] = phone.messaging_limit
            value["max_daily_conversations_per_business"] = TIER_LIMITS[phone.messaging_limit]
            sent += self.emit_webhook(phone.waba_id, "phone_number_quality_update", value)
        return sent

    def control_ban_waba(
        self, *, waba_id: str, state: str = "DISABLE", date: str | None = None
    ) -> dict[str, Any]:
        """account_update DISABLED_UPDATE with ban_info (SCHEDULE_FOR_DISABLE, DISABLE or
        REINSTATE); DISABLE bans the numbers, REINSTATE restores them."""
        waba = self.wabas[waba_id]
        waba.ban_state, waba.ban_date = state, date or self.clock.now().strftime("%Y-%m-%d")
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
