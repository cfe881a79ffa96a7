"""What production refuses to run with: the debugger, the sandbox, a weak ``SECRET_KEY``.

``config.load`` raises a ``ConfigError`` with every refusal at once; the demo commands
refuse themselves (``portal/demo.py``). docs/security/headers-and-production.md explains each.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise
from typing import Any

import click
from flask.helpers import get_debug_flag

MIN_SECRET_KEY_BYTES = 32
MIN_SECRET_KEY_BITS = 80  # estimated from the key's own characters; a random hex key has ~115
# Words of the values people paste from examples; a random key holds none of them
# (a given 6-letter word turns up in one random 64-character key in 10^7).
PLACEHOLDER_WORDS = (
    "changeme", "change-me", "change_me", "placeholder", "example", "secret", "password",
    "replace", "your-", "your_", "default", "insecure", "development", "not-for-prod",
)  # fmt: skip
GENERATE_HINT = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def refusals(config: dict[str, Any]) -> list[str]:
    """Why this production configuration must not start (empty: it may)."""
    problems = []
    if config.get("DEBUG") or get_debug_flag() or _debugger_requested():
        problems.append(
            "debug mode (FLASK_DEBUG, flask run --debug or --debugger) serves the Werkzeug "
            "debugger, which runs any Python code a visitor sends: unset it"
        )
    if config["PROVIDER_ENVIRONMENT"] != "production":
        problems.append(
            "PROVIDER_ENVIRONMENT=sandbox sends companies to the provider simulators: "
            "production onboards through the real providers (use PORTAL_ENV=demo to try "
            "the sandbox)"
        )
    weakness = secret_key_weakness(config["SECRET_KEY"])
    if weakness:
        problems.append(f"SECRET_KEY {weakness}; {GENERATE_HINT}")
    return problems


def _debugger_requested() -> bool:
    """``flask run --debugger`` turns the debugger on without setting FLASK_DEBUG."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.info_name == "run" and ctx.params.get("debugger"))


def secret_key_weakness(key: str) -> str | None:
    """What makes ``key`` guessable, or None: too short, a placeholder, too regular."""
    size = len(key.encode())
    if size < MIN_SECRET_KEY_BYTES:
        return f"is {size} bytes long: production needs at least {MIN_SECRET_KEY_BYTES}"
    lowered = key.lower()
    word = next((w for w in PLACEHOLDER_WORDS if w in lowered), None)
    if word:
        return f"looks like a placeholder (it contains {word!r}), not a random value"
    if _estimated_bits(key) < MIN_SECRET_KEY_BITS or _run_share(key) > 0.6:
        return "is too regular to be random (repeated or consecutive characters)"
    return None


def _estimated_bits(key: str) -> float:
    """Shannon entropy of the key's character frequencies, times its length."""
    counts, size = Counter(key), len(key)
    return -sum(n * math.log2(n / size) for n in counts.values())


def _run_share(key: str) -> float:
    """Share of neighbouring characters that repeat or count on (``aaaa``, ``1234``)."""
    pairs = list(pairwise(key))
    return sum(abs(ord(a) - ord(b)) <= 1 for a, b in pairs) / max(len(pairs), 1)
