"""A number's verification and registration after onboarding (issue 17 items 1, 5 and 7).

A run of the ``meta_number_registration`` flow takes one number from "not on the WABA" or
"unverified" to registered for Cloud API, resumably:

1. ``add_number``: a number the WABA does not hold yet (a signup finished with
   ``FINISH_ONLY_WABA``, or a number migrated in from another provider or WABA) is added
   with ``POST /{waba}/phone_numbers``; the WABA's numbers are read first, so a number an
   earlier attempt added (its answer lost) is found, not added twice.
2. ``request_code``: Meta sends a code by SMS or voice. Sent once per run: after a lost
   answer the run does not ask again by itself (a person's "Send a new code" does).
3. ``verify_code``: waits for the code (typed by a person, or captured from the number's
   own inbound SMS when the platform bought it from Twilio), then verifies it.
4. ``register_numbers`` and ``read_numbers``: the onboarding's steps (PIN stored before
   ``/register``, 2388001 waits for the display name, never a repeated register after a
   lost answer).

Meta's pages: Registration (documentation/business-messaging/whatsapp/business-phone-numbers/
registration), phone number verification (.../business-phone-numbers/phone-numbers#verify)
and migration (.../business-phone-numbers/phone-migration).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, runs
from ..db import utcnow
from ..errors import DomainError, Rejected
from ..partners import Provider
from ..phones import digits_of
from ..runs import Flow, ProvisioningRun, RunStatus, StepContext, StepStatus, Wait
from ..tenancy import tenant_select
from . import numbers as graph_numbers
from .models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from .onboarding import graph, read_numbers, register_numbers, token_of

FLOW_NAME = "meta_number_registration"
CODE_METHODS = ("SMS", "VOICE")
CODE_WAIT = dt.timedelta(hours=24)  # look again a day later; a code arriving wakes it at once
# While a code may still arrive (Meta's live 10 minutes), look again often: a code captured
# by a concurrent job while this run was busy is then picked up within seconds.
CODE_LIFETIME = dt.timedelta(minutes=10)
CODE_POLL = dt.timedelta(seconds=10)
CODE_RE = re.compile(r"(?<!\d)(\d{3})[- ]?(\d{3})(?!\d)")
WRONG_CODE = "The code was not accepted by Meta: type the code from the newest message again."


def start(
    session: Session,
    actor: audit.Actor,
    client: MetaWhatsAppClient,
    *,
    phone_number_id: str | None = None,
    number: dict[str, str] | None = None,
    code_method: str = "SMS",
    language: str = "en_US",
    migrate: bool = False,
) -> ProvisioningRun:
    """A registration run for one of ``client``'s numbers (``phone_number_id``) or a number
    to add to its WABA (``number``: ``cc``, ``phone_number``, ``verified_name``). One run
    per number at a time: an unfinished run for it is returned instead."""
    if code_method not in CODE_METHODS:
        raise DomainError("Choose how Meta sends the code: by SMS or by a voice call.")
    key = phone_number_id or _digits(number or {})
    if not key:
        raise DomainError("Give the number's country code and number.")
    earlier = active_run(session, client.company_id, key)
    if earlier is not None:
        return earlier
    context: dict[str, Any] = {
        "waba_id": client.waba_id, "number_key": key, "code_method": code_method,
        "language": language, "migrate": migrate,
        "phone_number_ids": [phone_number_id] if phone_number_id else [],
    }  # fmt: skip
    if number:
        context["number"] = number
    return runs.start_run(
        session, actor, FLOW, client.company_id,
        partner_configuration_id=client.partner_configuration_id, context=context,
    )  # fmt: skip


def active_run(session: Session, company_id: int, key: str) -> ProvisioningRun | None:
    """The company's unfinished registration run for this number (id or digits)."""
    for run in session.scalars(
        tenant_select(ProvisioningRun, company_id).where(
            ProvisioningRun.flow == FLOW_NAME,
            ProvisioningRun.status.in_((*runs.RUNNABLE, RunStatus.FAILED)),
        )
    ):
        if run.context.get("number_key") == key or key in (
            run.context.get("phone_number_ids") or []
        ):
            return run
    return None


