"""The suite stays on this machine: names are not looked up, connections stay on loopback."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest

from tests.hermetic import NameGuard, is_local

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("host", "reverse", "local"),
    [
        ("portal.test", False, False),
        ("graph.facebook.com", False, False),
        ("localhost", False, True),
        ("LOCALHOST.", False, True),
        ("app.localhost", False, True),
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("93.184.216.34", False, True),  # a literal is parsed, not looked up
        ("93.184.216.34", True, False),  # ... but its reverse lookup is DNS
        ("127.0.0.1", True, True),
        (None, False, True),  # a passive bind
        (b"portal.test", False, False),
    ],
)
def test_only_loopback_and_literals_resolve_without_dns(host, reverse, local):
    assert is_local(host, reverse=reverse) is local


def test_the_machines_own_name_is_local():
    """smtplib greets with ``getfqdn()``, which looks this machine's name up."""
    assert is_local(socket.gethostname(), reverse=True)


def test_a_refused_name_fails_to_resolve_and_is_recorded():
    guard = NameGuard()
    lookup = guard.guarding("getaddrinfo", lambda host, *a: [("resolved", host)])
    with pytest.raises(socket.gaierror, match=r"portal\.test"):
        lookup("portal.test", 80)
    assert lookup("127.0.0.1", 80) == [("resolved", "127.0.0.1")]
    assert guard.take() == ["getaddrinfo('portal.test')"]
    assert guard.take() == []


def test_the_guard_is_installed_for_the_session(name_guard: NameGuard):
    with pytest.raises(socket.gaierror):
        socket.gethostbyname("example.com")
    assert name_guard.take() == ["gethostbyname('example.com')"]  # asked on purpose


def test_connections_off_loopback_are_refused():
    """pytest-socket, configured in pyproject's addopts, allows loopback only."""
    with (
        socket.socket() as sock,
        pytest.warns(UserWarning, match="192.0.2.1"),
        pytest.raises(RuntimeError, match="allowed"),
    ):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed


def test_a_swallowed_lookup_still_fails_its_test(pytester: pytest.Pytester, monkeypatch):
    """The sandbox's webhook client catches connection errors: the test fails anyway."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest('pytest_plugins = ["tests.hermetic"]')
    pytester.makepyfile(
        textwrap.dedent(
            """
            import httpx

            def test_posts_a_webhook_to_a_name():
                try:
                    httpx.post("http://portal.test/webhooks", timeout=1)
                except httpx.ConnectError:
                    pass  # a failed delivery, recorded and retried later

            def test_posts_to_loopback_only():
                pass
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*looked up names in DNS*portal.test*"])
