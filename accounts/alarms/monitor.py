"""The db_worker's monitor thread: a heartbeat, then every alarm evaluated, every ALARM_INTERVAL_SECONDS."""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, connection

from accounts.alarms.evaluate import alarms_evaluate
from accounts.alarms.heartbeats import heartbeat_beat, heartbeat_start, heartbeat_stop
from accounts.alarms.models import WorkerHeartbeat

logger = logging.getLogger("accounts.worker")


class Monitor:
    """A daemon thread; `stop()` removes this worker's heartbeat (a killed worker's simply goes stale)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.heartbeat: WorkerHeartbeat | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alarm-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=max(self.interval, 5))
        if self.heartbeat is not None:
            try:
                heartbeat_stop(self.heartbeat)
            except DatabaseError:
                pass  # it goes stale, as a killed worker's would
            finally:
                _close_quietly()

    def _loop(self) -> None:
        while True:
            try:
                # The beat first: a worker starting alone must not find worker_down raised by its own absence.
                if self.heartbeat is None:
                    self.heartbeat = heartbeat_start()
                else:
                    heartbeat_beat(self.heartbeat)
                alarms_evaluate()
            except DatabaseError as exc:
                logger.warning("alarm evaluation failed (%s); trying again in %ss", str(exc).strip(), self.interval)
            except Exception:
                logger.exception("alarm evaluation failed; trying again in %ss", self.interval)
            finally:
                _close_quietly()
            if self._stopped.wait(self.interval):
                return


def _close_quietly() -> None:
    try:
        connection.close()
    except DatabaseError:
        pass
