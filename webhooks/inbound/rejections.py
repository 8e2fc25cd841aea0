"""Counting refused deliveries for staff, by source, reason and hour; bodies are never stored."""

import logging

from django.db import DatabaseError
from django.utils import timezone

from webhooks import db, metrics

logger = logging.getLogger(__name__)


def webhook_rejection_count(source_name: str, reason: str, *, detail: str = "", event_id: str = "") -> None:
    """Count a refused delivery for staff (by source, reason and hour) and log it.

    Never raises: an unavailable database must not turn a 400 into a 500.
    """
    metrics.rejection_count(source_name, reason)
    logger.warning("webhook rejected source=%s reason=%s event_id=%s detail=%s", source_name, reason, event_id, detail)
    try:
        db.rejection_count(source_name, reason, seen_at=timezone.now(), detail=detail[:1000], event_id=event_id[:255])
    except DatabaseError:
        logger.exception("could not count a webhook rejection")
