"""Prometheus series about writes to the mirror: just-in-time creations and reconciliation's repairs and passes.

The reconciliation pass (accounts/reconcile/, the lead's issue 19) calls
`reconcile_repairs_count` once per kind and action with what a completed pass
changed, and `reconcile_pass_observe` when a pass ends.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

jit_creations_total = Counter(
    "clerk_sync_jit_creations",
    "Users and organizations created just in time (their created webhook had not been processed).",
    ["kind"],
)
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


def jit_creation_count(kind: str) -> None:
    """One user or organization created just in time (`kind` is 'user' or 'organization')."""
    jit_creations_total.labels(kind=kind).inc()


def reconcile_repairs_count(kind: str, action: str, n: int) -> None:
    """`n` rows of `kind` ('users', 'organizations', 'memberships') `action`ed ('created', 'updated', 'tombstoned')."""
    if n:
        reconcile_repairs_total.labels(kind=kind, action=action).inc(n)


def reconcile_pass_observe(kind: str, outcome: str, seconds: float) -> None:
    """A pass of `kind` ('incremental' or 'full') ended with `outcome` ('completed' or 'failed') after `seconds`."""
    reconcile_pass_seconds.labels(kind=kind, outcome=outcome).observe(seconds)
