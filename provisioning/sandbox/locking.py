"""The sandbox's one lock: reentrant, and released while the sandbox waits on the network.

The sandbox serialises its state changes, but a webhook it sends may reach a portal that
is itself waiting on the sandbox (a control action run from an admin page, a job calling
a provider); holding the lock across that call would deadlock the two.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SandboxLock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return
        self._lock.acquire()
        self._owner, self._depth = me, 1

    def release(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("the sandbox lock is not held by this thread")
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    def __enter__(self) -> SandboxLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Let go entirely (whatever the depth) for the block, then take it back."""
        me = threading.get_ident()
        if self._owner != me:
            yield
            return
        depth, self._owner, self._depth = self._depth, None, 0
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._owner, self._depth = me, depth
