"""The admin as a staff member sees it at 1280×800: every changelist fits, and each page says the right thing.

Realistic long values everywhere (Clerk and Svix ids, long names and addresses, SMTP errors):
no changelist scrolls sideways; the users' "deleted in Clerk" column marks only deleted users;
every moment reads `2026-12-04 19:09:00 UTC`; the index has our header and the README's groups.
Screenshots land in artifacts/screenshots/control-room-*.png.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from accounts.models import Organization, OrganizationMembership, ReconcilePass, User, UserProvisioning
from accounts.tests.factories import ClerkLedgerEventFactory
from webhooks.models import WebhookAttempt, WebhookEvent, WebhookRejection
from webhooks.tests.browser import PASSWORD, cell, log_in, needs_chromium, overflow_at, save_screenshot, wait

pytestmark = needs_chromium

MOMENT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
LONG_ERROR = (
    "SMTPRecipientsRefused: {'maria.fernanda.gonzalez-rodriguez@hospital-universitario.example.org': "
    "(451, b'4.7.1 Greylisting in action, please come back later; see https://postmaster.example.org/greylisting')}"
)
CHANGELISTS = {
    "users": "/admin/accounts/user/",
    "organizations": "/admin/accounts/organization/",
    "memberships": "/admin/accounts/organizationmembership/",
    "events": "/admin/webhooks/webhookevent/",
    "rejections": "/admin/webhooks/webhookrejection/",
    "welcome-emails": "/admin/accounts/userprovisioning/",
    "reconciliation-passes": "/admin/accounts/reconcilepass/",
}


def a_control_room_full_of_long_values() -> dict[str, object]:
    """Users (one deleted, one tombstone never seen), organizations and memberships, events, refusals, emails."""
    now = timezone.now()
    people = [
        ("user_2pQ8xLmN4vRtYh6KdWcE3sJ9aBf", "maria.fernanda.gonzalez-rodriguez", "hospital-universitario.example.org"),
        ("user_2qZ7wKjH5tGfDsA1pOiUyTrEwQn", "oluwaseun.adebayo-okonkwo", "international-logistics.example.com"),
        ("user_2rM3nBvC8xZlKjHgFdSaPoIuYtR", "nguyen.thi.minh.khai", "department-of-education.example.net"),
    ]
    users = []
    for n, (clerk_id, username, domain) in enumerate(people):
        user = User.objects.create(
            clerk_id=clerk_id,
            username=username,
            email=f"{username}@{domain}",
            first_name="Maria Fernanda",
            last_name="González Rodríguez de la Fuente",
            created_via=User.CreatedVia.WEBHOOK,
            deleted_at=now if n == 2 else None,
            is_active=n != 2,
        )
        users.append(user)
        UserProvisioning.objects.create(
            user=user,
            created_via=user.created_via,
            provisioned_at=now,
            welcome_email=[UserProvisioning.WelcomeEmail.PENDING, UserProvisioning.WelcomeEmail.SENT][n % 2],
            welcome_email_attempts=17,
            welcome_email_next_attempt_at=now + dt.timedelta(hours=1),
            welcome_email_sent_at=now if n % 2 else None,
            welcome_email_last_error=LONG_ERROR,
        )
    # user.deleted for an id never seen: a tombstone with nothing but its id.
    never_seen = User.objects.create(
        clerk_id="user_2sTombstoneNeverSeenBefore1", username="user", deleted_at=now, is_active=False
    )
    organization = Organization.objects.create(
        clerk_id="org_2tY9uIoPaSdFgHjKlZxCvBnMqWe",
        name="Hospital Universitario de la Comunidad Autónoma",
        slug="hospital-universitario-de-la-comunidad-autonoma",
        created_via="webhook",
    )
    for n, user in enumerate(users):
        OrganizationMembership.objects.create(
            clerk_id=f"orgmem_2uI8oPaSdFgHjKlZxCvBnMq{n}",
            organization=organization,
            user_clerk_id=user.clerk_id,
            user=user,
            role="org:department_administrator",
            permissions=["org:sys_memberships:manage", "org:sys_profile:manage"],
        )
    OrganizationMembership.objects.create(
        clerk_id="orgmem_2vNotLocalYetAbCdEfGhIjKl",
        organization=organization,
        user_clerk_id="user_2wNotLocalYetMnOpQrStUvWxY",
        role="org:member",
    )
    events = []
    for n, event_type in enumerate(["user.created", "organizationMembership.updated", "user.deleted"]):
        events.append(
            ClerkLedgerEventFactory(
                event_id=f"msg_2{users[0].clerk_id[6:25]}{n}KSUIDx",
                event_type=event_type,
                subject_id=users[0].clerk_id,
                status=WebhookEvent.Status.FAILED,
                attempts=12,
                last_error=LONG_ERROR,
            )
        )
    WebhookAttempt.objects.create(
        event=events[0],
        kind=WebhookAttempt.Kind.DELIVERY,
        outcome=WebhookAttempt.Outcome.FAILED,
        http_status=500,
        started_at=now,
        duration_ms=12,
        error=LONG_ERROR,
    )
    for reason in (WebhookRejection.Reason.BAD_SIGNATURE, WebhookRejection.Reason.BAD_DATA):
        WebhookRejection.objects.create(
            source="clerk",
            reason=reason,
            hour=now.replace(minute=0, second=0, microsecond=0),
            count=1234,
            last_seen_at=now,
            last_event_id=events[0].event_id,
            last_detail=LONG_ERROR,
        )
    for outcome in (ReconcilePass.Outcome.COMPLETED, ReconcilePass.Outcome.FAILED):
        ReconcilePass.objects.create(
            kind=ReconcilePass.Kind.INCREMENTAL, trigger=ReconcilePass.Trigger.SCHEDULE, started_at=now,
            finished_at=now, outcome=outcome, error=LONG_ERROR if outcome == "failed" else "",
            users_updated=123456, clerk_calls=98765, drift=True,
        )  # fmt: skip
    return {"live": users[0], "deleted": users[2], "never_seen": never_seen, "event": events[0]}


def user_row(browser, user: User):
    """The users' changelist row of `user` (its checkbox's value is the pk)."""
    return browser.find_element(By.XPATH, f"//input[@name='_selected_action'][@value='{user.pk}']/ancestor::tr")


@pytest.mark.django_db(transaction=True)
def test_every_changelist_fits_1280_by_800_and_reads_right(live_server, browser_signed_out):
    browser = browser_signed_out
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    rows = a_control_room_full_of_long_values()
    browser.set_window_size(1280, 800)
    try:
        log_in(browser, live_server, "boss")
        measured = {}
        for name, path in CHANGELISTS.items():
            measured[name] = overflow_at(browser, f"{live_server.url}{path}")
            save_screenshot(browser, f"control-room-{name}.png")
        # Back on the users' list: what its columns say.
        overflow_at(browser, f"{live_server.url}{CHANGELISTS['users']}")
        live, deleted, never_seen = (user_row(browser, rows[key]) for key in ("live", "deleted", "never_seen"))
        deleted_cells = [cell(row, "deleted_in_clerk") for row in (live, deleted, never_seen)]
        icons = browser.find_elements(By.CSS_SELECTOR, "#result_list .field-deleted_in_clerk img")
        names = [cell(row, "name_and_email") for row in (live, never_seen)]
        joined = cell(live, "date_joined")
    finally:
        browser.set_window_size(1400, 1000)

    for name, page in measured.items():
        assert page["inner"] <= 1280, (name, page)
        assert page["scroll"] <= page["inner"], (name, page)  # the page does not scroll sideways
        assert page["box_scroll"] <= page["box_width"], (name, page)  # nor does the table inside it
        assert page["rows"] > 0, (name, page)
    assert deleted_cells == ["—", "deleted", "deleted"]
    assert icons == []  # no green tick on a deleted user
    assert names[0].splitlines() == [
        "Maria Fernanda González Rodríguez de la Fuente",
        "maria.fernanda.gonzalez-rodriguez@hospital-universitario.example.org",
    ]
    assert names[1] == "(deleted in Clerk before any of its data arrived)"
    assert MOMENT.match(joined), joined


@pytest.mark.django_db(transaction=True)
def test_an_events_page_shows_moments_the_same_way_and_its_attempts_above_the_payload(live_server, browser_signed_out):
    browser = browser_signed_out
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    event = a_control_room_full_of_long_values()["event"]
    browser.set_window_size(1280, 800)
    try:
        log_in(browser, live_server, "boss")
        overflow_at(browser, f"{live_server.url}/admin/webhooks/webhookevent/")
        listed = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr .field-received_at").text
        concerns = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr .subject").text
        filter_labels = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#changelist-filter a")]
        browser.get(f"{live_server.url}/admin/webhooks/webhookevent/{event.pk}/change/")
        wait(browser, EC.presence_of_element_located((By.ID, "payload")))
        received = browser.find_element(By.CSS_SELECTOR, ".field-received_at .readonly").text
        started = browser.find_element(By.CSS_SELECTOR, "td.field-started").text
        attempts_y = browser.find_element(By.CSS_SELECTOR, "td.field-started").location["y"]
        payload_y = browser.find_element(By.ID, "payload").location["y"]
        save_screenshot(browser, "control-room-event.png")
    finally:
        browser.set_window_size(1400, 1000)

    assert MOMENT.match(listed) and MOMENT.match(received) and MOMENT.match(started), (listed, received, started)
    assert concerns == (
        "user_2pQ8xLmN4vRtYh6KdWcE3sJ9aBf Maria Fernanda González Rodríguez de la Fuente, "
        "maria.fernanda.gonzalez-rodriguez@hospital-universitario.example.org"
    )
    assert "organizationMembership.created" in [label.replace("\n", "") for label in filter_labels]
    # Each filter label wraps only after a dot, never mid-word.
    assert all(line.endswith(".") or "." not in line for label in filter_labels for line in label.splitlines()[:-1])
    assert attempts_y < payload_y


@pytest.mark.django_db(transaction=True)
def test_the_index_has_our_header_and_the_readmes_groups(live_server, browser_signed_out):
    browser = browser_signed_out
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    browser.set_window_size(1280, 800)
    try:
        log_in(browser, live_server, "boss")
        browser.get(f"{live_server.url}/admin/")
        wait(browser, EC.presence_of_element_located((By.ID, "content-main")))
        header, title = browser.find_element(By.ID, "site-name").text, browser.title
        groups = {
            box.find_element(By.CSS_SELECTOR, "caption").text: [
                (row.find_element(By.CSS_SELECTOR, "th").text, row.find_elements(By.CSS_SELECTOR, "td")[-1].text)
                for row in box.find_elements(By.CSS_SELECTOR, "tr[class^=model-]")
            ]
            for box in browser.find_elements(By.CSS_SELECTOR, "#content-main .module")
        }
        health = browser.find_element(By.LINK_TEXT, "Sync health").get_attribute("href")
        save_screenshot(browser, "control-room-index.png")
        browser.get(health)
        wait(browser, EC.presence_of_element_located((By.ID, "ledger-health")))
        health_width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    finally:
        browser.set_window_size(1400, 1000)

    assert header == "clerk-sync control room" and title == "Control room | clerk-sync admin"
    assert "Django administration" not in header
    assert list(groups) == ["WEBHOOK LEDGER", "CLERK'S MIRROR", "BACKGROUND WORK", "STAFF ACCESS"]
    assert groups["WEBHOOK LEDGER"] == [
        ("Sync health", "View"),
        ("Webhook events", "View"),
        ("Webhook rejections", "View"),
    ]
    assert groups["CLERK'S MIRROR"] == [
        ("Users", "Change"),  # local staff accounts are made and edited here
        ("Organizations", "View"),
        ("Organization memberships", "View"),
    ]
    assert [name for name, _ in groups["BACKGROUND WORK"]] == [
        "Welcome emails",
        "Reconciliation passes",
        "Task runs (the task library's own queue)",
    ]
    assert health.endswith("/admin/webhooks/webhookevent/health/")
    assert health_width[0] <= health_width[1]
