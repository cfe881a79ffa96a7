"""The Graph API versions the simulator answers for, and the fields each one has.

Graph serves each version for about two years; a call to a retired version is answered
as the oldest live one (Graph's documented automatic upgrade), a version that does not
exist yet is an unknown path. Fields come and go with versions: asking a version for a
field it does not have is error 100, "Tried accessing nonexisting field".

- ``whatsapp_business_manager_messaging_limit`` (the business portfolio's shared limit)
  exists from v24.0 (M-limits; fact sheet, December 2026 corrections).
- ``messaging_limit_tier`` is deprecated in favour of it (M-limits); the simulator stops
  serving it from v25.0, so a client still asking for it fails the way a removed field
  fails.
"""

from __future__ import annotations

import re

VERSION_RE = re.compile(r"^v(\d+)\.(\d+)$")
SUPPORTED = ("v21.0", "v22.0", "v23.0", "v24.0", "v25.0", "v26.0", "v27.0")
DEFAULT_VERSION = "v25.0"  # the app's default version, for calls without a version prefix

# field -> (first version that has it, first version that no longer has it)
FIELD_VERSIONS: dict[str, tuple[str | None, str | None]] = {
    "whatsapp_business_manager_messaging_limit": ("v24.0", None),
    "messaging_limit_tier": (None, "v25.0"),
}


def number(version: str) -> tuple[int, int]:
    match = VERSION_RE.match(version)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def effective(version: str | None) -> str | None:
    """The version Graph answers a call with; None for a version that does not exist."""
    if version is None:
        return DEFAULT_VERSION
    if number(version) < number(SUPPORTED[0]):
        return SUPPORTED[0]  # retired: upgraded to the oldest live version
    return version if version in SUPPORTED else None


def has_field(name: str, version: str) -> bool:
    since, until = FIELD_VERSIONS.get(name, (None, None))
    if since is not None and number(version) < number(since):
        return False
    return until is None or number(version) < number(until)
