"""The one backoff formula: doubling from a base, a ceiling, the provider's own wait, jitter."""

from __future__ import annotations

import math

import pytest

from provisioning.backoff import exponential


def test_the_wait_doubles_from_the_base_with_each_attempt():
    assert [exponential(n, 5.0) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]


def test_the_wait_stops_growing_at_the_ceiling():
    assert [exponential(n, 2.0, 10.0) for n in (2, 3, 4, 50)] == [4.0, 8.0, 10.0, 10.0]


def test_a_huge_attempt_count_stays_finite():
    assert exponential(10_000, 1.0, 600.0) == 600.0
    assert math.isfinite(exponential(10_000, 1.0))


def test_the_providers_retry_after_replaces_the_computed_wait_up_to_the_ceiling():
    assert exponential(1, 5.0, 600.0, retry_after=40) == 40.0
    assert exponential(6, 5.0, 600.0, retry_after=3) == 3.0  # the provider knows best
    assert exponential(1, 5.0, 600.0, retry_after=3600) == 600.0
    assert exponential(2, 5.0, retry_after=0) == exponential(2, 5.0, retry_after=None) == 10.0


def test_jitter_draws_the_wait_below_the_computed_one():
    waits = {exponential(3, 2.0, jitter=0.5) for _ in range(50)}
    assert all(4.0 <= wait <= 8.0 for wait in waits)
    assert len(waits) > 1  # clients that failed together do not retry together
    assert exponential(3, 2.0, retry_after=7, jitter=0.5) == 7.0  # never shortened


@pytest.mark.parametrize(
    ("attempt", "jitter", "message"),
    [(0, 0.0, "attempt counts from 1"), (1, 1.5, "jitter is a fraction")],
)
def test_nonsense_arguments_are_refused(attempt, jitter, message):
    with pytest.raises(ValueError, match=message):
        exponential(attempt, 1.0, jitter=jitter)
