"""The ledger admin's pages as the tests reach them, for the ledger's tests and for Clerk's."""

import datetime as dt
import re

from django.utils import timezone

from webhooks.models import WebhookEvent
from webhooks.tests.deliveries import statements_at_most

CHANGELIST = "/admin/webhooks/webhookevent/"
HEALTH = "/admin/webhooks/webhookevent/health/"


def replay_url(event: WebhookEvent) -> str:
    return f"/admin/webhooks/webhookevent/{event.pk}/replay/"


def listed_event_ids(response) -> list[str]:
    return re.findall(r'class="field-event_id"><a href="[^"]+">([^<]+)</a>', response.content.decode())


def assert_a_hundred_thousand_events_render_in_a_bounded_number_of_queries(
    admin_client, *, source: str, event_type: str, subject_id: str
) -> None:
    """Seed 100,000 events of `source` about `subject_id` with bulk inserts; the changelist, filtered
    or searched, must not count or look up per row (12 statements at most, counts capped at 10,001
    and not sorted: the first rows found count as well as the newest)."""
    now = timezone.now()
    payload = {"type": event_type, "data": {"id": subject_id}}
    WebhookEvent.objects.bulk_create(
        (
            WebhookEvent(
                source=source,
                event_id=f"msg_seed_{n}",
                event_type=event_type,
                subject_id=subject_id,
                payload=payload,
                status="processed" if n % 50 else "failed",
                attempts=1,
                received_at=now - dt.timedelta(seconds=n),
            )
            for n in range(100_000)
        ),
        batch_size=5_000,
    )
    admin_client.get(CHANGELIST)  # session and content types warmed

    for query in ("", "?status__exact=failed", f"?q={subject_id}"):
        with statements_at_most(12) as statements:
            response = admin_client.get(CHANGELIST + query)
        assert response.status_code == 200
        assert len(listed_event_ids(response)) == 50
        counts = [sql for sql in statements if "COUNT(" in sql and "webhooks_webhookevent" in sql]
        assert counts and all("LIMIT 10001" in sql and "ORDER BY" not in sql for sql in counts), counts
    assert "more than 10000" in response.content.decode()
