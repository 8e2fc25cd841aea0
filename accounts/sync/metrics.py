"""Prometheus series about writes to the mirror: just-in-time creations (reconciliation: reconcile/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter

jit_creations_total = Counter(
    "clerk_sync_jit_creations",
    "Users and organizations created just in time (their created webhook had not been processed).",
    ["kind"],
)


def jit_creation_count(kind: str) -> None:
    """One user or organization created just in time (`kind` is 'user' or 'organization')."""
    jit_creations_total.labels(kind=kind).inc()
