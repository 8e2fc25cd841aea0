"""A circuit breaker for calls to Clerk: while Clerk keeps failing, fail at once instead of waiting."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from accounts.clerk.errors import Unavailable
from accounts.clerk.metrics import breaker_open

FAILURES_TO_OPEN = 3  # consecutive calls that found Clerk unavailable
OPEN_SECONDS = 5.0  # at least; a longer Retry-After from Clerk keeps it open longer
MAX_OPEN_SECONDS = 60.0


class CircuitBreaker:
    """Closed: calls go through. Open: they fail at once with Unavailable and its Retry-After.

    It opens after FAILURES_TO_OPEN consecutive failures, for OPEN_SECONDS or
    the Retry-After Clerk last asked for if longer. Once that is over one
    call goes through as a trial (half-open) while the others still fail at
    once; its success closes the breaker, its failure opens it again.
    Thread-safe; one per process.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self._trial_running = False

    def check(self) -> None:
        """Return if a call may go out now; raise Unavailable if not."""
        with self._lock:
            if self._open_until == 0.0:  # closed: failure() sets it once FAILURES_TO_OPEN is reached
                return
            left = self._open_until - self.clock()
            if left <= 0 and not self._trial_running:
                self._trial_running = True  # this call is the trial
                return
            retry_after = max(1, math.ceil(left)) if left > 0 else math.ceil(OPEN_SECONDS)
        raise Unavailable("Clerk keeps failing: not called for now", retry_after=retry_after)

    def success(self) -> None:
        with self._lock:
            self._failures, self._open_until, self._trial_running = 0, 0.0, False
        breaker_open.set(0)

    def failure(self, *, retry_after: float = 0.0) -> None:
        with self._lock:
            self._failures += 1
            self._trial_running = False
            asked = min(float(retry_after), MAX_OPEN_SECONDS)
            if self._failures >= FAILURES_TO_OPEN or self._open_until:
                self._open_until = self.clock() + max(OPEN_SECONDS, asked)
                breaker_open.set(1)

    def reset(self) -> None:
        """Close it (tests; a process never needs it)."""
        self.success()
