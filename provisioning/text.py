"""Plain text that ends up in one-line places (mail headers, names): no control characters."""

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
