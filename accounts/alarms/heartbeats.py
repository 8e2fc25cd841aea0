"""db_workers' signs of life: each records its host, process id and start, and refreshes its row while it runs."""

from __future__ import annotations

import datetime as dt
import os
import socket

from django.utils import timezone

from accounts.alarms.conditions import WORKER_SILENCE
from accounts.alarms.models import WorkerHeartbeat

# Rows of workers gone this long are removed when another worker starts.
HEARTBEATS_KEPT = dt.timedelta(days=1)


def heartbeat_start() -> WorkerHeartbeat:
    """This process's row, written as it starts (rows of workers long gone are removed)."""
    now = timezone.now()
    WorkerHeartbeat.objects.filter(last_seen_at__lt=now - HEARTBEATS_KEPT).delete()
    return WorkerHeartbeat.objects.create(host=socket.gethostname(), pid=os.getpid(), started_at=now, last_seen_at=now)


def heartbeat_beat(heartbeat: WorkerHeartbeat) -> None:
    """A sign of life; the row is written again if it was removed meanwhile (e.g. after a long outage)."""
    heartbeat.last_seen_at = timezone.now()
    if not WorkerHeartbeat.objects.filter(pk=heartbeat.pk).update(last_seen_at=heartbeat.last_seen_at):
        heartbeat.save(force_insert=True)


def heartbeat_stop(heartbeat: WorkerHeartbeat) -> None:
    """The worker stops cleanly: its row goes (a killed worker's row just stops being refreshed)."""
    WorkerHeartbeat.objects.filter(pk=heartbeat.pk).delete()


def workers_live(*, now: dt.datetime | None = None) -> list[WorkerHeartbeat]:
    """The workers that showed a sign of life in the last 2 minutes, oldest first."""
    now = now or timezone.now()
    return list(WorkerHeartbeat.objects.filter(last_seen_at__gte=now - WORKER_SILENCE).order_by("started_at", "pk"))
