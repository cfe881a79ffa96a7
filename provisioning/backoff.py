"""Exponential backoff: how long to wait before trying again, in one place.

Jobs, provider calls, sync passes, provisioning steps, webhook events and sign-in
throttles all wait ``base * 2 ** (attempt - 1)`` after failed attempt ``attempt``, capped
at a ceiling; a provider that names its own wait (``Retry-After``) is believed.
"""

from __future__ import annotations

import math
import random

MAX_EXPONENT = 64  # beyond it every realistic ceiling is reached; keeps the float finite


def exponential(
    attempt: int,
    base: float,
    ceiling: float = math.inf,
    *,
    retry_after: float | None = None,
    jitter: float = 0.0,
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1 for the first failure).

    ``base`` doubles with each attempt up to ``ceiling``. ``retry_after`` (the provider's
    ``Retry-After``, when positive) replaces the computed wait, still capped at
    ``ceiling``. ``jitter`` (0 to 1) draws the computed wait at random from
    ``[wait * (1 - jitter), wait]``, so that clients that failed together do not retry
    together; a provider's own wait is never shortened.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter is a fraction between 0 and 1, not {jitter}")
    if retry_after is not None and retry_after > 0:
        return min(float(retry_after), ceiling)
    wait = min(base * 2.0 ** min(attempt - 1, MAX_EXPONENT), ceiling)
    if jitter:
        wait *= random.uniform(1.0 - jitter, 1.0)  # noqa: S311 (spreads retries; no secret)
    return wait
