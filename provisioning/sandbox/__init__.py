"""Wire-faithful, stateful simulators of Meta Graph, 360dialog and Twilio.

Used in process by the tests (``Sandbox().transport()``) and as a real HTTP server
by the demo (:mod:`provisioning.sandbox.server`). See :mod:`.core` for the URL layout.
"""

from .clock import SimClock
from .core import Sandbox, SandboxTransport

__all__ = ["Sandbox", "SandboxTransport", "SimClock"]
