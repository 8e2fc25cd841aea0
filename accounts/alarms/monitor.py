"""The db_worker's monitor thread: a heartbeat, then every alarm evaluated, every ALARM_INTERVAL_SECONDS."""

from __future__ import annotations

from django.db import DatabaseError

from accounts.alarms.evaluate import alarms_evaluate
from accounts.alarms.heartbeats import heartbeat_beat, heartbeat_start, heartbeat_stop
from accounts.alarms.models import WorkerHeartbeat
from accounts.schedule.periodic import Periodic, close_quietly


class Monitor(Periodic):
    """A Periodic thread; `stop()` also removes this worker's heartbeat (a killed worker's simply goes stale)."""

    def __init__(self, interval: float) -> None:
        super().__init__("alarm evaluation", self._beat_and_evaluate, interval)
        self.heartbeat: WorkerHeartbeat | None = None

    def _beat_and_evaluate(self) -> None:
        # The beat first: a worker starting alone must not find worker_down raised by its own absence.
        if self.heartbeat is None:
            self.heartbeat = heartbeat_start()
        else:
            heartbeat_beat(self.heartbeat)
        alarms_evaluate()

    def stop(self) -> None:
        super().stop()
        if self.heartbeat is not None:
            try:
                heartbeat_stop(self.heartbeat)
            except DatabaseError:
                pass  # it goes stale, as a killed worker's would
            finally:
                close_quietly()