def give_code(session: Session, actor: audit.Actor, run: ProvisioningRun, text: str) -> None:
    """The verification code, typed or captured; the run is made runnable again."""
    code = code_in(text)
    if code is None:
        raise DomainError("Type the six digits of the code Meta sent (for example 123456).")
    _require_open(run)
    run.secret_input = {**(run.secret_input or {}), "code": code}
    if run.status is RunStatus.FAILED:
        runs.retry(session, actor, run)
    else:
        run.resume_at = None  # due now
    audit.record(session, actor, "number.code_given", run, label=run.flow)


def resend_code(session: Session, actor: audit.Actor, run: ProvisioningRun, method: str) -> None:
    """A person asks for a new code (the only way a run sends a second one)."""
    if method not in CODE_METHODS:
        raise DomainError("Choose how Meta sends the code: by SMS or by a voice call.")
    _require_open(run)
    for name in ("request_code", "verify_code"):
        step = run.step(name)
        step.status, step.effect_intended_at, step.effect_confirmed_at = (
            StepStatus.PENDING, None, None,
        )  # fmt: skip
        step.clear_error()
    run.context = {**run.context, "code_method": method}
    _forget_code(run)
    if run.status is RunStatus.FAILED:
        runs.retry(session, actor, run)
    else:
        run.status, run.resume_at = RunStatus.STARTED, None
    audit.record(session, actor, "number.code_resent", run, label=run.flow, method=method)


def _require_open(run: ProvisioningRun) -> None:
    if run.flow != FLOW_NAME or run.status.finished:
        raise DomainError("This registration has finished: no code is needed.")


def _forget_code(run: ProvisioningRun) -> None:
    """A code is used once (or refused): it leaves the run's secrets."""
    run.secret_input = {k: v for k, v in (run.secret_input or {}).items() if k != "code"}


def waiting_for_person(run: ProvisioningRun) -> bool:
    """Whether the run waits for a person to type the code (or to ask for a new one)."""
    if run.flow != FLOW_NAME or run.status.finished:
        return False
    step = run.step("verify_code")
    return step.status is StepStatus.WAITING or (
        run.status is RunStatus.FAILED and step.status is StepStatus.FAILED
    )


def code_in(text: str) -> str | None:
    """The six-digit code in what a person typed or what Meta's SMS says ("123-456")."""
    found = CODE_RE.search(text or "")
    return found[1] + found[2] if found else None


def expecting_code(session: Session, e164_digits: str) -> ProvisioningRun | None:
    """The unfinished registration run whose code was (or is being) sent to this number
    (zero-touch capture). A run still inside ``request_code`` counts: Meta's SMS may reach
    the platform before Meta answers the request."""
    stmt = select(ProvisioningRun).where(
        ProvisioningRun.flow == FLOW_NAME, ProvisioningRun.status.in_(runs.RUNNABLE)
    )
    for run in session.scalars(stmt):
        if (
            run.context.get("number_e164") == e164_digits
            and run.step("verify_code").status is not StepStatus.DONE
        ):
            return run
    return None


# -- steps ------------------------------------------------------------------------------------


def add_number(ctx: StepContext) -> None:
    """Put the number on the WABA (once), unless it is there already."""
    context = dict(ctx.run.context)
    client, _ = graph(ctx)
    token = token_of(ctx)
    with client:
        if not context.get("phone_number_ids"):
            number = context.get("number") or {}
            found = graph_numbers.find_number(client, context["waba_id"], token, _digits(number))
            if found is None:
                ctx.intend()
                found = _add(client, context, token, number)
                ctx.done_effect()
            context["phone_number_ids"] = [found]
        phone = client.get(f"/{context['phone_number_ids'][0]}", token, fields=PHONE_FIELDS)
    context["number_e164"] = digits_of(str(phone.get("display_phone_number") or ""))
    ctx.record_ids(phone_number_id=context["phone_number_ids"][0])
    ctx.run.context = context


