"""The alarms' shared state and the workers' heartbeats: rows every worker and host read and write alike."""

from django.db import models
from django.utils import timezone


class AlarmState(models.Model):
    """One row per alarm: raised or clear, and since when; each transition is one conditional UPDATE."""

    name = models.CharField(max_length=64, primary_key=True)
    raised = models.BooleanField(default=False)
    since = models.DateTimeField(default=timezone.now, help_text="When the alarm was last raised or cleared.")
    detail = models.CharField(max_length=500, blank=True, help_text="What the condition saw when it was raised.")

    class Meta:
        permissions = [("open_clerk_webhook_dashboard", "Can open Clerk's webhook dashboard")]

    def __str__(self) -> str:
        return f"{self.name} {'raised' if self.raised else 'clear'} since {self.since:%Y-%m-%d %H:%M:%S}"


class WorkerHeartbeat(models.Model):
    """A db_worker's sign of life: written when it starts, refreshed on every alarm period, removed when it stops."""

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"
