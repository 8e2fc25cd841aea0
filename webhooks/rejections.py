"""Counting refused deliveries for staff, by source, reason and hour; bodies are never stored."""

import logging

from django.db import DatabaseError, connection
from django.utils import timezone

from .models import WebhookRejection
from .sql import db_datetime

logger = logging.getLogger(__name__)


def webhook_rejection_count(source_name: str, reason: str, *, detail: str = "", event_id: str = "") -> None:
    """Count a refused delivery for staff (by source, reason and hour) and log it.

    Never raises: an unavailable database must not turn a 400 into a 500.
    """
    logger.warning("webhook rejected source=%s reason=%s event_id=%s detail=%s", source_name, reason, event_id, detail)
    now = timezone.now()
    table = WebhookRejection._meta.db_table
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} (source, reason, hour, count, last_seen_at, last_detail, last_event_id)
                VALUES (%s, %s, %s, 1, %s, %s, %s)
                ON CONFLICT (source, reason, hour) DO UPDATE SET
                    count = {table}.count + 1,
                    last_seen_at = excluded.last_seen_at,
                    last_detail = excluded.last_detail,
                    last_event_id = excluded.last_event_id
                """,
                [
                    source_name,
                    reason,
                    db_datetime(WebhookRejection, "hour", now.replace(minute=0, second=0, microsecond=0)),
                    db_datetime(WebhookRejection, "last_seen_at", now),
                    detail[:1000],
                    event_id[:255],
                ],
            )
    except DatabaseError:
        logger.exception("could not count a webhook rejection")


# The two writes every delivery makes are hand-written: the ORM's per-call query building cost
# more than the round trips themselves (bench/). Values are adapted by their model fields.
