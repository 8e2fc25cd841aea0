"""The text /metrics serves: the counters of every process of the host, and gauges read from the database.

Counters and histograms are counted where things happen (webhooks/metrics.py,
accounts/clerk/metrics.py, accounts/sync/metrics.py). Under gunicorn each
process writes them to its own file in PROMETHEUS_MULTIPROC_DIR (set by
gunicorn.conf.py) and any process answering a scrape adds every file up.
The gauges come from the database at scrape time, a few indexed queries
cached for CACHE_SECONDS per process, so a scrape every 15 s costs nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

from django.db.models import Min
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from accounts.alarms.evaluate import alarm_states
from accounts.alarms.heartbeats import workers_live
from accounts.models import UserProvisioning
from webhooks.models import WebhookAttempt
from webhooks.registry import registered_sources

CACHE_SECONDS = 5.0

Welcome = UserProvisioning.WelcomeEmail


def metrics_text() -> bytes:
    """Prometheus' text exposition of every series."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_Database())
    return generate_latest(registry)


class _ThisProcess:
    """The process's own counters, when there is no multiprocess directory (runserver, tests)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _Database:
    def collect(self) -> Iterator[Metric]:
        yield from _figures_cached()


_cache: tuple[float, list[Metric]] | None = None
_cache_lock = threading.Lock()


def _figures_cached() -> list[Metric]:
    global _cache
    with _cache_lock:
        if _cache is None or time.monotonic() - _cache[0] >= CACHE_SECONDS:
            _cache = (time.monotonic(), _figures())
        return _cache[1]


def _figures() -> list[Metric]:
    now = timezone.now()
    emails = GaugeMetricFamily("clerk_sync_welcome_emails", "Welcome emails by state.", labels=["state"])
    emails.add_metric(["pending"], UserProvisioning.objects.filter(welcome_email=Welcome.PENDING).count())
    emails.add_metric(["failed"], UserProvisioning.objects.filter(welcome_email=Welcome.FAILED).count())
    due = UserProvisioning.objects.filter(welcome_email=Welcome.PENDING, welcome_email_next_attempt_at__lte=now)
    oldest = due.aggregate(oldest=Min("welcome_email_next_attempt_at"))["oldest"]
    overdue = GaugeMetricFamily(
        "clerk_sync_welcome_email_oldest_due_seconds", "Seconds the oldest due pending welcome email has waited."
    )
    overdue.add_metric([], (now - oldest).total_seconds() if oldest else 0)
    age = GaugeMetricFamily(
        "clerk_sync_last_delivery_age_seconds",
        "Seconds since the last verified delivery (duplicates included), by source.",
        labels=["source"],
    )
    for name in registered_sources():
        last = (
            WebhookAttempt.objects.filter(kind=WebhookAttempt.Kind.DELIVERY, event__source=name)
            .order_by("-started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        if last is not None:
            age.add_metric([name], max(0.0, (now - last).total_seconds()))
    alarms = GaugeMetricFamily("clerk_sync_alarm", "1 while the alarm is raised, 0 when clear.", labels=["alarm"])
    for name, raised in alarm_states().items():
        alarms.add_metric([name], int(raised))
    workers = GaugeMetricFamily("clerk_sync_workers_live", "db_workers that showed a sign of life in 2 minutes.")
    workers.add_metric([], len(workers_live(now=now)))
    return [emails, overdue, age, alarms, workers]
