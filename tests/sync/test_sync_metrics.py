"""A quality sync pass shows in the metrics: passes, time, channels checked and changed,
and each provider call by its templated endpoint."""

from __future__ import annotations

from prometheus_client import REGISTRY

from provisioning.partners import Provider

from .conftest import run_sync


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_sync_passes_and_their_provider_calls_are_counted(session, fleet):
    setup = fleet()
    names = (
        ("portal_sync_passes_total", {"status": "succeeded"}),
        ("portal_sync_pass_duration_seconds_count", {}),
        ("portal_sync_channels_checked_total", {}),
        ("portal_sync_channels_changed_total", {}),
        ("portal_sync_provider_calls_total", {}),
    )

    def snapshot() -> dict[tuple[str, str], float]:
        return {
            (name, provider.value): value(name, provider=provider.value, **labels)
            for name, labels in names
            for provider in Provider
        }

    meta_pages = {
        "provider": "meta",
        "method": "GET",
        "endpoint": "/{id}/phone_numbers",
        "status": "200",
    }
    pages_before = value("portal_provider_calls_total", **meta_pages)
    before = snapshot()
    runs = run_sync(session, setup)
    first = {key: n - before[key] for key, n in snapshot().items()}
    for provider, run in runs.items():
        p = provider.value
        assert first[("portal_sync_passes_total", p)] == 1
        assert first[("portal_sync_pass_duration_seconds_count", p)] == 1
        assert first[("portal_sync_channels_checked_total", p)] == run.seen == 6
        assert first[("portal_sync_channels_changed_total", p)] == run.changed == 6
        assert first[("portal_sync_provider_calls_total", p)] == run.calls
    assert value("portal_provider_calls_total", **meta_pages) - pages_before == 4
    assert value("portal_sync_last_success_timestamp_seconds", provider="meta") > 0

    before = snapshot()
    run_sync(session, setup)  # nothing changed at the providers
    second = {key: n - before[key] for key, n in snapshot().items()}
    assert second[("portal_sync_channels_checked_total", "twilio")] == 6
    assert second[("portal_sync_channels_changed_total", "twilio")] == 0
