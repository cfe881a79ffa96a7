"""Where provider calls may connect: the guard against SSRF and secret exfiltration.

Platform admins set provider base URLs, and every provider call carries a secret (an app
secret, a partner key, a master token). :class:`GuardedTransport` stands between every
provider client and the network (``provisioning.http`` and the Twilio SDK adapter wrap
each transport in it):

- the URL is checked first: http(s) only; in production only the providers' own hosts
  (or a host in ``PROVIDER_URL_ALLOWLIST``), over https;
- the host is resolved once; every address it resolves to must be public (no loopback,
  private, link-local, shared, reserved or multicast address), and the connection goes
  to the address that was checked (TLS SNI, certificate and ``Host`` keep the name), so
  DNS rebinding between the check and the connection cannot move it;
- provider clients follow no redirects; were one followed, each hop comes through here;
- the sandbox origin the operator configured (``SANDBOX_URL``, outside production) is the
  one place a private address may be reached.

A transport injected in place of the network (tests, the in-process sandbox) gets the URL
checks only: it opens no connection, so there is nothing to resolve.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from .errors import BlockedDestination, Unreachable

Resolver = Callable[[str, int], list[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
DEFAULT_PORTS = {"http": 80, "https": 443}
SANDBOX_HINT = "only the configured sandbox (SANDBOX_URL) may be one"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_refusal(address: str | Address) -> str | None:
    """Why a provider call may not connect to ``address`` (None: a public address)."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 is judged as the IPv4 address it reaches
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return f"{ip} is not a unicast public address"
    if not ip.is_global or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return f"{ip} is a private address"
    return None


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """``host`` is one of ``patterns`` (``*.example.com`` matches any subdomain)."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def _origin(url: httpx.URL) -> tuple[str, int]:
    return url.host.lower(), url.port or DEFAULT_PORTS.get(url.scheme, 0)


@dataclass(frozen=True)
class OutboundPolicy:
    """Where provider calls may go.

    ``production`` fixes provider URLs to ``provider_hosts`` (every provider's real hosts)
    and ``allowlist`` (the operator's additions), over https. ``sandbox`` holds the
    ``(host, port)`` origins of the configured sandbox: the only ones that may be private.
    """

    production: bool = False
    provider_hosts: frozenset[str] = frozenset()
    allowlist: frozenset[str] = frozenset()
    sandbox: frozenset[tuple[str, int]] = frozenset()
    resolve: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        *,
        production: bool = False,
        provider_hosts: Iterable[str] = (),
        allowlist: Iterable[str] = (),
        sandbox_urls: Iterable[str] = (),
        resolve: Resolver | None = None,
    ) -> OutboundPolicy:
        return cls(
            production=production,
            provider_hosts=frozenset(provider_hosts),
            allowlist=frozenset(allowlist),
            sandbox=frozenset(_origin(httpx.URL(u)) for u in sandbox_urls if u),
            resolve=resolve or system_resolver,
        )

    def is_sandbox(self, url: httpx.URL) -> bool:
        return _origin(url) in self.sandbox

    def refusal(self, url: str | httpx.URL, hosts: Iterable[str] | None = None) -> str | None:
        """Why ``url`` may not be called, judged without DNS (None: nothing against it yet).

        ``hosts`` are the production hosts of the one setting being saved; by default any
        provider's host will do.
        """
        try:
            url = httpx.URL(url) if isinstance(url, str) else url
        except httpx.InvalidURL:
            return "This is not a valid URL."
        if url.scheme not in DEFAULT_PORTS or not url.host:
            return "Only http(s) URLs with a host can be called."
        if self.is_sandbox(url):
            return None
        host = url.host
        if self.production:
            allowed = (self.provider_hosts if hosts is None else frozenset(hosts)) | self.allowlist
            if not host_matches(host, allowed):
                listed = ", ".join(sorted(allowed)) or "none"
                return (
                    f"{host} is not a provider host allowed in production (allowed: {listed}; "
                    "PROVIDER_URL_ALLOWLIST adds hosts)."
                )
            if url.scheme != "https":
                return "Provider URLs must use https in production."
        if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
            return f"{host} is a loopback name: provider calls never go there ({SANDBOX_HINT})."
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: its addresses are checked when the call connects
        reason = address_refusal(address)
        return f"{reason}: provider calls never go there ({SANDBOX_HINT})." if reason else None

    def public_address(self, host: str, port: int) -> str:
        """The address to connect to for ``host``, after checking every one it resolves to."""
        try:
            addresses = self.resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise Unreachable("", f"{host} cannot be resolved ({exc})") from exc
        if not addresses:
            raise Unreachable("", f"{host} resolves to no address")
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise BlockedDestination(
                    "", f"refused to connect to {host}: {reason} ({SANDBOX_HINT})"
                )
        return addresses[0]


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that connects only where :class:`OutboundPolicy` allows.

    ``inner`` replaces the network (tests, the in-process sandbox). Without it, requests
    go to the network pinned to the checked address, through one pooled
    ``httpx.HTTPTransport`` per host name: pools are keyed by address, and a connection
    whose certificate was checked for one name must never carry another name's request.
    Pools are opened again if used after :meth:`close`.
    """

    def __init__(
        self,
        policy: OutboundPolicy,
        inner: httpx.BaseTransport | None = None,
        *,
        network: Callable[[], httpx.BaseTransport] = httpx.HTTPTransport,
    ) -> None:
        self.policy = policy
        self.inner = inner
        self._open_network = network
        self._networks: dict[str, httpx.BaseTransport] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reason = self.policy.refusal(request.url)
        if reason:
            raise BlockedDestination("", reason)
        if self.inner is not None:
            return self.inner.handle_request(request)
        name = request.url.raw_host.decode("ascii").lower()
        if not self.policy.is_sandbox(request.url):
            _pin(request, self.policy.public_address(name, _origin(request.url)[1]))
        return self._network_for(name).handle_request(request)

    def _network_for(self, name: str) -> httpx.BaseTransport:
        with self._lock:
            if name not in self._networks:
                self._networks[name] = self._open_network()
            return self._networks[name]

    def close(self) -> None:
        with self._lock:
            networks, self._networks = list(self._networks.values()), {}
        for network in networks:
            network.close()
        if self.inner is not None:
            self.inner.close()


def _pin(request: httpx.Request, address: str) -> None:
    """Send ``request`` to ``address``: the ``Host`` header stays the name, and TLS checks
    the name's certificate (SNI), so only the connection's destination changes."""
    request.extensions = {**request.extensions, "sni_hostname": request.url.host}
    request.url = request.url.copy_with(host=address)


STRICT = OutboundPolicy()  # outside the portal: public addresses only, no sandbox


def guarded(transport: httpx.BaseTransport | None) -> GuardedTransport:
    """``transport`` behind the guard (the strict policy unless it already has one)."""
    if isinstance(transport, GuardedTransport):
        return transport
    return GuardedTransport(STRICT, transport)
