"""Faults the sandbox injects on purpose, seeded so that a failing test replays.

Kinds:
- ``latency``: wait ``seconds`` before answering (the call still happens);
- ``throttle``: answer with the provider's own rate-limit error, nothing happens;
- ``server_error``: answer 5xx in the provider's envelope, nothing happens;
- ``timeout``: no answer and nothing happens;
- ``drop``: the provider does the work, then the response is lost (the case that
  makes a naive retry buy a second number).
"""

from __future__ import annotations

import builtins
import random
import re
import threading
from dataclasses import dataclass, field

KINDS = ("latency", "throttle", "server_error", "timeout", "drop")


@dataclass
class Fault:
    kind: str
    provider: str | None = None  # None: every provider
    method: str | None = None  # None: every method
    path: str | None = None  # a regular expression searched in the path under the provider
    probability: float = 1.0
    times: int | None = None  # None: forever
    seconds: float = 0.0  # latency, or how long a timeout hangs on the real server
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        self._pattern = re.compile(self.path) if self.path else None

    def matches(self, provider: str, method: str, path: str) -> bool:
        return (
            (self.provider is None or self.provider == provider)
            and (self.method is None or self.method.upper() == method.upper())
            and (self._pattern is None or bool(self._pattern.search(path)))
            and (self.times is None or self.hits < self.times)
        )


class FaultPlan:
    """The list of active faults; ``pick`` decides, seeded, what happens to a request."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)  # noqa: S311 (deterministic test faults)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, kind: str, **options: object) -> Fault:
        fault = Fault(kind, **options)  # type: ignore[arg-type]
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, provider: str, method: str, path: str) -> builtins.list[Fault]:
        """The faults that fire for this request: any latency first, then at most one other."""
        fired: builtins.list[Fault] = []  # builtins: ``list`` is the method above
        with self._lock:
            for fault in self._faults:
                if not fault.matches(provider, method, path):
                    continue
                if self._rng.random() >= fault.probability:
                    continue
                if fault.kind != "latency" and any(f.kind != "latency" for f in fired):
                    continue
                fault.hits += 1
                fired.append(fault)
        return sorted(fired, key=lambda f: f.kind != "latency")
