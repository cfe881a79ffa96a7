"""Jobs on Celery: one task per job with its retry policy, beat's schedule, a real worker.

The tests marked ``celery`` start a real worker process against the machine's Redis
(``TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/11``) and a database it shares with
the test; without Redis they are skipped, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade
from prometheus_client import REGISTRY
from sqlalchemy import select

from portal import create_app
from portal.demo import META_APP
from portal.extensions import db
from portal.jobs import JOBS, PERIODIC, QUEUES, Job, enqueue
from portal.jobs.celery_runner import ENQUEUED_AT, CeleryRunner, beat_schedule, create_celery
from provisioning import companies
from provisioning.audit import SYSTEM
from provisioning.crypto import Keyring
from provisioning.events import WebhookEvent, body_digest, store_event
from provisioning.health import ChannelHistory, upsert_channel
from provisioning.job_failures import JobFailure
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.partners import Provider
from tests.test_jobs import Flaky, unreachable

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
LATENCY_BASE = "portal_job_queue_latency_seconds"
DEPTH = "portal_job_queue_depth"


@pytest.fixture
def extra_job():
    added: list[str] = []

    def register(name: str, function: Callable[..., Any], **policy: Any) -> None:
        JOBS[name] = Job(name, function, **{"queue": "runs", **policy})
        added.append(name)

    yield register
    for name in added:
        JOBS.pop(name, None)


@pytest.fixture
def celery_app(app, monkeypatch):
    """A Celery app for the test portal on an in-memory broker; tasks run eagerly."""

    def build():
        monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "memory://")
        celery = create_celery(app)
        del app.extensions["celery"]  # the session's app must not keep it
        return celery

    return build


def test_every_job_is_a_late_acknowledged_task_with_its_retry_policy(celery_app):
    celery = celery_app()
    assert set(JOBS) <= set(celery.tasks)
    run = celery.tasks["provisioning.execute_run"]
    assert run.acks_late and run.reject_on_worker_lost and run.max_retries == 3
    assert celery.tasks["webhooks.apply_meta"].max_retries == 0  # the event pipeline retries
    assert celery.conf.worker_prefetch_multiplier == 1 and celery.conf.task_ignore_result


def test_each_kind_of_work_has_its_own_queue(celery_app, app, monkeypatch):
    """A burst of webhooks never queues ahead of a provisioning run (Meta's code lives 30 s)
    or of a periodic sweep."""
    monkeypatch.setitem(app.config, "JOB_QUEUE_PREFIX", "staging.")
    celery = celery_app()

    def queue_of(name: str) -> str:
        return celery.amqp.router.route({}, name)["queue"].name

    assert queue_of("provisioning.execute_run") == "staging.runs"
    periodic_sweeps = {
        name
        for name in PERIODIC
        if name not in ("sync.quality", "sync.templates", "webhooks.apply_pending")
    }
    assert {queue_of(name) for name in periodic_sweeps} == {"staging.sweeps"}
    assert queue_of("webhooks.apply_pending") == "staging.webhooks"  # its safety net: bursts
    appliers = {queue_of(name) for name in JOBS if name.startswith("webhooks.apply_")}
    assert appliers == {"staging.webhooks"}
    assert queue_of("sync.quality") == queue_of("sync.meta_wabas") == "staging.sync"
    assert queue_of("sync.templates") == "staging.sync"
    # a worker started without -Q serves them all
    assert {q.name for q in celery.conf.task_queues} == {
        "staging.runs", "staging.sweeps", "staging.webhooks", "staging.sync",
    }  # fmt: skip


def test_redis_never_hands_a_running_task_to_a_second_worker(celery_app):
    """A task a worker took returns to the queue only after ``visibility_timeout``: set
    beyond the longest job's hard time limit, it never comes back while still running."""
    celery = celery_app()
    longest = max(task.time_limit for name, task in celery.tasks.items() if name in JOBS)
    options = celery.conf.broker_transport_options
    assert options["visibility_timeout"] > longest
    assert celery.tasks["sync.quality"].soft_time_limit < celery.tasks["sync.quality"].time_limit
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 5.0


def test_beat_schedules_the_periodic_jobs_at_their_intervals(app, monkeypatch):
    monkeypatch.setitem(app.config, "QUALITY_SYNC_INTERVAL_SECONDS", 900)
    schedule = beat_schedule(app.config)
    assert schedule["sync.quality"] == {
        "task": "sync.quality",
        "schedule": 900,
        "options": {"expires": 900},
    }
    assert schedule["webhooks.retry_failed"]["schedule"] == app.config["JOB_POLL_SECONDS"]
    monkeypatch.setitem(app.config, "QUALITY_SYNC_INTERVAL_SECONDS", 0)
    assert "sync.quality" not in beat_schedule(app.config)


def test_a_task_is_retried_on_a_retryable_error_then_succeeds(session, celery_app, extra_job):
    flaky = Flaky(2, unreachable())
    extra_job("tests.celery_flaky", flaky, retries=3, backoff=0.01)
    result = celery_app().tasks["tests.celery_flaky"].apply(args=[5])
    assert result.successful() and flaky.calls == 3
    assert session.scalars(select(JobFailure)).all() == []


def test_a_task_out_of_retries_lands_in_job_failures(session, celery_app, extra_job):
    flaky = Flaky(99, unreachable())
    extra_job("tests.celery_down", flaky, retries=2, backoff=0.01)
    result = celery_app().tasks["tests.celery_down"].apply(args=[5, 6])
    assert result.failed() and flaky.calls == 3
    (failure,) = session.scalars(select(JobFailure)).all()
    assert (failure.name, failure.args, failure.attempts) == ("tests.celery_down", [5, 6], 3)


def test_with_a_broker_the_web_process_sends_to_celery_and_polls_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("JOB_RUNNER", raising=False)
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
    before = {thread.name for thread in threading.enumerate()}
    app = create_app(
        {"SECRET_KEY": "x", "KEYRING": Keyring.generate(), "INSTANCE_PATH": str(tmp_path)}
    )
    runner = app.extensions["job_runner"]
    assert isinstance(runner, CeleryRunner)
    runner.start_poller()  # what `demo run` calls: beat schedules instead
    started = {thread.name for thread in threading.enumerate()} - before
    assert not any(name.startswith(("job", "job-poller")) for name in started)


def test_an_unreachable_broker_is_logged_and_does_not_fail_the_caller(app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "redis://:hunter2@127.0.0.1:1/0")
    runner = CeleryRunner(app)
    del app.extensions["celery"]
    with caplog.at_level(logging.ERROR, logger="portal.queue"):
        runner.enqueue("provisioning.execute_run", 12)
        assert runner.wait_sent(60)  # generous: the publisher gives up much sooner
    assert "job provisioning.execute_run(12,) not queued" in caplog.text
    assert "hunter2" not in caplog.text


class SilentBroker:
    """A TCP server on the loopback that accepts connections and never answers, like a
    Redis frozen by ``CLIENT PAUSE`` or behind a dead link."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.asked = threading.Event()  # a client sent a command (and waits for the answer)
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.server.accept()
                self.connections.append(connection)
                threading.Thread(target=self._listen, args=(connection,), daemon=True).start()

    def _listen(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while connection.recv(4096):
                self.asked.set()

    def close(self) -> None:
        self.server.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent_broker(app, monkeypatch):
    broker = SilentBroker()
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", broker.url)
    yield broker
    broker.close()


def meta_quality_event(waba_id: str) -> bytes:
    change = {"field": "phone_number_quality_update",
              "value": {"display_phone_number": "15550100", "event": "FLAGGED"}}  # fmt: skip
    entry = {"id": waba_id, "time": 1_900_000_000, "changes": [change]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def test_a_silent_broker_never_holds_up_a_webhook(app, client, session, connected_sandbox,
                                                  silent_broker, monkeypatch):  # fmt: skip
    """The request commits the event and answers; the job waits with the publisher (not
    with the request) for a broker that never answers; the sweep delivers the event."""
    connected_sandbox(41, Provider.META)
    monkeypatch.setitem(app.config, "BROKER_TIMEOUT_SECONDS", 120.0)  # the broker hangs on
    manual = app.extensions["job_runner"]
    runner = CeleryRunner(app)
    del app.extensions["celery"]
    monkeypatch.setitem(app.extensions, "job_runner", runner)
    body = meta_quality_event("waba-silent")
    answer: dict[str, int] = {}

    def post() -> None:
        signature = hmac.new(META_APP["app_secret"].encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={signature}"}
        answer["status"] = client.post("/webhooks/meta", data=body, headers=headers).status_code

    request = threading.Thread(target=post, daemon=True)
    request.start()
    request.join(60)  # generous: the answer must not wait on the broker at all
    assert answer == {"status": 200}
    (event,) = session.scalars(select(WebhookEvent)).all()
    assert event.processed_at is None  # committed, not applied yet
    assert silent_broker.asked.wait(60)  # the publisher asked the broker...
    assert runner.pending() == 1  # ...and still waits for its answer

    # Later (the event is past its first delivery): the sweep delivers what was not.
    monkeypatch.setitem(app.extensions, "job_runner", manual)
    event.received_at -= dt.timedelta(minutes=5)
    session.commit()
    with app.app_context():
        enqueue("webhooks.retry_failed")
    manual.drain()
    session.refresh(event)
    assert event.processed_at is not None and event.error is None


def test_publishing_to_a_silent_broker_gives_up_within_its_timeouts(
    app, silent_broker, monkeypatch, caplog
):
    monkeypatch.setitem(app.config, "BROKER_TIMEOUT_SECONDS", 0.2)
    runner = CeleryRunner(app)
    del app.extensions["celery"]
    with caplog.at_level(logging.ERROR, logger="portal.queue"):
        assert runner.publish("webhooks.apply_meta", (7,)) is False
    assert silent_broker.asked.is_set()
    assert "job webhooks.apply_meta(7,) not queued, the broker did not take it" in caplog.text


# A real worker over Redis -------------------------------------------------------------


def reachable_redis() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        reason = f"no Redis at {REDIS_URL} ({type(exc).__name__}: {exc})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI runs the Celery integration test against a real Redis")
        pytest.skip(f"{reason}; CI runs this test")
    return REDIS_URL


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def wait_for(self, check: Callable[[], Any], what: str, seconds: float = 90) -> Any:
        """Poll the database until ``check()`` holds; fail with the worker's log if not."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            found = check()
            if found:
                return found
            # End the read: a fresh snapshot next time, and SQLite's lock left to the worker.
            db.session.rollback()
            time.sleep(0.2)
        pytest.fail(f"the worker did not {what}; its log:\n{self.log.read_text()[-4000:]}")


@pytest.fixture
def worker(scratch_app, scratch_database_url, tmp_path) -> Iterator[Worker]:
    """A real Celery worker process on a queue of its own, and the app sending to it."""
    broker = reachable_redis()
    upgrade()
    prefix = f"portal-test-{uuid.uuid4().hex[:10]}."
    queues = [f"{prefix}{name}" for name in QUEUES]
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "DATABASE_URL": scratch_database_url,
        "PORTAL_ENV": "development",
        "SECRET_KEY": "celery-test",
        "ENCRYPTION_KEYS": scratch_app.config["KEYRING"].env_value(),
        "JOB_RUNNER": "celery",
        "JOB_QUEUE_PREFIX": prefix,
    }
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "portal.queue", "worker",
               "-Q", ",".join(queues), "--concurrency=1", "--loglevel=INFO",
               "--without-mingle"]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,  # its pool processes go down with it
        )  # fmt: skip
    scratch_app.config.update(CELERY_BROKER_URL=broker, JOB_QUEUE_PREFIX=prefix)
    scratch_app.extensions["job_runner"] = CeleryRunner(scratch_app)
    try:
        yield Worker(process, log)
    finally:
        _stop(process)
        import redis

        kombu_keys = ("{}", "_kombu.binding.{}", "_kombu.binding_permanent.{}")
        keys = [key.format(queue) for queue in queues for key in kombu_keys]
        redis.Redis.from_url(broker).delete(*keys)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # a warm shutdown
        try:
            process.wait(30)
            return
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its process group
    process.wait(10)


