"""Imports every table module, so ``Base.metadata`` knows the whole schema."""

from . import accounts, audit, partners, tenancy  # noqa: F401
