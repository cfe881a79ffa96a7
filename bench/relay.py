"""Message relay: inbound-message webhooks pushed into the portal under load, relayed to
the platform's endpoint; relay throughput and the latency the relay adds.

Run by hand from the repository root (bench/README.md)::

    .venv/bin/python bench/relay.py --messages 1000 --rate 50 --duration 10
    .venv/bin/python bench/relay.py --sqlite --messages 1000 --rate 50 --duration 10

It creates a scratch database (PostgreSQL, or a SQLite file with ``--sqlite``), migrates
it, stores the partner configurations, a company with connected numbers (``--channels``
Meta numbers of one WABA, and as many WhatsApp senders in its Twilio subaccount: the rows
an onboarding leaves), and registers an event endpoint for ``message.*`` at a receiver
this script serves: a threaded HTTP server on the loopback that checks each delivery with
the Standard Webhooks library and notes when it arrived. The portal runs under gunicorn
with the in-process job runner (the apply job, woken by ingest, and the delivery job,
woken by the relay, run in its workers), beside ``flask jobs work`` (the poller, every
``--poll`` seconds: whatever a wake-up missed).

Per provider (``meta``: ``POST /webhooks/meta``, a ``messages`` change signed with the app
secret; ``twilio``: ``POST /webhooks/twilio/messages``, a sender's incoming WhatsApp
message signed with the subaccount's token), two phases:

- ``burst``: ``--messages`` webhooks as fast as ``--concurrency`` connections allow.
  Relay throughput = events received / seconds from the first webhook sent to the last
  event received.
- ``steady``: ``--rate`` webhooks a second, each on its own connection, for
  ``--duration`` seconds. Added latency = event received at the endpoint - webhook sent.

Both report the provider's answer time too. Every message must arrive exactly once:
missing or duplicated events are printed and the script exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhook_ingest import (
    HOST,
    PUBLIC_BASE_URL,
    SUBACCOUNT_SID,
    Secrets,
    admin_execute,
    busy_share,
    free_port,
    machine,
    portal_app,
    prepare_database,
    start_gunicorn,
    stop,
)

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = ("meta", "twilio")
PATHS = {"meta": "/webhooks/meta", "twilio": "/webhooks/twilio/messages"}
WABA_ID = "190000000000001"
MESSAGE_TYPES = ["message.error", "message.received", "message.status"]


# --- the platform's endpoint --------------------------------------------------------------


class Receiver:
    """The platform's messages endpoint: verifies each event, notes when it arrived."""

    def __init__(self) -> None:
        self.secret = ""
        self.lock = threading.Lock()
        self.arrived: dict[str, float] = {}  # message id -> perf_counter() at arrival
        self.webhook_ids: set[str] = set()
        self.duplicates = 0
        self.unverified = 0
        self.server = ThreadingHTTPServer((HOST, 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/messages"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the delivery job reuses its connection

            def answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                at = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    event = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.unverified += 1
                    self.answer(401)
                    return
                receiver.note(headers["webhook-id"], event["data"]["message_id"], at)
                self.answer(204)

            def log_message(self, *args) -> None:
                """Quiet."""

        return Handler

    def note(self, webhook_id: str, message_id: str, at: float) -> None:
        with self.lock:
            if webhook_id in self.webhook_ids:
                self.duplicates += 1
                return
            self.webhook_ids.add(webhook_id)
            self.arrived[message_id] = at

    def wait_for(self, message_ids: list[str], timeout: float) -> int:
        """Wait until every message has arrived (or ``timeout``); how many are missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                missing = sum(1 for m in message_ids if m not in self.arrived)
            if not missing:
                return 0
            time.sleep(0.05)
        return missing


# --- the provider's webhooks --------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    """What the load generator addresses: Meta numbers, Twilio senders, their secrets."""

    meta_secret: str
    twilio_token: str
    phone_number_ids: list[str]
    meta_numbers: list[str]  # digits
    senders: list[str]  # whatsapp:+E164


def meta_delivery(fleet: Fleet, seq: int) -> tuple[str, bytes, dict[str, str]]:
    """(message id, body, headers) of a customer's text message to one of the numbers."""
    i = seq % len(fleet.phone_number_ids)
    wamid = f"wamid.bench{seq:012d}"
    customer = f"1555{seq % 10_000_000:07d}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": fleet.meta_numbers[i],
                     "phone_number_id": fleet.phone_number_ids[i]},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": customer,
                      "user_id": f"US.{seq:016d}"}],
        "messages": [{"from": customer, "from_user_id": f"US.{seq:016d}", "id": wamid,
                      "timestamp": str(int(time.time())), "type": "text",
                      "text": {"body": f"Hello {seq}"}}],
    }  # fmt: skip
    entry = {"id": WABA_ID, "time": int(time.time()),
             "changes": [{"field": "messages", "value": value}]}  # fmt: skip
    body = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
    digest = hmac.new(fleet.meta_secret.encode(), body, hashlib.sha256).hexdigest()
    return wamid, body, {"Content-Type": "application/json",
                         "X-Hub-Signature-256": f"sha256={digest}"}  # fmt: skip


