"""360dialog simulator (Partner API v2, hub permissions page, waba-v2); see ``simulator``."""

from .simulator import Dialog360Simulator

__all__ = ["Dialog360Simulator"]
