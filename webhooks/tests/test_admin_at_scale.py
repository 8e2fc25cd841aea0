"""The ledger's changelist over many events: the date hierarchy probes periods, a source's search reads its events only.

bench/admin.py times these pages on a million events (docs/admin.md, "The admin at scale"). These tests pin
why they are fast on a few thousand: the choices are Django's, and what PostgreSQL reads (plans.py), never a time.
"""

import datetime as dt
import re
import zoneinfo
from html import unescape
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.utils import timezone

from webhooks.admin.dates import PeriodsProbedQuerySet
from webhooks.models import WebhookEvent
from webhooks.tests.admin_pages import CHANGELIST, listed_event_ids
from webhooks.tests.plans import scans_of, statements_sent

pytestmark = pytest.mark.django_db

EVENTS = 3_000
START = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)


def events_seeded(*, source: str = "things", skip_november: bool = False) -> None:
    """EVENTS events from START, one every 43 minutes (about three months), then ANALYZE on PostgreSQL."""
    moments = (START + dt.timedelta(minutes=43 * n) for n in range(EVENTS))
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            source=source,
            event_id=f"msg_seed_{n}",
            event_type="thing.happened",
            subject_id=f"thing_{n % 300}",
            payload={"type": "thing.happened", "data": {"id": f"thing_{n % 300}"}},
            status=WebhookEvent.Status.PROCESSED,
            attempts=1,
            received_at=moment,
        )
        for n, moment in enumerate(moments)
        if not (skip_november and moment.month == 11)
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE webhooks_webhookevent")


def hierarchy_links(response) -> list[str]:
    """The date hierarchy's links, as `year`, `year-month` or `year-month-day` ("" for all dates)."""
    nav = re.search(r'<nav class="toplinks">(.*?)</nav>', response.content.decode(), re.S).group(1)
    links = [parse_qs(unescape(link)) for link in re.findall(r'href="\?([^"]*)"', nav)]
    parts = [f"received_at__{part}" for part in ("year", "month", "day")]
    return ["-".join(link[part][0] for part in parts if part in link) for link in links]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
@pytest.mark.parametrize("kind", ["year", "month", "day"])
def test_the_probed_periods_are_those_django_lists(kind, zone):
    events_seeded(skip_november=True)  # a month without events is not offered
    probed = PeriodsProbedQuerySet(model=WebhookEvent)

    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert probed.datetimes("received_at", kind) == list(WebhookEvent.objects.datetimes("received_at", kind))
        descending = probed.filter(status="processed").datetimes("received_at", kind, order="DESC")
        assert descending == list(WebhookEvent.objects.datetimes("received_at", kind, order="DESC"))


def test_the_changelist_offers_the_months_then_the_days_that_hold_events(admin_client):
    events_seeded(skip_november=True)

    assert hierarchy_links(admin_client.get(CHANGELIST)) == ["", "2025-10", "2025-12"]  # all dates, then months
    days = hierarchy_links(admin_client.get(CHANGELIST, {"received_at__year": 2025, "received_at__month": 12}))
    assert days == ["2025", *(f"2025-12-{day}" for day in range(1, 30))]  # the year, then the days


@pytest.mark.postgres
@pytest.mark.parametrize("query", ["", "?received_at__year=2025", "?received_at__year=2025&received_at__month=11"])
def test_the_date_hierarchy_reads_a_few_events_not_every_one(admin_client, query):
    """Django's SELECT DISTINCT read all 3,000 events (1,000,000: 0.3 to 0.9 s); a probe reads one per period."""
    events_seeded()

    with statements_sent() as statements:
        response = admin_client.get(CHANGELIST + query)

    assert len(listed_event_ids(response)) == 50
    counts = [sql for sql in statements if sql.startswith("SELECT COUNT(*)")]  # capped at 10,001 rows
    scans = scans_of([sql for sql in statements if sql not in counts], "webhooks_webhookevent")
    assert scans and max(scan.rows_read for scan in scans) <= 60, scans


@pytest.mark.postgres
def test_a_sources_search_reads_the_events_of_its_subjects_through_their_index(admin_client, webhook_source):
    webhook_source({}, name="shop", subject_search=lambda term: ["thing_7"] if term == "#7" else None)
    events_seeded(source="shop")

    with statements_sent() as statements:
        response = admin_client.get(CHANGELIST, {"q": "#7"})

    assert len(listed_event_ids(response)) == EVENTS // 300
    scans = scans_of(statements, "webhooks_webhookevent")
    # The list and its count through the subject index; the date hierarchy's first and last may walk the
    # time index to the first match (a tenth of the events here, the planner's choice on so few).
    assert any("subject_id" in index for scan in scans for index in scan.indexes), scans
    assert all(scan.node != "Seq Scan" and scan.rows_read <= EVENTS // 10 for scan in scans), scans
