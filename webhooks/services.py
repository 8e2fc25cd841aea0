"""Record, process and replay webhook events: the ledger's rules in one place.

A redelivery of an event already processed or ignored is counted, with its
attempt row, in one statement of its own (`db.duplicate_record`, PostgreSQL).
Any other delivery runs in one transaction: the ledger row is inserted or, when the
event id is known, locked (`INSERT … ON CONFLICT DO UPDATE`), the handler runs,
and the new status and the attempt are written. Concurrent deliveries of one
event id queue on that row lock, so its handler runs once; the ones that
follow find it done and answer 202. A failing handler rolls its writes back;
the event is then stored `failed` with the error in a second transaction, and
the next delivery or replay runs it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from webhooks import db, metrics
from webhooks.errors import Refused
from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.outcomes import HTTP_STATUS, attempt_of, event_fail, event_finish, source_payload
from webhooks.registry import SourceNotRegistered, WebhookSource, get_source

logger = logging.getLogger(__name__)

Outcome = WebhookAttempt.Outcome
DELIVERY = WebhookAttempt.Kind.DELIVERY

# A database that cannot be reached is an outage (503), not a handler failure.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class DeliveryResult:
    event_pk: int
    outcome: Outcome
    error: str = ""

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.outcome]


def webhook_event_deliver(
    source: WebhookSource, *, event_id: str, payload: dict[str, Any], request_id: str = ""
) -> DeliveryResult:
    """Record a verified delivery and process it unless it is already done.

    `request_id` (the request's X-Request-ID) is kept on the attempt row.
    Returns the outcome (processed, ignored, duplicate or failed). Raises
    Refused when the handler finds the data unusable (nothing is kept),
    and OperationalError/InterfaceError when the database is unavailable.
    """
    started_at, clock = timezone.now(), time.perf_counter()
    duplicate = db.duplicate_record(
        source=source.name,
        event_id=event_id,
        started_at=started_at,
        http_status=HTTP_STATUS[Outcome.DUPLICATE],
        request_id=request_id,
    )
    if duplicate is not None:
        result = DeliveryResult(duplicate.pk, Outcome.DUPLICATE)
    else:
        result = _deliver_in_transaction(source, event_id, payload, started_at, clock, request_id)
    _log(source.name, event_id, payload.get("type"), result, clock, kind="delivery")
    metrics.delivery_count(source.name, payload["type"], result.outcome, time.perf_counter() - clock)
    return result


def _deliver_in_transaction(
    source: WebhookSource, event_id: str, payload: dict[str, Any], started_at, clock: float, request_id: str
) -> DeliveryResult:
    """A first delivery, or a redelivery of an event not done: record, process and finish it in one transaction."""
    try:
        with transaction.atomic():
            event = webhook_event_record(source, event_id=event_id, payload=payload)
            if event.is_done:  # done between duplicate_record and this (or not PostgreSQL)
                outcome = Outcome.DUPLICATE
                db.attempt_insert(event.pk, attempt_of(DELIVERY, outcome, started_at, clock, request_id=request_id))
            else:
                outcome, stored = webhook_event_process(source, event)
                attempt = attempt_of(DELIVERY, outcome, started_at, clock, request_id=request_id)
                event_finish(event, outcome, attempt, payload=stored)
    except (Refused, *DATABASE_UNAVAILABLE):
        raise
    except Exception as exc:
        # The transaction above rolled back, handler writes and all; keep the failure.
        with transaction.atomic():
            event = webhook_event_record(source, event_id=event_id, payload=payload)
            error = event_fail(event, exc, DELIVERY, started_at, clock, request_id=request_id)
        return DeliveryResult(event.pk, Outcome.FAILED, error)
    return DeliveryResult(event.pk, outcome)


def webhook_event_replay(event_pk: int) -> DeliveryResult:
    """Run a stored event's handler again through the delivery path, recorded as a replay.

    Safe for any status: handlers converge (upserts guarded by Clerk's
    updated_at, tombstones final, provisioning once), so replaying a processed
    event changes nothing current and sends nothing twice.
    Raises WebhookEvent.DoesNotExist, and SourceNotRegistered (a LookupError) when the
    event's source is no longer registered; a handler's own errors, KeyError included, are
    stored as a failed replay.
    """
    started_at, clock = timezone.now(), time.perf_counter()
    try:
        # On SQLite FOR UPDATE is dropped; the transaction holds the database's write lock from
        # BEGIN IMMEDIATE instead (config/settings.py), so this read can never need an upgrade.
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().get(pk=event_pk)
            outcome, stored = webhook_event_process(_source_of(event), event)
            attempt = attempt_of(WebhookAttempt.Kind.REPLAY, outcome, started_at, clock)
            event_finish(event, outcome, attempt, count_attempt=True, payload=stored)
    except (WebhookEvent.DoesNotExist, SourceNotRegistered, *DATABASE_UNAVAILABLE):
        raise
    except Exception as exc:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().get(pk=event_pk)
            error = event_fail(event, exc, WebhookAttempt.Kind.REPLAY, started_at, clock)
        result = DeliveryResult(event.pk, Outcome.FAILED, error)
    else:
        result = DeliveryResult(event.pk, outcome)
    _log(event.source, event.event_id, event.event_type, result, clock, kind="replay")
    return result


def webhook_event_record(source: WebhookSource, *, event_id: str, payload: Mapping[str, Any]) -> WebhookEvent:
    """Insert the event, or count one more attempt on the stored one; either way lock its row.

    One statement, so concurrent deliveries of one id cannot both insert.
    Must run inside a transaction: the lock is held until it ends.
    """
    row = db.event_upsert(
        source=source.name,
        event_id=event_id,
        event_type=payload["type"],
        subject_id=_subject_id(source, payload),
        payload=payload,
        received_at=timezone.now(),
    )
    # Built from what the statement returned, not read back: Svix resends a message id with the
    # same body, so the delivered payload is the stored one.
    return WebhookEvent(
        pk=row.pk,
        source=source.name,
        event_id=event_id,
        event_type=payload["type"],
        payload=payload,
        status=row.status,
        attempts=row.attempts,
    )


def webhook_event_process(source: WebhookSource, event: WebhookEvent) -> tuple[Outcome, Mapping[str, Any] | None]:
    """Run the handler for `event`'s type; a type without one is ignored. Handler errors propagate.

    Returns the outcome and the payload to store in place of the delivered one (None: keep it),
    from the handler or, for an ignored type, the source's `stored_payload` hook.
    """
    handler = source.handlers.get(event.event_type)
    if handler is None:
        if event.event_type not in source.ignored_types:
            logger.info("no handler for webhook type source=%s type=%s", source.name, event.event_type)
        return Outcome.IGNORED, source_payload(source, event.payload)
    return Outcome.PROCESSED, handler(event)


def _source_of(event: WebhookEvent) -> WebhookSource:
    source = get_source(event.source)
    if source is None:
        raise SourceNotRegistered(event.source)
    return source


def _subject_id(source: WebhookSource, payload: Mapping[str, Any]) -> str:
    try:
        subject = source.subject_id(payload)
    except Exception:  # a subject is a convenience for search, never a reason to fail
        return ""
    return subject[:255] if isinstance(subject, str) else ""


def _log(source_name: str, event_id: str, event_type: Any, result: DeliveryResult, clock: float, *, kind: str) -> None:
    logger.info(
        "webhook %s source=%s event_id=%s type=%s outcome=%s status=%s duration_ms=%d",
        kind,
        source_name,
        event_id,
        event_type,
        result.outcome,
        result.http_status if kind == "delivery" else "-",
        (time.perf_counter() - clock) * 1000,
    )
