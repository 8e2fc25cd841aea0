"""What the ledger stores once a handler ran (or failed): the event's outcome, its failure, the attempt.

webhooks/services.py runs deliveries and replays and calls these, inside its transactions.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from webhooks import db
from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.registry import WebhookSource, get_source

logger = logging.getLogger("webhooks.services")

Outcome = WebhookAttempt.Outcome
Status = WebhookEvent.Status

# The answer each outcome gets; Svix retries anything but 2xx.
HTTP_STATUS = {Outcome.PROCESSED: 200, Outcome.IGNORED: 200, Outcome.DUPLICATE: 202, Outcome.FAILED: 500}


def source_payload(source: WebhookSource | None, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The source's `stored_payload` hook for a payload no handler vouched for (ignored or failed), or None."""
    return source.stored_payload(payload) if source is not None and source.stored_payload else None


def event_finish(
    event: WebhookEvent,
    outcome: Outcome,
    attempt: db.Attempt,
    *,
    count_attempt: bool = False,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Store the outcome with its attempt (and `payload`, when given, in place of the stored one).

    `count_attempt` for a replay (a delivery was counted by its upsert).
    """
    status = Status.IGNORED if outcome == Outcome.IGNORED else Status.PROCESSED
    db.event_outcome_store(
        event.pk,
        status=status,
        last_error="",
        attempts_added=int(count_attempt),
        processed_at=timezone.now(),
        payload=payload,
        attempt=attempt,
    )


def event_fail(
    event: WebhookEvent, exc: BaseException, kind: str, started_at, clock: float, *, request_id: str = ""
) -> str:
    """Store a failed attempt and turn the event `failed`.

    A failed delivery leaves an event that a concurrent delivery finished in the
    meantime as it is; a failed replay (which held the row lock throughout)
    always marks it, so staff see that the handler fails now.
    """
    error = f"{type(exc).__name__}: {exc}"
    details = "".join(traceback.format_exception(exc))[-10_000:]
    attempt = attempt_of(kind, Outcome.FAILED, started_at, clock, error=details, request_id=request_id)
    replay = kind == WebhookAttempt.Kind.REPLAY
    if replay or not event.is_done:
        # A replay is counted here; a delivery was counted by its upsert. No handler vouched for
        # the payload: the source may store another (a deleted user's, erased).
        try:
            stored = source_payload(get_source(event.source), event.payload)
        except Exception:  # the failure is recorded whatever the hook does
            logger.exception("stored_payload hook failed source=%s event_id=%s", event.source, event.event_id)
            stored = None
        db.event_outcome_store(
            event.pk,
            status=Status.FAILED,
            last_error=error[:10_000],
            attempts_added=int(replay),
            payload=stored,
            attempt=attempt,
        )
    else:
        db.attempt_insert(event.pk, attempt)
    return error


def attempt_of(
    kind: str, outcome: Outcome, started_at, clock: float, *, error: str = "", request_id: str = ""
) -> db.Attempt:
    """The attempt row of a delivery or replay that started at `started_at` (`clock`: time.perf_counter() then)."""
    return db.Attempt(
        kind=kind,
        outcome=outcome,
        http_status=HTTP_STATUS[outcome] if kind == WebhookAttempt.Kind.DELIVERY else None,
        started_at=started_at,
        duration_ms=round((time.perf_counter() - clock) * 1000),
        error=error,
        request_id=request_id,
    )
