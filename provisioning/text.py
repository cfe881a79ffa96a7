"""Plain text people type: one-line values (mail headers, names) without control characters,
and identifiers made of ASCII digits.

``\\d`` and ``str.isdigit`` also accept Arabic-Indic, fullwidth or superscript digits, which
no provider or registry takes (and ``int`` refuses some of): digit checks use
:func:`ascii_digits`, ``[0-9]`` or ``re.ASCII``.
"""

from __future__ import annotations

import unicodedata


def has_control_characters(value: str) -> bool:
    """True when ``value`` holds a line break, tab, NUL or any other control character."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)


def one_line(value: str, limit: int | None = None) -> str:
    """``value`` on one line: control characters and line breaks become spaces, runs of
    whitespace one space; cut to ``limit`` characters."""
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in value
    )
    text = " ".join(text.split())
    return text[:limit] if limit is not None else text


def ascii_digits(value: str, low: int, high: int | None = None) -> bool:
    """``value`` is ``low`` to ``high`` (default: exactly ``low``) ASCII digits."""
    return value.isascii() and value.isdigit() and low <= len(value) <= (high or low)
