"""Typed errors raised at the provider boundary and by services.

``ProviderError`` carries what a person needs to act on a provider failure; its
subclasses say what the caller may do about it: retry (``Retryable``), ask the
customer to reauthorize (``AuthError``), or stop and show the message (``Rejected``).
"""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """A service refused an operation; the message is safe to show to the user."""


class NotFound(DomainError):
    """The row does not exist, or belongs to another company."""


@dataclass
class ProviderError(Exception):
    provider: str
    message: str
    http_status: int | None = None
    code: str | None = None
    subcode: str | None = None
    trace_id: str | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        parts = [f"{self.provider}: {self.message}"]
        if self.code:
            parts.append(f"code {self.code}" + (f"/{self.subcode}" if self.subcode else ""))
        if self.http_status:
            parts.append(f"HTTP {self.http_status}")
        if self.trace_id:
            parts.append(f"trace {self.trace_id}")
        return " · ".join(parts)


class Retryable(ProviderError):
    """Timeouts, 5xx and throttling: safe to retry after a backoff when the call is."""


class InProgress(Retryable):
    """Another request is creating the same object right now: the answer comes soon."""


class Unreachable(Retryable):
    """No answer: connection refused, DNS failure, timeout, or a dropped response."""


class AuthError(ProviderError):
    """Credentials were refused: the customer or the platform must reauthorize."""


class Rejected(ProviderError):
    """The provider refused the request itself; retrying the same call will not help."""


class BlockedDestination(ProviderError):
    """The platform refused to connect: the URL's host or address is not one provider calls
    may reach (a private address, or a host outside the production allowlist)."""