PHONE_FIELDS = "display_phone_number,code_verification_status,status,name_status"


def _add(client: Any, context: dict[str, Any], token: str, number: dict[str, str]) -> str:
    """Add (or move in) the number; a refused migration says which precondition failed
    and what to do at the old provider, then "Retry" tries again."""
    try:
        return graph_numbers.add_number(
            client, context["waba_id"], token, cc=number["cc"],
            phone_number=number["phone_number"], verified_name=number.get("verified_name", ""),
            migrate=bool(context.get("migrate")),
        )  # fmt: skip
    except graph_numbers.MigrationRefused as exc:
        raise Rejected(
            "meta", exc.explanation, exc.http_status, exc.code, exc.subcode, exc.trace_id
        ) from exc


def request_code(ctx: StepContext) -> None:
    """Ask Meta to send a code, once; a verified number needs none."""
    phone_id, client, token = _phone(ctx)
    with client:
        phone = client.get(f"/{phone_id}", token, fields=PHONE_FIELDS)
        if _verified(phone) or not ctx.intend():
            return  # verified, or asked before (its answer may be lost): no second message
        graph_numbers.request_code(
            client, phone_id, token, method=ctx.run.context.get("code_method", "SMS"),
            language=ctx.run.context.get("language", "en_US"),
        )  # fmt: skip
    ctx.done_effect()


def verify_code(ctx: StepContext) -> None:
    """Verify the code given to the run; wait for one until it is given."""
    phone_id, client, token = _phone(ctx)
    code = (ctx.run.secret_input or {}).get("code")
    with client:
        if _verified(client.get(f"/{phone_id}", token, fields=PHONE_FIELDS)):
            return
        if not code:
            method = "a voice call" if ctx.run.context.get("code_method") == "VOICE" else "SMS"
            number = ctx.run.context.get("number_e164", "")
            raise Wait(
                f"Waiting for the code Meta sent by {method} to +{number}: type it on this page.",
                resume_at=_next_look(ctx),
            )
        try:
            graph_numbers.verify_code(client, phone_id, token, code)
        except Rejected as exc:
            _forget_code(ctx.run)
            raise Wait(f"{WRONG_CODE} ({exc.message})", resume_at=_next_look(ctx)) from exc
    _forget_code(ctx.run)


def _next_look(ctx: StepContext) -> dt.datetime:
    sent = ctx.run.step("request_code").finished_at
    now = utcnow()
    if sent is not None and now - sent < CODE_LIFETIME:  # UTCDateTime: always aware
        return now + CODE_POLL
    return now + CODE_WAIT


def _phone(ctx: StepContext) -> tuple[str, Any, str]:
    ids = ctx.run.context.get("phone_number_ids") or []
    if not ids:
        raise DomainError("The number is not on the WhatsApp account yet: retry the run.")
    client, _ = graph(ctx)
    return ids[0], client, token_of(ctx)


def _verified(phone: dict[str, Any]) -> bool:
    return phone.get("code_verification_status") == "VERIFIED" or phone.get("status") == "CONNECTED"


def _digits(number: dict[str, str]) -> str:
    return digits_of(f"{number.get('cc', '')}{number.get('phone_number', '')}")


FLOW = runs.register_flow(
    Flow(
        name=FLOW_NAME,
        provider=Provider.META,
        steps=(
            ("add_number", add_number),
            ("request_code", request_code),
            ("verify_code", verify_code),
            ("register_numbers", register_numbers),
            ("read_numbers", read_numbers),
        ),
    )
)


def registered_row(session: Session, run: ProvisioningRun) -> MetaWhatsAppPhoneNumber | None:
    ids = run.context.get("phone_number_ids") or []
    if not ids:
        return None
    return session.scalars(
        tenant_select(MetaWhatsAppPhoneNumber, run.company_id).where(
            MetaWhatsAppPhoneNumber.phone_number_id == ids[0]
        )
    ).one_or_none()
