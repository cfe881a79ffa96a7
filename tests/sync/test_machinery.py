"""The sync's shared machinery: concurrent fetches with retries, pacing, usage headers."""

from __future__ import annotations

import threading

import httpx

from provisioning.errors import Rejected, Retryable
from provisioning.meta.sync import Usage
from provisioning.sync import Pacer, SyncPolicy, fetch_concurrently

POLICY = SyncPolicy(workers=3, max_attempts=3, backoff=0.001, max_pause=1.0)


class FlakyProvider:
    """Fails each target a given number of times with a given error, then answers.

    With ``meet=n`` the first ``n`` calls wait for one another (a barrier, not a sleep), so
    the test knows that many ran at the same time.
    """

    def __init__(self, failures: dict[str, int], error=None, meet: int = 0) -> None:
        self.failures = dict(failures)
        self.error = error or (lambda: Retryable("test", "slow down", 429))
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.running = self.peak = 0
        self.meet = meet
        self.barrier = threading.Barrier(meet) if meet else None

    def fetch(self, target: str) -> str:
        with self.lock:
            self.calls.append(target)
            self.running += 1
            self.peak = max(self.peak, self.running)
            waits = len(self.calls) <= self.meet
        try:
            if waits and self.barrier is not None:
                self.barrier.wait(timeout=30)  # broken (an error) if they never overlap
            with self.lock:
                left = self.failures.get(target, 0)
                self.failures[target] = left - 1
            if left > 0:
                raise self.error()
            return target.upper()
        finally:
            with self.lock:
                self.running -= 1


def test_every_target_is_fetched_once_when_all_goes_well_with_bounded_concurrency():
    provider = FlakyProvider({}, meet=POLICY.workers)
    targets = [f"t{i}" for i in range(20)]
    outcomes = list(fetch_concurrently(targets, provider.fetch, POLICY))
    assert sorted(o.result for o in outcomes) == sorted(t.upper() for t in targets)
    assert sorted(provider.calls) == sorted(targets) and provider.peak == POLICY.workers


def test_targets_are_pulled_lazily():
    pulled: list[int] = []

    def targets():
        for i in range(100):
            pulled.append(i)
            yield str(i)

    outcomes = fetch_concurrently(targets(), FlakyProvider({}).fetch, POLICY)
    next(outcomes)
    assert len(pulled) <= 2 * POLICY.workers + 1
    outcomes.close()


def test_a_throttled_target_is_retried_then_reported_once_its_attempts_are_spent():
    provider = FlakyProvider({"a": 2, "b": 5})
    outcomes = {o.target: o for o in fetch_concurrently(["a", "b", "c"], provider.fetch, POLICY)}
    assert outcomes["a"].result == "A" and outcomes["c"].result == "C"
    assert isinstance(outcomes["b"].error, Retryable) and outcomes["b"].result is None
    assert provider.calls.count("a") == 3 and provider.calls.count("b") == POLICY.max_attempts


def test_a_wait_longer_than_the_policy_allows_is_reported_at_once():
    def error() -> Retryable:
        return Retryable("test", "come back in an hour", 429, retry_after=3600)

    provider = FlakyProvider({"a": 1}, error)
    (outcome,) = fetch_concurrently(["a"], provider.fetch, POLICY)
    assert outcome.error.retry_after == 3600 and provider.calls == ["a"]


def test_a_refusal_is_not_retried():
    provider = FlakyProvider({"a": 1}, lambda: Rejected("test", "no", 400))
    (outcome,) = fetch_concurrently(["a"], provider.fetch, POLICY)
    assert isinstance(outcome.error, Rejected) and provider.calls == ["a"]


def test_calls_are_spaced_out_as_usage_nears_the_limit():
    pacer = Pacer(SyncPolicy(slow_from=80, max_spacing=2.0), sleep=lambda s: None)
    assert [pacer.spacing(p) for p in (0, 79, 80, 90, 100, 150)] == [0, 0, 0, 1.0, 2.0, 2.0]
    slept: list[float] = []
    pacer.sleep = slept.append
    pacer.report(90)
    pacer.before_call()
    pacer.pause(30)
    pacer.before_call()
    assert slept[0] == 1.0 and 30 < slept[1] <= 31


def test_graph_usage_headers_are_read_as_percentages_and_seconds():
    headers = httpx.Headers(
        {
            "x-app-usage": '{"call_count":12,"total_cputime":40,"total_time":7}',
            "x-business-use-case-usage": '{"123":[{"type":"whatsapp_business_management",'
            '"call_count":100,"total_cputime":3,"total_time":4,'
            '"estimated_time_to_regain_access":7}]}',
        }
    )
    assert Usage.from_headers(headers) == Usage(app=40, waba=100, regain_seconds=420)
    broken = httpx.Headers({"x-app-usage": "{not json", "x-business-use-case-usage": "[]"})
    assert Usage.from_headers(broken) == Usage() == Usage.from_headers(httpx.Headers())
