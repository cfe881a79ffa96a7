"""The one place provider HTTP clients are built: timeouts, bounded retries, redaction,
and the outbound guard.

Each provider's ``api.py`` subclasses :class:`ProviderClient` and maps the provider's
error envelope to the typed errors of :mod:`provisioning.errors`. A non-idempotent
call (buying a number, generating a key) is never retried here: its caller records
the intent and reconciles with the provider before trying again. Every client's
transport sits behind :class:`provisioning.outbound.GuardedTransport`: a call to an
address the policy refuses raises :class:`~provisioning.errors.BlockedDestination`.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .errors import BlockedDestination, ProviderError, Retryable, Unreachable
from .metrics import provider_call
from .outbound import guarded

log = logging.getLogger("provisioning.http")

SECRET_PARAMS = re.compile(
    r"(?i)((?:access_token|client_secret|code|api_key|apikey|token|password|pin|auth_token|"
    r"fb_exchange_token|input_token)=)[^&\s]+"
)
SECRET_HEADERS = {"authorization", "x-api-key", "d360-api-key", "cookie", "x-twilio-signature"}
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def redact_url(url: str | httpx.URL) -> str:
    """The URL with every secret-bearing query parameter masked."""
    return SECRET_PARAMS.sub(r"\1***", str(url))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


class ProviderClient:
    """Base for one provider's HTTP client: one long-lived ``httpx.Client`` per instance.

    ``transport`` is the seam for tests and the sandbox; production passes nothing, or the
    portal's guarded transport (its outbound policy). Either way it is guarded.
    """

    provider = "provider"

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=guarded(transport),
            timeout=timeout,
            headers=headers,
            auth=auth,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map_error(self, response: httpx.Response) -> ProviderError:
        """Turn a non-2xx response into a typed error; providers override this."""
        kind = Retryable if response.status_code == 429 or response.status_code >= 500 else None
        cls = kind or ProviderError
        return cls(self.provider, response.reason_phrase or "error", response.status_code)

    def request(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; retry retryable failures only when the call is idempotent."""
        if idempotent is None:
            idempotent = method.upper() in {"GET", "HEAD", "OPTIONS", "DELETE", "PUT"}
        attempts = self.max_attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._send_once(method, path, **kwargs)
            except Retryable as exc:
                if attempt == attempts:
                    raise
                delay = exc.retry_after or self.backoff * 2 ** (attempt - 1)
                delay = min(delay, 30.0) * (1 + random.random() / 4)  # noqa: S311 (jitter)
                log.info("%s %s retry %d in %.2fs: %s", method, path, attempt, delay, exc)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _send_once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        try:
            with provider_call(self.provider, method, self._endpoint_path(path)) as call:
                response = self.http.request(method, path, **kwargs)
                call.status = response.status_code
        except (BlockedDestination, Unreachable) as exc:  # from the guard: name the provider
            exc.provider = self.provider
            raise
        except httpx.TimeoutException as exc:
            raise Unreachable(self.provider, f"no answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise Unreachable(self.provider, f"not reachable: {exc}") from exc
        elapsed = (time.perf_counter() - started) * 1000
        log.debug(
            "%s %s -> %s in %.0f ms",
            method,
            redact_url(response.request.url),
            response.status_code,
            elapsed,
        )
        if response.is_success:
            return response
        raise self.map_error(response)

    def _endpoint_path(self, path: str) -> str:
        """``path`` relative to the client's base URL (paging links are absolute), so that
        a call is labelled the same whichever way it was made."""
        if "://" not in path:
            return path
        url, base = httpx.URL(path), self.http.base_url.path.rstrip("/")
        return url.path[len(base) :] if base and url.path.startswith(base + "/") else url.path


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None
