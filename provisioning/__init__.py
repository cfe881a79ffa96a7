"""The provisioning domain: models and services, free of any web framework.

Nothing in this package imports ``flask`` or ``portal``. Services take a SQLAlchemy
session (and provider clients) as arguments and ``flush()``; the caller commits.
"""
