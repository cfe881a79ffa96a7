"""What a browser onboarding sends back, checked before any run starts.

Embedded Signup answers with a code and a ``WA_EMBEDDED_SIGNUP`` event (fact sheet §1.3).
A finish starts a provisioning run; a cancel or an error is recorded as a finished run
so that the company (and support) can see where and why it stopped.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from . import audit, runs
from .db import utcnow
from .errors import DomainError
from .meta.onboarding import EMBEDDED_SIGNUP, FINISH_EVENTS, UNSUPPORTED_FINISHES
from .partners import PartnerConfiguration


def record_embedded_signup(
    session: Session,
    actor: audit.Actor,
    company_id: int,
    config: PartnerConfiguration,
    *,
    code: str | None,
    event: dict[str, Any] | None,
    state_nonce: str,
) -> runs.ProvisioningRun:
    """Start the signup's run, or record why the person did not finish."""
    event = event if isinstance(event, dict) else {}
    kind = str(event.get("event") or "")
    if event and event.get("type") != "WA_EMBEDDED_SIGNUP":
        raise DomainError("The signup sent an unexpected message.")
    if kind in UNSUPPORTED_FINISHES:
        raise DomainError(UNSUPPORTED_FINISHES[kind])
    if kind not in FINISH_EVENTS and kind not in ("CANCEL", "ERROR", ""):
        raise DomainError(f"The signup finished in an unknown way ({kind}).")
    if not code and kind not in ("CANCEL", "ERROR"):
        raise DomainError("The signup returned no authorization code. Please try again.")
    run = runs.start_run(
        session,
        actor,
        EMBEDDED_SIGNUP,
        company_id,
        partner_configuration_id=config.id,
        context={"event": event},
        secret_input={"code": code} if code and kind not in ("CANCEL", "ERROR") else None,
        state_nonce=state_nonce,
    )
    if kind in ("CANCEL", "ERROR"):
        data = event.get("data") or {}
        if data.get("current_step"):
            reason = f"Cancelled at the step {data['current_step']}."
        else:
            reason = (
                f"Meta reported an error: {data.get('error_message') or 'unknown'} "
                f"(code {data.get('error_code') or '-'}, session {data.get('session_id') or '-'})."
            )
        run.status = runs.RunStatus.CANCELLED if kind == "CANCEL" else runs.RunStatus.FAILED
        run.error_message, run.finished_at = reason, utcnow()
    return run
