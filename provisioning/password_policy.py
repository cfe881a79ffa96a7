"""What a new password must be: long enough, and not a common or guessable one.

Following ASVS 4.0 V2.1 (and NIST SP 800-63B): at least 12 characters, at most 200, any
characters, no composition rules; refused when it is one of the 30,000 most common
passwords (case-insensitive), such a password with digits or symbols appended
(``Password2024!``), or contains the account's e-mail name.

The list (``data/common-passwords.txt.gz``) is the "passwords" frequency list shipped by
zxcvbn (MIT licence; see ``data/common-passwords.NOTICE``), drawn from Mark Burnett's ten
million leaked passwords. It is read once, on first use.
"""

from __future__ import annotations

import functools
import gzip
import string
from pathlib import Path

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt.gz"
_APPENDED = string.digits + string.punctuation + string.whitespace


@functools.cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip().lower() for line in fh if line.strip())


def problem(password: str, email: str = "") -> str | None:
    """What makes ``password`` unacceptable for the account ``email``, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password can have at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or lowered.rstrip(_APPENDED) in common:
        return "This password is one of the most common ones. Choose another."
    name = email.partition("@")[0].lower()
    if len(name) >= 4 and name in lowered:
        return "The password must not contain your e-mail address."
    return None
