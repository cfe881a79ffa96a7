"""360dialog channel states in plain words (Partner API v2; docs/providers-2026.md).

The channel ``status`` is an open set: the Partner API v2 reference describes created,
unverified and verified; the lifecycle webhooks add submitted, ready and running; older
clients list more. Unknown values are shown as 360dialog sent them.
"""

from __future__ import annotations

STATES = {
    "created": "Onboarding started.",
    "submitted": "Submitted to Meta.",
    "unverified": "Submitted to Meta; the display name awaits verification.",
    "verified": "Meta verified the display name.",
    "new_name_requested": "A new display name awaits Meta's review.",
    "certificate_declined": "Meta declined the display name: change it in the 360dialog hub.",
    "ready": "Ready to be registered.",
    "running": "Live: the number sends and receives messages.",
    "live": "Live: the number sends and receives messages.",
    "error": "360dialog reports an error with this number: see the 360dialog hub.",
    "account_violation": "Meta found a policy violation: messaging may be restricted.",
    "account_restriction": "Meta restricted the account: business-initiated messaging is "
    "blocked for now.",
}
TEMPLATE_MESSAGING = {
    None: "Not reported by 360dialog yet.",
    True: "Enabled: the number may send template (business-initiated) messages.",
    False: "Disabled: the number cannot send template messages until 360dialog enables it.",
}


def describe(status: str | None) -> str:
    return STATES.get((status or "").lower(), f"360dialog reports {status or 'no status'}.")
