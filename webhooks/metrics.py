"""The ledger's Prometheus series: deliveries by outcome, refusals by reason, time to answer.

Counted in the process that answered; with PROMETHEUS_MULTIPROC_DIR set
(gunicorn.conf.py sets it) each process writes its own file and /metrics adds
them up. The series names are the contract's (CONTRACT.md, "Operations").
"""

from prometheus_client import Counter, Histogram

deliveries_total = Counter(
    "clerk_sync_webhook_deliveries",
    "Verified webhook deliveries, by source, event type and outcome.",
    ["source", "type", "outcome"],
)
rejections_total = Counter(
    "clerk_sync_webhook_rejections",
    "Webhook deliveries refused before processing, by source and reason.",
    ["source", "reason"],
)
processing_seconds = Histogram(
    "clerk_sync_webhook_processing_seconds",
    "Time to answer a verified webhook delivery (duplicates included).",
    ["source"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def delivery_count(source: str, event_type: str, outcome: str, seconds: float) -> None:
    """One verified delivery answered with `outcome` after `seconds`."""
    deliveries_total.labels(source=source, type=event_type, outcome=outcome).inc()
    processing_seconds.labels(source=source).observe(seconds)


def rejection_count(source: str, reason: str) -> None:
    rejections_total.labels(source=source, reason=reason).inc()
