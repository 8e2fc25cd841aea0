"""Reconciliation's alarms (drift, reconcile_failing) and series: raised and cleared by the passes' records."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.alarms.evaluate import alarms_evaluate
from accounts.models import ReconcilePass
from accounts.tests.factories import ClerkUserDataFactory
from accounts.tests.reconcile_helpers import reconcile
from accounts.tests.test_reconcile import local_copy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unthrottled")]


def repaired(kind: str, action: str) -> float:
    return REGISTRY.get_sample_value("clerk_sync_reconcile_repairs_total", {"kind": kind, "action": action}) or 0


def test_drift_is_raised_by_a_pass_that_tombstoned_and_cleared_by_the_next_clean_pass(clerk_api, caplog):
    gone = local_copy(clerk_api, ClerkUserDataFactory())
    del clerk_api.users[gone.clerk_id]
    before = repaired("users", "tombstoned")

    reconcile("--full")
    assert alarms_evaluate()["drift"] is True
    assert repaired("users", "tombstoned") == before + 1
    assert [r.getMessage() for r in caplog.records if r.name == "clerk_sync.alarms"] == [
        f"alarm raised: drift: the full pass of {ReconcilePass.objects.get().started_at:%Y-%m-%d %H:%M:%S %Z} "
        "repaired 1 rows: deliveries were lost"
    ]

    reconcile("--full", "--dry-run")  # records nothing, moves nothing
    assert alarms_evaluate()["drift"] is True
    assert repaired("users", "tombstoned") == before + 1

    reconcile()
    assert alarms_evaluate()["drift"] is False


def test_a_recent_change_repaired_is_not_drift(clerk_api):
    """A change Clerk made minutes ago may still be on its way as a delivery: not a lost one."""
    clerk_api.add_user(ClerkUserDataFactory())

    reconcile()

    assert ReconcilePass.objects.get().users_created == 1
    assert alarms_evaluate()["drift"] is False


@pytest.mark.parametrize(
    ("backend", "interval", "hours_ago", "raised"),
    [
        ("database", 900, 1, True),  # three 15-minute intervals have passed
        ("database", 900, 0.5, False),
        ("database", 0, 1, True),  # the full pass's interval (20 minutes here) still counts
        ("immediate", 900, 1, False),  # no db_worker runs a schedule
    ],
)
def test_reconcile_failing_when_no_pass_completed_for_three_intervals(settings, backend, interval, hours_ago, raised):
    settings.TASKS_BACKEND = backend
    settings.CLERK_RECONCILE_INTERVAL = interval
    settings.CLERK_RECONCILE_FULL_INTERVAL = 1200
    long_ago = timezone.now() - dt.timedelta(hours=hours_ago)
    ReconcilePass.objects.create(kind="full", trigger="schedule", started_at=long_ago, outcome="completed")
    ReconcilePass.objects.create(kind="full", trigger="schedule", started_at=timezone.now(), outcome="failed")

    assert alarms_evaluate()["reconcile_failing"] is raised


def test_reconcile_failing_clears_once_a_pass_completes(settings, clerk_api):
    settings.TASKS_BACKEND = "database"
    ReconcilePass.objects.create(
        kind="full", trigger="schedule", started_at=timezone.now() - dt.timedelta(days=1), outcome="failed"
    )
    assert alarms_evaluate()["reconcile_failing"] is True

    reconcile()

    assert alarms_evaluate()["reconcile_failing"] is False
