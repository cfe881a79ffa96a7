"""The fault storm's stage: the portal on its own database, the sandbox, browsers and time.

:class:`Storm` builds a portal app on a database of its own (migrated; commits are real,
so concurrent requests and jobs see each other as in production), a seeded sandbox whose
:class:`~provisioning.sandbox.faults.FaultPlan` faults a share of every provider call
(``server_error``, ``timeout``, ``drop`` and ``throttle`` in equal parts), companies with
one admin each, and the in-process job runner with its poller (the sweeps). People
(threads, :mod:`.journeys`) click through the portal with the Flask test client; the
sandbox's webhooks reach the same app in process.

Why the test client and not a served portal: it drives the whole WSGI app (routing,
sessions, CSRF, access control, error handlers) and sees the status of every answer,
500s included, without sockets or child processes; threads give real concurrency on a
real database. The faults under test sit between the portal and the providers, which a
socket in front of the portal would not change.

Time: the sandbox clock follows the real one (Meta's authorization code lives its 30 s,
360dialog allows one key per 30 s); the portal's waits pass ``time_scale`` times faster
(:meth:`Storm.warp` cuts each new wait of a run or webhook event, 5 s to hours in the
product). Settling jumps: the sandbox a minute at a time, every portal wait to now.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from flask import Flask, got_request_exception
from sqlalchemy import func, select, update

from portal import create_app
from portal.demo import partner_values
from portal.extensions import db
from portal.jobs import InProcessRunner
from portal.sandbox_seed import seed_sandbox
from provisioning import accounts, companies, partners
from provisioning.audit import SYSTEM
from provisioning.crypto import Keyring
from provisioning.db import utcnow
from provisioning.events import WebhookEvent
from provisioning.partners import Environment
from provisioning.runs import RUNNABLE, ProvisioningRun, RunStatus
from provisioning.sandbox import Sandbox, SimClock
from provisioning.tenancy import Role

PUBLIC = "http://portal.test"
PASSWORD = "storm-password-1"
FAULT_KINDS = ("server_error", "timeout", "drop", "throttle")
WAITS = (  # what waits in the portal: the time column, and when it is a wait
    (ProvisioningRun, ProvisioningRun.resume_at, ProvisioningRun.status == RunStatus.WAITING),
    (WebhookEvent, WebhookEvent.next_attempt_at, WebhookEvent.processed_at.is_(None)),
)


@dataclass(frozen=True)
class Tenant:
    """A storm company and the e-mail of its admin (who signs in with ``PASSWORD``)."""

    slug: str
    public_id: str
    admin_email: str


@dataclass(frozen=True)
class StormSize:
    companies: int  # each runs one journey per provider: 3 runs per company
    people: int = 8  # journeys in flight at once
    fault_rate: float = 0.2  # share of provider calls faulted
    seed: int = 11
    job_workers: int = 2  # threads per queue of the in-process runner
    poll_seconds: float = 0.5  # the sweeps' interval (JOB_POLL_SECONDS)
    time_scale: float = 10.0  # the portal's waits pass this much faster than real time
    patience: float = 120.0  # seconds a person watches a run before leaving it to the sweeps
    settle_seconds: float = 300.0  # at most this long for every run to end afterwards


def fault_plan(sandbox: Sandbox, rate: float) -> None:
    """Fault ``rate`` of every provider call, each kind in equal parts.

    The plan draws for each fault in turn and fires at most one: the k-th fault's
    probability is raised so that each kind hits ``rate / kinds`` of all calls."""
    share = rate / len(FAULT_KINDS)
    for k, kind in enumerate(FAULT_KINDS):
        sandbox.faults.add(kind, probability=share / (1 - share * k))


class CountingTransport(httpx.BaseTransport):
    """The sandbox transport, counting the provider calls the portal makes."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.calls, self._lock = inner, Counter(), threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        provider = request.url.path.split("/")[1]
        with self._lock:
            self.calls[provider] += 1
        return self.inner.handle_request(request)


