"""A db_worker's background threads: work run now and every few seconds, beside the task loop.

The welcome email mailer (accounts/welcome/mailer.py), the schedule (accounts/schedule/runner.py) and the
alarm monitor (accounts/alarms/monitor.py) are each one of these.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import DatabaseError, close_old_connections, connection

logger = logging.getLogger("accounts.worker")


class Periodic:
    """A daemon thread running `work()` now and every `interval` seconds, until stopped; errors are logged."""

    def __init__(
        self,
        what: str,
        work: Callable[[], object],
        interval: float,
        *,
        keeps_connection: bool = False,
        stop_wait: float | None = None,
    ) -> None:
        """`keeps_connection`: the thread's connection is closed after each run unless kept (one running every
        second would reconnect every second); a kept one is still closed after an error, once CONN_MAX_AGE has
        passed, and when the thread stops. `stop_wait`: how long stop() waits for the work in hand to finish."""
        self.what = what
        self.work = work
        self.interval = interval
        self.keeps_connection = keeps_connection
        self.stop_wait = max(interval, 5) if stop_wait is None else stop_wait
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=what.replace(" ", "-"), daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def stopping(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.stop_wait)

    def _loop(self) -> None:
        while True:
            failed = True
            try:
                if self.keeps_connection:
                    close_old_connections()  # one past CONN_MAX_AGE or broken is replaced
                self.work()
                failed = False
            except DatabaseError as exc:
                logger.warning("%s failed (%s); trying again in %ss", self.what, str(exc).strip(), self.interval)
            except Exception:
                logger.exception("%s failed; trying again in %ss", self.what, self.interval)
            finally:
                if failed or not self.keeps_connection:
                    close_quietly()  # this thread's connection: reopened, health and all, next time
            if self._stopped.wait(self.interval):
                close_quietly()  # a kept connection too: a stopped thread leaves none open
                return


def close_quietly() -> None:
    try:
        connection.close()
    except DatabaseError:
        pass
