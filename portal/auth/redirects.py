"""Where to go after sign-in: only a path on this site, parsed strictly (no open redirect).

A ``next`` value is followed only when it is, character for character, an absolute path
of this site: it starts with one ``/`` (not ``//`` nor ``/\\``, which browsers read as
another host) and holds nothing but the printable ASCII characters RFC 3986 allows in a
path, query and fragment. Nothing is stripped or decoded to make a value fit: a tab, a
newline, a space, a backslash or any non-ASCII character refuses the whole value (browsers
drop tabs and newlines from URLs, so ``/\\t/evil.example/`` would become
``//evil.example/``; a newline in a ``Location`` header is an error).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_LENGTH = 2000
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?#]*")


def safe_next(target: object) -> str | None:
    """``target`` when it is a path on this site, otherwise None."""
    if not isinstance(target, str) or len(target) > MAX_LENGTH:
        return None
    if not _LOCAL_PATH.fullmatch(target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None
