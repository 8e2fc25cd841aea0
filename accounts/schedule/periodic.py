"""A db_worker's background threads: work run now and every few seconds, beside the task loop.

The welcome email sweep, the schedule (accounts/schedule/runner.py) and the
alarm monitor (accounts/alarms/monitor.py) are each one of these.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import DatabaseError, connection

logger = logging.getLogger("accounts.worker")


class Periodic:
    """A daemon thread running `work()` now and every `interval` seconds, until stopped; errors are logged."""

    def __init__(self, what: str, work: Callable[[], object], interval: float) -> None:
        self.what = what
        self.work = work
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=what.replace(" ", "-"), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=max(self.interval, 5))

    def _loop(self) -> None:
        while True:
            try:
                self.work()
            except DatabaseError as exc:
                logger.warning("%s failed (%s); trying again in %ss", self.what, str(exc).strip(), self.interval)
            except Exception:
                logger.exception("%s failed; trying again in %ss", self.what, self.interval)
            finally:
                close_quietly()  # this thread's connection: reopened, health and all, next time
            if self._stopped.wait(self.interval):
                return


def close_quietly() -> None:
    try:
        connection.close()
    except DatabaseError:
        pass
