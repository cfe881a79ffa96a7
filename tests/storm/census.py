"""The storm's census: what the providers hold, counted from the sandbox's own state.

Every finding is a list of what was found (one line per object too many), and each must
be empty after a storm. Provider objects are counted in the sandbox; the portal's
database is read only where the question is about the portal (which 360dialog key losses
it recorded, which runs have not ended, what a failed run says).

Duplicates: objects of one kind beyond the first with the same identity. The identity is
what the portal creates the object for, and finds it again by after a lost answer:

- Twilio subaccount: the company (its friendly name ``Name [public id]``);
- number: the E.164 number; sender: ``whatsapp:+E.164`` in its account;
- TrustHub customer profile, trust product: account, policy and friendly name; end user,
  supporting document: account, type and friendly name; entity assignment: the bundle and
  the object assigned; address: account and friendly name;
- Messaging Service: account and friendly name; Event Streams sink: account, description
  and destination; subscription: account and description;
- brand: the customer profile it registers; campaign: the brand it belongs to.

360dialog keys: every key 360dialog made for a channel is either the key the portal
holds, or one the portal recorded as lost (its id, listed after the request whose answer
was lost, kept on the run's key step) and then replaced once. Any other key is a *blind
regeneration*: a request the portal made without knowing it had already got a key (it
revoked that key). A stored key that 360dialog has revoked is counted too.

Meta: register calls that reached Meta, beyond the first, per number (Meta's own
register counter, which the 10-per-72-hours limit is kept on; faults that never reached
Meta are not in it).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.dialog360.models import Dialog360Channel
from provisioning.dialog360.onboarding import KEY_REQUESTS
from provisioning.events import WebhookEvent
from provisioning.runs import RUNNABLE, ProvisioningRun, ProvisioningStep, RunStatus
from provisioning.sandbox import Sandbox

UNCLEAR = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r"^\s*\w+(Error|Exception|Timeout)\b"),  # an exception's name first
    re.compile(r"\w+\(['\"].*['\"]\)\s*$"),  # an exception's repr
    re.compile(r" object at 0x[0-9a-f]+"),
)
TRACE = re.compile(r" · trace \S+")
EXCEPTION_NAME = re.compile(r"\w*(Error|Exception|Timeout|Exceeded)")


@dataclass
class Census:
    findings: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(found) for name, found in self.findings.items()}

    def table(self) -> str:
        width = max(len(name) for name in [*self.findings, *self.facts])
        lines = [f"{name:<{width}}  {len(found)}" for name, found in self.findings.items()]
        lines += [f"{name:<{width}}  {value}" for name, value in self.facts.items()]
        return "\n".join(lines)

    def problems(self, limit: int = 5) -> str:
        """What was found, a few lines per finding (for an assertion's message)."""
        return "\n".join(
            f"{name}: " + "; ".join(found[:limit]) for name, found in self.findings.items() if found
        )


def extras(
    items: Iterable[dict[str, Any]], identity: Callable[[dict], Any], what: str
) -> list[str]:
    """One line per object beyond the first with the same identity."""
    groups: dict[Any, list[str]] = defaultdict(list)
    for item in items:
        groups[identity(item)].append(item["sid"])
    return [f"{what} {sid} repeats {key}" for key, sids in groups.items() for sid in sids[1:]]


def twilio_duplicates(sandbox: Sandbox) -> dict[str, list[str]]:
    t = sandbox.twilio
    subaccounts = [a for a in t.accounts.values() if a["owner_account_sid"] != a["sid"]]
    profiles = [p for p in t.profiles.values() if not p.get("_isv")]
    return {
        "twilio subaccounts": extras(subaccounts, lambda a: a["friendly_name"], "subaccount"),
        "twilio numbers": extras(t.numbers.values(), lambda n: n["phone_number"], "number"),
        "twilio senders": extras(
            t.senders.values(), lambda s: (s["_account"], s["sender_id"]), "sender"
        ),
        "trusthub customer profiles": extras(profiles, _bundle_identity, "customer profile"),
        "trusthub trust products": extras(t.trust_products.values(), _bundle_identity, "product"),
        "trusthub end users": extras(t.end_users.values(), _item_identity, "end user"),
        "trusthub supporting documents": extras(
            t.documents_store.values(), _item_identity, "document"
        ),
        "trusthub entity assignments": extras(
            t.assignments_store.values(),
            lambda a: (
                a.get("customer_profile_sid") or a.get("trust_product_sid"),
                a["object_sid"],
            ),
            "assignment",
        ),
        "addresses": extras(
            t.addresses_store.values(), lambda a: (a["account_sid"], a["friendly_name"]), "address"
        ),
        "messaging services": extras(
            t.services.values(), lambda s: (s["account_sid"], s["friendly_name"]), "service"
        ),
        "event sinks": extras(
            t.sinks.values(),
            lambda s: (s["_account"], s["description"], str(s["sink_configuration"])),
            "sink",
        ),
        "event subscriptions": extras(
            t.subscriptions_store.values(), lambda s: (s["_account"], s["description"]), "subscr."
        ),
        "a2p brands": extras(
            t.brands.values(), lambda b: b["customer_profile_bundle_sid"], "brand"
        ),
        "a2p campaigns": extras(
            t.campaigns.values(), lambda c: c["brand_registration_sid"], "campaign"
        ),
    }


def _assignment_identity(assignment: dict[str, Any]) -> tuple:
    bundle = assignment.get("customer_profile_sid") or assignment.get("trust_product_sid")
    return bundle, assignment["object_sid"]


def _bundle_identity(bundle: dict[str, Any]) -> tuple:
    return bundle["account_sid"], bundle["policy_sid"], bundle["friendly_name"]


def _item_identity(item: dict[str, Any]) -> tuple:
    return item["account_sid"], item["type"], item["friendly_name"]


def dialog360_keys(sandbox: Sandbox, session: Session) -> tuple[list[str], list[str], int]:
    """Blind regenerations, stored keys 360dialog revoked, and keys replaced after a
    recorded lost answer (the accepted repair)."""
    store = sandbox.dialog360.store
    lost = recorded_lost_keys(session)
    held = dict(session.execute(
        select(Dialog360Channel.dialog_channel_id, Dialog360Channel.api_key_id)
    ).all())  # fmt: skip
    blind, stale, replaced = [], [], 0
    for channel in store.channels.values():
        keys = [k for k in store.api_keys.values() if k.channel_id == channel.id]
        for key in keys:
            if key.id in lost.get(channel.id, ()):
                replaced += 1
            elif key.id != held.get(channel.id):
                blind.append(
                    f"key {key.id} of channel {channel.id}: neither held nor recorded lost"
                )
        live = {k.id for k in keys if not k.revoked}
        if held.get(channel.id) and held[channel.id] not in live:
            stale.append(f"channel {channel.id}: the stored key {held[channel.id]} was revoked")
    return blind, stale, replaced


def recorded_lost_keys(session: Session) -> dict[str, set[str]]:
    """Channel id -> key ids the portal recorded as made by a request whose answer it lost."""
    lost: dict[str, set[str]] = defaultdict(set)
    steps = session.scalars(
        select(ProvisioningStep).where(ProvisioningStep.name == "generate_api_keys")
    )
    for step in steps:
        for channel_id, request in ((step.provider_ids or {}).get(KEY_REQUESTS) or {}).items():
            lost[channel_id].update(request.get("lost") or [])
    return lost


def meta_registrations(sandbox: Sandbox) -> list[str]:
    return [
        f"number {phone.id} registered {len(phone.register_attempts)} times"
        for phone in sandbox.meta.phones.values()
        if len(phone.register_attempts) > 1
    ]


def unclear(message: str | None) -> bool:
    """A message a person cannot act on: a traceback, an exception's repr or name first,
    or fewer than three words besides exception names ("no answer: ReadTimeout")."""
    text = (message or "").strip()
    words = [w for w in re.findall(r"[A-Za-z_']+", text) if not EXCEPTION_NAME.fullmatch(w)]
    return len(words) < 3 or any(pattern.search(text) for pattern in UNCLEAR)


def portal_runs(session: Session) -> tuple[list[str], list[str], Counter]:
    """Runs not ended, failed runs without a clear message, and runs by flow and status."""
    stuck, unclear_failures, outcomes = [], [], Counter()
    for run in session.scalars(select(ProvisioningRun).order_by(ProvisioningRun.id)):
        outcomes[f"{run.flow} {run.status.value}"] += 1
        if run.status in RUNNABLE:
            stuck.append(f"run {run.id} ({run.flow}) is {run.status.value}")
        elif run.status is RunStatus.FAILED and unclear(run.error_message):
            unclear_failures.append(f"run {run.id} ({run.flow}): {run.error_message!r}")
    return stuck, unclear_failures, outcomes


def failure_messages(session: Session) -> Counter:
    """What failed runs say, by flow (trace ids left out, so that alike messages group)."""
    failed = session.execute(
        select(ProvisioningRun.flow, ProvisioningRun.error_message).where(
            ProvisioningRun.status == RunStatus.FAILED
        )
    )
    return Counter(f"{flow}: {TRACE.sub('', message or '')}" for flow, message in failed)


def code_exchange_delays(session: Session) -> list[float]:
    """Seconds from each Meta run's start to its first code exchange attempt (the code
    lives 30 s at Meta): how long signups waited in the runs queue."""
    rows = session.execute(
        select(ProvisioningRun.created_at, ProvisioningStep.started_at)
        .join(ProvisioningStep, ProvisioningStep.run_id == ProvisioningRun.id)
        .where(ProvisioningStep.name == "exchange_code", ProvisioningStep.started_at.is_not(None))
    )
    return sorted((started - created).total_seconds() for created, started in rows)


def unapplied_events(session: Session) -> list[str]:
    events = session.scalars(select(WebhookEvent).where(WebhookEvent.processed_at.is_(None)))
    return [f"{e.provider.value} event {e.id} ({e.event_type}): {e.error}" for e in events]


def take(
    sandbox: Sandbox, session: Session, server_errors: list[str], told: Iterable[str] = ()
) -> Census:
    """The whole census after a storm: provider objects, keys, registrations, the portal
    (``server_errors``: the 5xx answers people got; ``told``: the messages they read)."""
    with sandbox.lock:
        findings = twilio_duplicates(sandbox)
        blind, stale, replaced = dialog360_keys(sandbox, session)
        findings["360dialog blind key regenerations"] = blind
        findings["360dialog stored keys revoked"] = stale
        findings["meta repeated registrations"] = meta_registrations(sandbox)
        deliveries = [d for d in sandbox.outbound.deliveries if d.status and d.status >= 500]
    stuck, unclear_failures, outcomes = portal_runs(session)
    findings["http 500 answers"] = server_errors + [
        f"{d.status} to the {d.provider} webhook {d.url}" for d in deliveries
    ]
    findings["runs stuck"] = stuck
    findings["failed runs without a clear message"] = unclear_failures
    findings["webhook events not applied"] = unapplied_events(session)
    findings["unclear messages to people"] = sorted({m for m in told if unclear(m)})
    facts: dict[str, Any] = {"360dialog keys replaced after a recorded loss": replaced}
    facts.update(sorted(outcomes.items()))
    return Census(findings, facts)
