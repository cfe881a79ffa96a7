"""Imports every table module, so ``Base.metadata`` knows the whole schema."""

from . import accounts, audit, partners, runs, tenancy  # noqa: F401