@pytest.mark.celery
def test_a_real_worker_applies_a_stored_meta_webhook(worker):
    company = companies.create_company(db.session, SYSTEM, "Worker Ltd")
    db.session.flush()
    channel = upsert_channel(
        db.session, company.id, Provider.META, "pn-worker", phone_number="+15550100",
        status="CONNECTED", quality_rating="GREEN", messaging_limit="TIER_1K",
    )  # fmt: skip
    db.session.flush()
    # Meta's limit signal today: business_capability_update, for the business portfolio
    client = MetaWhatsAppClient(company_id=company.id, waba_id="waba-worker", business_id="b-1")
    db.session.add(
        MetaWhatsAppPhoneNumber(
            company_id=company.id, client=client, channel_id=channel.id,
            phone_number_id="pn-worker", display_phone_number="+1 555-0100",
            quality_rating="GREEN",
        )
    )  # fmt: skip
    change = {
        "field": "business_capability_update",
        "value": {"max_daily_conversations_per_business": "TIER_10K"},
    }
    entry = {"id": "waba-worker", "time": 1_900_000_000, "changes": [change]}
    body = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
    event_id = store_event(db.session, Provider.META, body_digest(body), change["field"], body)
    db.session.commit()
    channel_id = channel.id

    enqueue("webhooks.apply_meta", event_id)

    worker.wait_for(
        lambda: db.session.get(WebhookEvent, event_id).processed_at, "apply the Meta event"
    )
    assert db.session.get(WebhookEvent, event_id).error is None
    channel = db.session.get(type(channel), channel_id)
    assert channel.messaging_limit == "TIER_10K"
    history = db.session.scalars(
        select(ChannelHistory).where(ChannelHistory.channel_id == channel_id)
    ).all()
    assert any(row.messaging_limit == "TIER_10K" for row in history)