class StormRunner(InProcessRunner):
    """The in-process runner, able to say when no job is queued, running or retrying."""

    def idle(self) -> bool:
        with self._lock:
            return not self._pending

    def wait_idle(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.idle():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


class Answers:
    """Every answer the portal gave, by status; what answered 5xx, and the tracebacks."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []  # "500 POST /c/.../numbers/buy"
        self.tracebacks: list[str] = []
        self._lock = threading.Lock()

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.statuses[status] += 1
            if status >= 500:
                self.errors.append(f"{status} {method} {path}")

    def exception(self, sender: Any, exception: BaseException, **extra: Any) -> None:
        text = "".join(traceback.format_exception(exception))
        with self._lock:
            self.tracebacks.append(text)


class NumberShop:
    """Hands each person a number nobody else picked from their search results (two
    companies never click Buy on the same catalogue number)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    def pick(self, offered: list[str]) -> str | None:
        with self._lock:
            for number in offered:
                if number not in self._taken:
                    self._taken.add(number)
                    return number
        return None


class Storm:
    """The portal and the sandbox under a fault storm (a context manager)."""

    def __init__(self, database_url: str, instance_path: Path, size: StormSize) -> None:
        self.size = size
        self.rng = random.Random(size.seed)
        self.answers = Answers()
        self.shop = NumberShop()
        self.sandbox = Sandbox(
            seed=size.seed,
            clock=SimClock(start=1_767_225_600.0),
            # the sandbox's webhooks reach the portal in process (built just below)
            outbound_transport=httpx.WSGITransport(app=lambda *a: self.app(*a)),
        )
        self.transport = CountingTransport(self.sandbox.transport())
        self.app = self._app(database_url, instance_path)
        self.runner = StormRunner.install(self.app, size.job_workers, size.poll_seconds)
        self.companies: list[Tenant] = []
        self._numbers = itertools.count(1)
        self.breakdowns: list[str] = []
        self._warped: dict[tuple[type, int], Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _app(self, database_url: str, instance_path: Path) -> Flask:
        app = create_app(
            {
                "PORTAL_ENV": "development",
                "SQLALCHEMY_DATABASE_URI": database_url,
                "SECRET_KEY": "storm-secret-key",
                "KEYRING": Keyring.generate(),
                "INSTANCE_PATH": str(instance_path),
                "PROVIDER_TRANSPORT": self.transport,
                "PUBLIC_BASE_URL": PUBLIC,
                "SANDBOX_URL": self.sandbox.base_url,
                "SERVER_NAME": "portal.test",
                "JOB_RUNNER": "manual",  # replaced by the storm's in-process runner
                "JOB_POLL_SECONDS": self.size.poll_seconds,
                "QUALITY_SYNC_INTERVAL_SECONDS": 0,
            }
        )
        got_request_exception.connect(self.answers.exception, app, weak=False)
        return app

    # -- set-up -------------------------------------------------------------------------------
    def __enter__(self) -> Storm:
        from flask_migrate import upgrade

        with self.app.app_context():
            upgrade()
            self._seed()
        fault_plan(self.sandbox, self.size.fault_rate)
        self.runner.start_poller()
        self._ticker = threading.Thread(target=self._tick, name="storm-clock", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.runner.stop()
        with self.app.app_context():
            db.engine.dispose()

    def _seed(self) -> None:
        """Partner configurations, and companies with one admin each (one password hash,
        computed once: hashing is what a storm would otherwise spend its time on)."""
        seed_sandbox(self.sandbox, PUBLIC)
        self.sandbox.dialog360.control_set_channel_timeline(submitted=2, ready=2, running=2)
        self.sandbox.twilio.control_set_timeline(brand_seconds=3)
        for provider, values in partner_values(self.sandbox.base_url, PUBLIC).items():
            partners.create_configuration(
                db.session, SYSTEM, provider, Environment.SANDBOX, "", values
            )
        password_hash = accounts.hash_password(PASSWORD)
        made = []
        for n in range(1, self.size.companies + 1):
            company = companies.create_company(db.session, SYSTEM, f"Storm Company {n:04d}")
            admin = accounts.create_user(db.session, SYSTEM, f"admin{n}@storm.example")
            admin.password_hash = password_hash
            accounts.set_membership(db.session, SYSTEM, admin, company, Role.ADMIN)
            made.append((company, admin))
        db.session.commit()
        self.companies = [Tenant(c.slug, c.public_id, a.email) for c, a in made]
        db.session.remove()

    # -- what people use -------------------------------------------------------------------
    def popup(self, provider: str, action: str, **payload: Any) -> Any:
        """What a person does in a provider's own window (Meta's popup, 360dialog's hub),
        through the sandbox's control API (under its lock)."""
        return self.sandbox.handle_control("POST", [provider, action], payload)

    def new_dialog360_number(self) -> str:
        return f"+4915{next(self._numbers):09d}"

    # -- time -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        """The sandbox clock follows the real one; the portal's waits are cut short."""
        last = time.monotonic()
        while not self._stop.wait(0.25):
            now = time.monotonic()
            self.guarded(self.sandbox.advance, now - last)
            self.guarded(self.warp, self.size.time_scale)
            last = now

    def guarded(self, function: Callable[..., Any], *args: Any) -> None:
        try:
            function(*args)
        except Exception as exc:  # the storm's own machinery failing is reported, not hidden
            self.broken(exc)

    def broken(self, exc: BaseException) -> None:
        """A journey or the storm's clock could not go on: kept for the report."""
        with self._lock:
            self.breakdowns.append("".join(traceback.format_exception(exc)))

    def warp(self, scale: float | None = None) -> None:
        """Cut each new wait of a run or a webhook event to ``1/scale`` of its length
        (once; ``None``: due now), as if the portal's clock ran that much faster."""
        with self.app.app_context():
            now = utcnow()
            for model, column, waiting in WAITS:
                rows = db.session.execute(select(model.id, column).where(waiting, column > now))
                for row_id, at in rows.all():
                    if scale and self._warped.get((model, row_id)) == at:
                        continue  # cut already
                    shorter = now + (at - now) / scale if scale else now
                    db.session.execute(
                        update(model)
                        .where(model.id == row_id, column == at)  # unless it moved meanwhile
                        .values({column.key: shorter})
                    )
                    # one row per transaction: the warp never holds a lock while it waits
                    # for another, so it cannot deadlock with a worker claiming rows
                    db.session.commit()
                    self._warped[(model, row_id)] = shorter
            db.session.remove()

    # -- the storm --------------------------------------------------------------------------
    def run(self, journeys: dict[str, Callable[[Any], Any]], person: Callable) -> list[Any]:
        """Every company runs every journey, ``people`` at once, in a seeded order;
        ``person(storm, company_index, rng)`` signs a company's admin in."""
        tasks = [(index, name) for index in range(len(self.companies)) for name in journeys]
        self.rng.shuffle(tasks)
        outcomes: list[Any] = []
        lock = threading.Lock()

        def worker() -> None:
            while True:
                with lock:
                    if not tasks:
                        return
                    index, name = tasks.pop()
                rng = random.Random(f"{self.size.seed}:{index}:{name}")
                try:
                    outcome = journeys[name](person(self, index, rng))
                except Exception as exc:  # a journey that could not go on: reported
                    self.broken(exc)
                    continue
                with lock:
                    outcomes.append(outcome)

        threads = [
            threading.Thread(target=worker, name=f"person-{n}") for n in range(self.size.people)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    def settle(self) -> float:
        """Let provider time pass and the sweeps run until every run has ended; seconds."""
        started = time.monotonic()
        deadline = started + self.size.settle_seconds
        while time.monotonic() < deadline:
            self.runner.wait_idle(30)
            if not self.unsettled():
                break
            self.guarded(self.sandbox.advance, 60)  # channels go live, key intervals pass
            self.guarded(self.warp)
            self.runner.enqueue("provisioning.resume_due_runs")
            self.runner.enqueue("webhooks.retry_failed")
            time.sleep(self.size.poll_seconds)
        return time.monotonic() - started

    def unsettled(self) -> int:
        """Runs not ended, and webhook events neither applied nor given up."""
        pending = (WebhookEvent.next_attempt_at.is_not(None)) | (WebhookEvent.attempts == 0)
        with self.app.app_context():
            runs = db.session.scalar(
                select(func.count())
                .select_from(ProvisioningRun)
                .where(ProvisioningRun.status.in_(RUNNABLE))
            )
            events = db.session.scalar(
                select(func.count())
                .select_from(WebhookEvent)
                .where(WebhookEvent.processed_at.is_(None), pending)
            )
            db.session.remove()
        return runs + events
