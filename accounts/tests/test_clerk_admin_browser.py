"""The ledger's and the users' changelists in a real browser, with Clerk's long ids, names and addresses.

The browser and its helpers are webhooks/tests/browser.py's; the ledger's own browser
tests are in webhooks/tests/test_admin_browser.py.
"""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.tests.factories import ClerkLedgerEventFactory
from webhooks.models import WebhookEvent
from webhooks.tests.browser import (
    PASSWORD,
    log_in,
    needs_chromium,
    overflow_at,
)

pytestmark = needs_chromium


@pytest.mark.django_db(transaction=True)
def test_events_and_users_changelists_fit_1280_pixels(live_server, browser_signed_out):
    """Realistic long values (Svix and Clerk ids, long names and addresses): no horizontal scrolling."""
    browser = browser_signed_out
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    people = [
        ("user_2pQ8xLmN4vRtYh6KdWcE3sJ9aBf", "maria.fernanda.gonzalez-rodriguez", "hospital-universitario.example.org"),
        ("user_2qZ7wKjH5tGfDsA1pOiUyTrEwQn", "oluwaseun.adebayo-okonkwo", "international-logistics.example.com"),
        ("user_2rM3nBvC8xZlKjHgFdSaPoIuYtR", "", "nguyen.thi.minh.khai@department-of-education.example.net"),
    ]
    for clerk_id, username, domain in people:
        email = f"{username}@{domain}" if username else domain
        User.objects.create(
            clerk_id=clerk_id,
            username=username or f"user-{clerk_id[-8:].lower()}",
            email=email,
            first_name="Maria Fernanda",
            last_name="González Rodríguez de la Fuente",
            created_via=User.CreatedVia.JIT,
        )
        for n, event_type in enumerate(["user.created", "organizationMembership.updated", "user.deleted"]):
            ClerkLedgerEventFactory(
                event_id=f"msg_2{clerk_id[6:25]}{n}KSUIDx",  # Svix ids: msg_ and 27 characters
                event_type=event_type,
                subject_id=clerk_id,
                status=WebhookEvent.Status.FAILED,
                attempts=12,
            )
    browser.set_window_size(1280, 800)
    try:
        log_in(browser, live_server, "boss")
        events = overflow_at(browser, f"{live_server.url}/admin/webhooks/webhookevent/")
        users = overflow_at(browser, f"{live_server.url}/admin/accounts/user/")
    finally:
        browser.set_window_size(1400, 1000)

    assert events["inner"] <= 1280 and users["inner"] <= 1280
    assert (events["rows"], users["rows"]) == (9, 4)
    assert events["scroll"] <= events["inner"], events
    assert users["scroll"] <= users["inner"], users
    assert events["box_scroll"] <= events["box_width"], events  # no scrollbar under the table either
    assert users["box_scroll"] <= users["box_width"], users