@pytest.mark.celery
def test_a_real_worker_keeps_a_job_that_failed_for_good(worker):
    enqueue("provisioning.execute_run", 987654)

    failure = worker.wait_for(
        lambda: db.session.scalars(select(JobFailure)).first(), "record the failed job"
    )
    assert (failure.name, failure.args, failure.attempts) == (
        "provisioning.execute_run",
        [987654],
        1,
    )
    assert failure.error == "DomainError: provisioning run 987654 does not exist"


def broker_connections(worker: Worker) -> set[str]:
    """``host:port`` of the worker's own ends of its TCP connections (its whole process
    group: the main process and its pool), read from /proc."""
    inodes: set[str] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != worker.process.pid:
                continue  # not in the worker's process group
            for fd in (stat.parent / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    ends = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            address, port = fields[1].split(":")
            host = ".".join(str(b) for b in reversed(bytes.fromhex(address)))
            ends.add(f"{host}:{int(port, 16)}")
    return ends


@pytest.mark.celery
def test_a_real_worker_survives_losing_the_broker(worker):
    """Redis drops the worker's connections (a restart, a failover): the worker reconnects
    and takes the next job, instead of exiting."""
    import redis

    broker = redis.Redis.from_url(REDIS_URL)
    enqueue("provisioning.execute_run", 424242)  # the worker is up and consuming
    worker.wait_for(lambda: _failure_for(424242), "take a job")
    ends = broker_connections(worker)
    ours = [c["id"] for c in broker.client_list() if c["addr"] in ends]
    assert ours, "the worker holds no connection to the broker"
    for client_id in ours:
        broker.client_kill_filter(_id=client_id)

    enqueue("provisioning.execute_run", 434343)

    worker.wait_for(lambda: _failure_for(434343), "take a job after losing the broker")
    assert worker.process.poll() is None
    assert "Connection to broker lost" in worker.log.read_text()


def _failure_for(run_id: int) -> JobFailure | None:
    return next((f for f in db.session.scalars(select(JobFailure)) if f.args == [run_id]), None)


def test_a_task_reports_its_enqueue_to_start_latency(celery_app, extra_job):
    extra_job("tests.celery_timed", print, queue="sweeps", retries=0)

    def bucket(le: str) -> float:
        labels = {"queue": "sweeps", "le": le}
        return REGISTRY.get_sample_value(f"{LATENCY_BASE}_bucket", labels) or 0.0

    before = {le: bucket(le) for le in ("1.0", "5.0")}
    task = celery_app().tasks["tests.celery_timed"]
    task.apply(args=["x"], headers={ENQUEUED_AT: time.time() - 2.0})  # enqueued 2 s ago
    assert bucket("1.0") == before["1.0"]
    assert bucket("5.0") == before["5.0"] + 1


def test_the_queue_depth_is_read_from_redis(app, monkeypatch):
    broker = reachable_redis()
    prefix = f"portal-test-{uuid.uuid4().hex[:10]}."
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", broker)
    monkeypatch.setitem(app.config, "JOB_QUEUE_PREFIX", prefix)
    runner = CeleryRunner(app)
    del app.extensions["celery"]
    try:
        for run_id in (1, 2):
            assert runner.publish("provisioning.execute_run", (run_id,))  # no worker takes it
        assert REGISTRY.get_sample_value(DEPTH, {"queue": "runs"}) == 2
        assert REGISTRY.get_sample_value(DEPTH, {"queue": "webhooks"}) == 0
    finally:
        import redis

        redis.Redis.from_url(broker).delete(
            *(f"{prefix}{name}" for name in QUEUES),
            *(f"_kombu.binding.{prefix}{name}" for name in QUEUES),
        )


def test_an_unreachable_broker_reports_an_unknown_depth(app, monkeypatch):
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.config, "BROKER_TIMEOUT_SECONDS", 0.5)
    CeleryRunner(app)
    del app.extensions["celery"]
    assert math.isnan(REGISTRY.get_sample_value(DEPTH, {"queue": "runs"}))
