"""Prometheus series about reconciliation: the rows passes repaired, and how long passes took.

Counted once per recorded pass when it ends (accounts/reconcile/passes.py); a dry run moves nothing.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

reconcile_repairs_total = Counter(
    "clerk_sync_reconcile_repairs",
    "Local rows a reconciliation pass changed, by kind (users, organizations, memberships) and action.",
    ["kind", "action"],
)
reconcile_pass_seconds = Histogram(
    "clerk_sync_reconcile_pass_seconds",
    "How long reconciliation passes took, by kind (incremental or full) and outcome (completed or failed).",
    ["kind", "outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)


def reconcile_repairs_count(kind: str, action: str, n: int) -> None:
    """`n` rows of `kind` ('users', 'organizations', 'memberships') `action`ed ('created', 'updated', 'tombstoned')."""
    if n:
        reconcile_repairs_total.labels(kind=kind, action=action).inc(n)


def reconcile_pass_observe(kind: str, outcome: str, seconds: float) -> None:
    """A pass of `kind` ('incremental' or 'full') ended with `outcome` ('completed' or 'failed') after `seconds`."""
    reconcile_pass_seconds.labels(kind=kind, outcome=outcome).observe(seconds)