def twilio_delivery(fleet: Fleet, seq: int) -> tuple[str, bytes, dict[str, str]]:
    """(message id, body, headers) of an incoming WhatsApp message to one of the senders."""
    sid = f"SM{seq:032x}"
    customer = f"+1555{seq % 10_000_000:07d}"
    params = {
        "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": SUBACCOUNT_SID,
        "From": f"whatsapp:{customer}", "To": fleet.senders[seq % len(fleet.senders)],
        "Body": f"Hello {seq}", "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
        "ProfileName": "Bench", "WaId": customer[1:], "MessageType": "text",
        "ApiVersion": "2010-04-01",
    }  # fmt: skip
    url = PUBLIC_BASE_URL + PATHS["twilio"]
    signature = RequestValidator(fleet.twilio_token).compute_signature(url, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": signature}  # fmt: skip
    return sid, urlencode(params).encode(), headers


DELIVERIES = {"meta": meta_delivery, "twilio": twilio_delivery}


def raw_request(port: int, provider: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"POST {PATHS[provider]} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


# --- the load -----------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    sent: dict[str, float] = field(default_factory=dict)  # message id -> sent at
    answers: list[float] = field(default_factory=list)  # the provider's wait, seconds
    refused: int = 0  # answers other than 2xx, or no answer
    started: float = 0.0
    seconds: float = 0.0  # sending time


async def _post(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        answer = await reader.read()
    finally:
        writer.close()
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0


async def _deliver(phase: Phase, port: int, provider: str, fleet: Fleet, seq: int) -> None:
    message_id, body, headers = DELIVERIES[provider](fleet, seq)
    request = raw_request(port, provider, body, headers)
    started = time.perf_counter()
    phase.sent[message_id] = started
    try:
        status = await _post(port, request)
    except OSError:
        status = 0
    phase.answers.append(time.perf_counter() - started)
    if not 200 <= status < 300:
        phase.refused += 1
        del phase.sent[message_id]


async def _burst(phase: Phase, port, provider, fleet, seqs, messages: int, clients: int):
    left = itertools.islice(seqs, messages)

    async def client() -> None:
        for seq in left:  # the clients share one iterator: each message is sent once
            await _deliver(phase, port, provider, fleet, seq)

    phase.started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    phase.seconds = time.perf_counter() - phase.started


async def _steady(phase: Phase, port, provider, fleet, seqs, rate: float, seconds: float):
    phase.started = time.perf_counter()
    tasks = []
    for n in range(int(rate * seconds)):
        delay = phase.started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_deliver(phase, port, provider, fleet, next(seqs))))
    await asyncio.gather(*tasks)
    phase.seconds = time.perf_counter() - phase.started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


TABLE_HEAD = (
    "| provider | phase | webhooks | refused | relayed | missing | dup. | webhooks/s"
    " | relayed/s | answer p50 ms | answer p99 ms | added p50 ms | added p95 ms"
    " | added p99 ms | CPUs busy |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def report(provider: str, phase: Phase, receiver: Receiver, missing: int, busy: float) -> str:
    with receiver.lock:
        arrivals = {m: receiver.arrived[m] for m in phase.sent if m in receiver.arrived}
    added = [arrivals[m] - phase.sent[m] for m in arrivals]
    last = max(arrivals.values(), default=phase.started)
    relayed_per_s = len(arrivals) / (last - phase.started) if arrivals else 0.0
    ms = [
        percentile(phase.answers, 0.5), percentile(phase.answers, 0.99),
        percentile(added, 0.5), percentile(added, 0.95), percentile(added, 0.99),
    ]  # fmt: skip
    return (
        f"| {provider} | {phase.name} | {len(phase.answers)} | {phase.refused} |"
        f" {len(arrivals)} | {missing} | {receiver.duplicates} |"
        f" {len(phase.answers) / phase.seconds:.0f} | {relayed_per_s:.0f} | "
        + " | ".join(f"{v * 1000:.0f}" for v in ms)
        + f" | {busy:.0%} |"
    )


def measure(args, provider: str, port: int, fleet: Fleet, receiver: Receiver, seqs) -> bool:
    """The two phases for ``provider``; False when an event was lost or duplicated."""
    ok = True
    for name in ("burst", "steady"):
        phase = Phase(name)
        ticks = _ticks()
        if name == "burst":
            run = _burst(phase, port, provider, fleet, seqs, args.messages, args.concurrency)
        else:
            run = _steady(phase, port, provider, fleet, seqs, args.rate, args.duration)
        asyncio.run(run)
        missing = receiver.wait_for(list(phase.sent), args.wait)
        print(report(provider, phase, receiver, missing, _busy(ticks)), flush=True)
        ok &= missing == 0 and receiver.duplicates == 0 and receiver.unverified == 0
    return ok


def _ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def _busy(ticks: tuple[int, int]) -> float:
    busy, total = (now - then for now, then in zip(_ticks(), ticks, strict=True))
    return busy / total if total else 0.0


# --- the portal and its rows --------------------------------------------------------------


def seed(app, channels: int, receiver_url: str, secrets_: Secrets) -> tuple[Fleet, str]:
    """The connected numbers (one Meta WABA, senders of the bench subaccount) and the
    platform's endpoint for message events: what the webhooks address, and the endpoint's
    signing secret."""
    from portal.extensions import db
    from provisioning import platform_events
    from provisioning.audit import SYSTEM
    from provisioning.channels import Channel
    from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
    from provisioning.partners import Provider
    from provisioning.tenancy import Company
    from provisioning.twilio.models import TwilioSubaccount, TwilioWhatsAppSender

    with app.app_context():
        session = db.session
        company = session.query(Company).one()
        sub = session.query(TwilioSubaccount).one()
        client = MetaWhatsAppClient(company_id=company.id, waba_id=WABA_ID, name="Bench WABA")
        session.add(client)
        session.flush()
        phone_ids, numbers, senders = [], [], []
        for n in range(channels):
            phone_id, digits = f"17{n:013d}", f"1555010{n:04d}"
            meta = Channel(company_id=company.id, provider=Provider.META, provider_ref=phone_id,
                           phone_number=f"+{digits}", status="CONNECTED")  # fmt: skip
            sender_id, sender_sid = f"whatsapp:+1555020{n:04d}", f"XE{n:032x}"
            twilio = Channel(company_id=company.id, provider=Provider.TWILIO,
                             provider_ref=sender_sid, phone_number=sender_id[9:],
                             status="ONLINE")  # fmt: skip
            session.add_all([meta, twilio])
            session.flush()
            session.add_all([
                MetaWhatsAppPhoneNumber(company_id=company.id, client_id=client.id,
                                        channel_id=meta.id, phone_number_id=phone_id,
                                        display_phone_number=digits),
                TwilioWhatsAppSender(company_id=company.id, subaccount_id=sub.id,
                                     channel_id=twilio.id, sender_id=sender_id,
                                     sender_sid=sender_sid, waba_id=WABA_ID,
                                     profile_name="Bench", status="ONLINE"),
            ])  # fmt: skip
            phone_ids.append(phone_id)
            numbers.append(digits)
            senders.append(sender_id)
        endpoint = platform_events.add_endpoint(
            session, SYSTEM, receiver_url, check_url=lambda _: None, event_types=MESSAGE_TYPES
        )
        secret = endpoint.secret
        session.commit()
    return Fleet(secrets_.meta, secrets_.twilio, phone_ids, numbers, senders), secret


def fill_history(app, events: int, channels: int) -> None:
    """``events`` delivered message events already in the outbox for the endpoint (a
    platform that has relayed for a while), spread over the channels' ordering keys."""
    from sqlalchemy import text

    from portal.extensions import db

    with app.app_context():
        session = db.session
        endpoint_id = session.execute(text("SELECT max(id) FROM event_endpoints")).scalar()
        keys = session.execute(
            text("SELECT id FROM channels ORDER BY id LIMIT :n"), {"n": channels}
        ).scalars().all()  # fmt: skip
        session.execute(
            text(
                "INSERT INTO platform_events (public_id, type, ordering_key, payload, created_at)"
                " SELECT 'msg_hist' || n, 'message.received',"
                " 'channel:' || (:keys)[1 + n % :count], '{}', now()"
                " FROM generate_series(1, :events) AS n"
            ),
            {"keys": list(keys), "count": len(keys), "events": events},
        )
        session.execute(
            text(
                "INSERT INTO event_deliveries (event_id, endpoint_id, ordering_key, status,"
                " attempts, next_attempt_at, delivered_at, last_error)"
                " SELECT id, :endpoint, ordering_key, 'delivered', 1, now(), now(), ''"
                " FROM platform_events WHERE public_id LIKE 'msg_hist%'"
            ),
            {"endpoint": endpoint_id},
        )
        session.execute(text("ANALYZE"))
        session.commit()


def start_jobs_worker(env: dict[str, str], poll: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "work", "--poll", str(poll)]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL)  # fmt: skip


def run(args, database_url: str, keys: str, instance_path: str) -> bool:
    secrets_ = Secrets(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16))
    app = portal_app(database_url, keys, instance_path)
    prepare_database(app, secrets_.meta, baseline=False, secrets_=secrets_)
    receiver = Receiver()
    fleet, receiver.secret = seed(app, args.channels, receiver.url, secrets_)
    if args.history:
        fill_history(app, args.history, args.channels)
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
    env = {
        "DATABASE_URL": database_url,
        "PORTAL_ENV": "production",
        "PROVIDER_ENVIRONMENT": "production",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": keys,
        "JOB_RUNNER": "inprocess",
        "JOB_POLL_SECONDS": str(args.poll),
        "QUALITY_SYNC_INTERVAL_SECONDS": "0",  # no provider here to sync with
        "LOG_LEVEL": "WARNING",
    }
    print(f"Machine: {machine(database_url)}; CPUs busy before: {busy_share(1.0):.0%}")
    print(
        f"gunicorn: {args.workers} worker(s) x {args.threads} thread(s), in-process jobs;"
        f" flask jobs work polling every {args.poll:g} s; {args.channels} channels per"
        f" provider; burst: {args.messages} webhooks over {args.concurrency} connections;"
        f" steady: {args.rate:g}/s for {args.duration:g} s; {args.history} delivered events"
        " in the outbox before\n"
    )
    print(TABLE_HEAD)
    port = free_port()
    server = start_gunicorn("wsgi:app", port, env, args.workers, args.threads)
    worker = start_jobs_worker(env, args.poll)
    ok = True
    try:
        seqs = itertools.count(1)
        for provider in args.providers.split(","):
            ok &= measure(args, provider, port, fleet, receiver, seqs)
    finally:
        stop(worker)
        stop(server)
        receiver.server.shutdown()
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, not PostgreSQL")
    parser.add_argument("--database", default="bench_relay", help="scratch database (recreated)")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated")
    parser.add_argument("--channels", type=int, default=20, help="connected numbers each")
    parser.add_argument("--messages", type=int, default=1000, help="webhooks in the burst")
    parser.add_argument("--concurrency", type=int, default=8, help="burst: connections")
    parser.add_argument("--rate", type=float, default=50.0, help="steady: webhooks a second")
    parser.add_argument("--duration", type=float, default=10.0, help="steady: seconds")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--poll", type=float, default=1.0, help="JOB_POLL_SECONDS")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds for the last event")
    parser.add_argument("--history", type=int, default=0,
                        help="delivered events already in the outbox (PostgreSQL)")  # fmt: skip
    args = parser.parse_args()

    keys = "bench:" + secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as instance_path:
        if args.sqlite:
            database_url = f"sqlite:///{instance_path}/{args.database}.db"
        else:
            database_url = f"{args.postgres}/{args.database}"
            admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            admin_execute(args.postgres, f'CREATE DATABASE "{args.database}"')
        try:
            ok = run(args, database_url, keys, instance_path)
        finally:
            if not args.sqlite:
                admin_execute(
                    args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'
                )
    if not ok:
        raise SystemExit("events were lost, duplicated or not verified")


if __name__ == "__main__":
    main()
