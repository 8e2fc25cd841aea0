"""Prometheus series about calls to Clerk: requests by endpoint and status, their latency, the breaker, the key cache.

`endpoint` is the path with ids replaced (`/v1/users/{id}`), so the series stay few.
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram

api_requests_total = Counter(
    "clerk_sync_clerk_api_requests",
    "Requests to Clerk's Backend API, by endpoint and HTTP status ('unavailable' when none came).",
    ["endpoint", "status"],
)
api_request_seconds = Histogram(
    "clerk_sync_clerk_api_request_seconds",
    "Time one request to Clerk's Backend API took, by endpoint.",
    ["endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
# In multiprocess mode: the largest value among live processes, so 1 while any process's breaker is open.
breaker_open = Gauge(
    "clerk_sync_clerk_api_breaker_open",
    "1 while a process's circuit breaker to Clerk's API is open (calls fail at once).",
    multiprocess_mode="livemax",
)
key_cache_lookups_total = Counter(
    "clerk_sync_signing_key_cache_lookups",
    "Session-token signing key lookups in the per-process JWKS cache, by result (hit or miss).",
    ["result"],
)

_ID_SEGMENT = re.compile(r"/(?:user|org|orgmem|sess|inv)_[^/]+|/[0-9a-f-]{16,}(?=/|$)")


def endpoint_of(path: str) -> str:
    """`/v1/users/user_2x…` → `/v1/users/{id}`: one series per endpoint, not per object."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])


def api_request_count(path: str, status: int | str, seconds: float) -> None:
    endpoint = endpoint_of(path)
    api_requests_total.labels(endpoint=endpoint, status=str(status)).inc()
    api_request_seconds.labels(endpoint=endpoint).observe(seconds)
