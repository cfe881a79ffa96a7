"""A pytest plugin that keeps the suite on this machine: no name is looked up in DNS.

pytest-socket (``--allow-hosts`` in pyproject's ``addopts``) refuses connections to
anything but loopback, but a name is resolved before any connection is tried, and code
that swallows the resulting error (the sandbox recording a failed webhook delivery to
``http://portal.test``) lets a test pass while it waits on DNS. So for the whole session
the resolver functions of :mod:`socket` answer only for loopback and this machine's own
name; any other name fails to resolve, as on a machine without network, and the test
that asked for it errors at teardown even when the code under test caught the failure.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
RESOLVERS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 scope id is no name
    except ValueError:
        return None


def is_local(host: str | bytes | None, *, reverse: bool = False) -> bool:
    """``host`` can be answered without DNS: no host, loopback, this machine's own name, or
    (for a forward lookup) an address literal, which the resolver merely parses."""
    if host is None:
        return True
    name = (host.decode() if isinstance(host, bytes) else host).lower().rstrip(".")
    address = _ip(name)
    if address is not None:
        return address.is_loopback or address.is_unspecified or not reverse
    own = {socket.gethostname().lower()}
    return name in LOOPBACK_NAMES | own or name.endswith(".localhost")


@dataclass
class NameGuard:
    """Stands in for :mod:`socket`'s resolver functions and records every refused name."""

    originals: dict[str, Callable[..., Any]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def guarding(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        reverse = name == "gethostbyaddr"

        def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not is_local(host, reverse=reverse):
                self.refused.append(f"{name}({host!r})")
                raise socket.gaierror(
                    socket.EAI_NONAME, f"the test suite looks up no names in DNS: {host!r}"
                )
            return original(host, *args, **kwargs)

        return guarded

    def install(self) -> None:
        for name in RESOLVERS:
            self.originals[name] = getattr(socket, name)
            setattr(socket, name, self.guarding(name, self.originals[name]))

    def uninstall(self) -> None:
        for name, original in self.originals.items():
            setattr(socket, name, original)
        self.originals.clear()

    def take(self) -> list[str]:
        """The names refused since the last call."""
        refused, self.refused = self.refused, []
        return refused


_GUARD_KEY = pytest.StashKey[NameGuard]()


def pytest_configure(config: pytest.Config) -> None:
    guard = NameGuard()
    guard.install()
    config.stash[_GUARD_KEY] = guard


def pytest_unconfigure(config: pytest.Config) -> None:
    if _GUARD_KEY in config.stash:
        config.stash[_GUARD_KEY].uninstall()


@pytest.fixture
def name_guard(pytestconfig: pytest.Config) -> NameGuard:
    """The session's guard, for a test that looks a name up on purpose (and takes it)."""
    return pytestconfig.stash[_GUARD_KEY]


@pytest.fixture(autouse=True)
def _no_dns_lookups(pytestconfig: pytest.Config) -> Iterator[None]:
    """Fail the test that looked a name up, whether or not the error reached it."""
    guard = pytestconfig.stash[_GUARD_KEY]
    yield
    refused = guard.take()
    if refused:
        pytest.fail(
            "a test looked up names in DNS (use an in-process transport, or loopback): "
            + ", ".join(dict.fromkeys(refused)),
            pytrace=False,
        )
