"""A rate limit for batch calls to Clerk: at most `limit` requests in any window of `period` seconds.

Clerk allows 100 requests per 10 seconds on development instances and 1,000
on production ones, per instance: a reconciliation pass must leave most of that
to the app's own requests (just-in-time creation) and to other services. The
window slides: the limiter remembers when each of the last `limit` requests
was sent and, before another, sleeps until the oldest of them is `period` old.
One limiter serves one pass (passes never overlap: accounts/reconcile/).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Call it before each request; it returns once the request may be sent. Thread-safe."""

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a rate limit needs at least one request per a positive period")
        self.limit = limit
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if len(self._sent) == self.limit:
                wait = self._sent[0] + self.period - self.clock()
                if wait > 0:
                    self.sleep(wait)
            self._sent.append(self.clock())
