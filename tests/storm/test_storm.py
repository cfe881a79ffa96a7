"""A small fault storm through the portal's pages (issue 11): nothing repeated, nothing hung.

15 companies each connect a number with Meta and one with 360dialog, and on Twilio buy
a number, register it as a WhatsApp sender and submit the A2P 10DLC registration, all at
once, while a fifth of provider calls fail (5xx, timeouts, answers lost after the
provider acted, throttling). The full storm (510 runs) is bench/fault_storm.py.
"""

from __future__ import annotations

from collections import Counter

from .harness import FAULT_KINDS


def test_the_storm_leaves_no_duplicate_no_500_and_no_run_unfinished(small_storm):
    census, storm = small_storm.census, small_storm.storm
    why = "\n".join([census.problems(), *storm.answers.tracebacks[:1], *storm.breakdowns[:1]])
    assert census.counts() == dict.fromkeys(census.findings, 0), why
    assert storm.breakdowns == [], why


def test_the_storm_was_one(small_storm):
    """Every journey ran and started its runs, and a fifth of provider calls failed."""
    storm = small_storm.storm
    journeys = Counter(outcome.journey for outcome in small_storm.outcomes)
    assert journeys == dict.fromkeys(("meta", "dialog360", "twilio"), 15)
    runs = Counter()
    for name, count in small_storm.census.facts.items():
        if name.startswith(("meta_", "dialog360_", "twilio_")):
            runs[name.split()[0]] += count
    assert min(runs.values()) >= 15 and len(runs) == 3, runs
    calls = sum(storm.transport.calls.values())
    fired = Counter({fault.kind: fault.hits for fault in storm.sandbox.faults.list()})
    assert set(fired) == set(FAULT_KINDS) and min(fired.values()) > 0
    assert 0.15 < sum(fired.values()) / calls < 0.25, (fired, calls)
    assert set(storm.transport.calls) == {"meta", "dialog360", "twilio"}
