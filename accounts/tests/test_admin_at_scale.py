"""The admin's pages over many users, organizations, memberships and events: what PostgreSQL reads for each.

bench/admin.py times every admin page on 200,000 users and a million events (docs/admin.md, "The admin
at scale"). These tests pin why they are fast, on a few thousand rows: the plans (webhooks/tests/plans.py)
use the indexes the pages need and read a page's rows, not the table; never a time. The delete page's
cost is pinned by its statements, on any database.
"""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Organization, OrganizationMembership, User, UserProvisioning
from webhooks.models import WebhookEvent
from webhooks.tests.admin_pages import CHANGELIST as EVENTS_LIST
from webhooks.tests.admin_pages import HEALTH, listed_event_ids
from webhooks.tests.plans import plan_scans, scans_of, statements_sent

pytestmark = pytest.mark.django_db

USERS, ORGANIZATIONS, MEMBERSHIPS, EVENTS_EACH = 2_000, 300, 2_000, 3
TABLES = ("accounts_user", "accounts_userprovisioning", "accounts_organization", "accounts_organizationmembership")


@pytest.fixture
def mirror(db):
    """USERS Clerk users (a few welcome emails failed), ORGANIZATIONS with MEMBERSHIPS, EVENTS_EACH events per user."""
    now = timezone.now()
    users = User.objects.bulk_create(
        User(username=f"person{n}", email=f"person{n}@example.com", clerk_id=f"user_{n:08d}", first_name="Ada",
             last_name=f"Name{n}", created_via=User.CreatedVia.WEBHOOK, date_joined=now - dt.timedelta(minutes=n))
        for n in range(USERS)
    )  # fmt: skip
    UserProvisioning.objects.bulk_create(
        UserProvisioning(user=user, created_via=user.created_via, provisioned_at=user.date_joined,
                         welcome_email="failed" if n % 500 == 0 else "sent")
        for n, user in enumerate(users)
    )  # fmt: skip
    organizations = Organization.objects.bulk_create(
        Organization(clerk_id=f"org_{n:08d}", name=f"Org {n}", slug=f"org-{n}", created_via="webhook")
        for n in range(ORGANIZATIONS)
    )
    OrganizationMembership.objects.bulk_create(
        OrganizationMembership(clerk_id=f"orgmem_{n:08d}", organization=organizations[n % ORGANIZATIONS],
                               user=users[n], user_clerk_id=users[n].clerk_id, role="org:member")
        for n in range(MEMBERSHIPS)
    )  # fmt: skip
    WebhookEvent.objects.bulk_create(
        WebhookEvent(source="clerk", event_id=f"msg_{n}_{k}", event_type="user.updated", subject_id=user.clerk_id,
                     payload={}, status="processed", attempts=1, received_at=now - dt.timedelta(minutes=3 * n + k))
        for n, user in enumerate(users)
        for k in range(EVENTS_EACH)
    )  # fmt: skip
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(TABLES)}, webhooks_webhookevent")
    return users


def page_of(admin_client, url: str, **query) -> list[str]:
    """The statements of one load of `url` (answered 200)."""
    with statements_sent() as statements:
        assert admin_client.get(url, query).status_code == 200
    return statements


@pytest.mark.postgres
@pytest.mark.parametrize("email", ["person1234@example.com", "PERSON1234@EXAMPLE.COM"])
def test_an_email_search_of_the_ledger_starts_from_the_users_it_matches(admin_client, mirror, email):
    """As one statement (OR subject_id IN (SELECT …)) it read every event: 2.1 to 2.8 s on a million."""
    with statements_sent() as statements:
        response = admin_client.get(EVENTS_LIST, {"q": email})

    assert len(listed_event_ids(response)) == EVENTS_EACH
    assert any(scan.indexes == ("accounts_user_email_upper_idx",) for scan in scans_of(statements, "accounts_user"))
    events = scans_of(statements, "webhooks_webhookevent")
    assert any("subject_id" in index for scan in events for index in scan.indexes), events
    assert all(scan.node != "Seq Scan" and scan.rows_read <= USERS * EVENTS_EACH // 10 for scan in events), events


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "term", "table"),
    [
        ("/admin/accounts/user/", "person1234@example", "accounts_user"),
        ("/admin/accounts/user/", "user_00001234", "accounts_user"),
        ("/admin/accounts/user/", "Name1234", "accounts_user"),
        ("/admin/accounts/userprovisioning/", "person1234@example", "accounts_user"),
        ("/admin/accounts/organizationmembership/", "user_00001234", "accounts_organizationmembership"),
        ("/admin/accounts/organizationmembership/", "orgmem_00001234", "accounts_organizationmembership"),
        ("/admin/accounts/organizationmembership/", "org-123", "accounts_organizationmembership"),
    ],
)
def test_a_search_reads_the_trigram_indexes_not_every_row(admin_client, mirror, url, term, table):
    """Django's search (each word anywhere in any search field) read all 200,000 rows: 0.3 to 0.6 s.

    Users' and memberships' fields have trigram indexes; the users or organizations a word names in a
    related table are found first (accounts/admin/search.py), and the list's count reads the matches only.
    """
    statements = page_of(admin_client, url, q=term)

    searched = scans_of(statements, table)
    assert any(index.endswith("_trgm") for scan in searched for index in scan.indexes), searched
    assert all(scan.node != "Seq Scan" for scan in searched), searched
    counts = [sql for sql in statements if sql.startswith("SELECT COUNT(*)")]
    counted = [scan for sql in counts for scan in plan_scans(sql)]
    assert counted and all(scan.rows_read <= 50 for scan in counted), counted


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "table"),
    [
        ("/admin/accounts/user/", "accounts_user"),
        ("/admin/accounts/userprovisioning/", "accounts_userprovisioning"),
        ("/admin/accounts/organizationmembership/", "accounts_organizationmembership"),
        ("/admin/accounts/organization/", "accounts_organization"),
    ],
)
def test_a_list_reads_its_page_newest_first_through_an_index(admin_client, mirror, url, table):
    """Sorting every row for the newest 100 cost 0.1 to 0.3 s each; the welcome emails' dates are probed too."""
    statements = page_of(admin_client, url)

    listed = [sql for sql in statements if not sql.startswith("SELECT COUNT(*)")]  # the count reads the table
    scans = scans_of(listed, table)
    assert scans and all(scan.node != "Seq Scan" and scan.rows_read <= 101 for scan in scans), scans


@pytest.mark.postgres
def test_the_organizations_list_counts_the_members_of_its_page_only(admin_client, mirror):
    """Counted for every organization in one GROUP BY, and again for the paginator's count (0.2 s each)."""
    statements = page_of(admin_client, "/admin/accounts/organization/")

    read = sum(scan.rows_read for scan in scans_of(statements, "accounts_organizationmembership"))
    assert read <= MEMBERSHIPS * 100 // ORGANIZATIONS + 10  # the members of the 100 listed


@pytest.mark.postgres
def test_the_health_page_reads_the_failed_welcome_emails_through_their_index(admin_client, mirror):
    """Three statements (the count, the list, the alarm) read every provisioning: 20 ms each on 200,000."""
    statements = page_of(admin_client, HEALTH)

    scans = scans_of(statements, "accounts_userprovisioning")
    assert scans and all(scan.node != "Seq Scan" for scan in scans), scans


def test_an_organizations_delete_page_counts_its_memberships_instead_of_loading_each(admin_client):
    """Each membership was loaded and linked: 0.7 to 1.2 s for the 7,367 of the largest organization."""
    organization = Organization.objects.create(clerk_id="org_large", name="Large", slug="large")
    OrganizationMembership.objects.bulk_create(
        OrganizationMembership(clerk_id=f"orgmem_{n}", organization=organization, user_clerk_id=f"user_{n}")
        for n in range(300)
    )

    with statements_sent() as statements:
        html = admin_client.get(f"/admin/accounts/organization/{organization.pk}/delete/").content.decode()

    loaded = [sql for sql in statements if sql.startswith('SELECT "accounts_organizationmembership".')]
    counted = [sql for sql in statements if sql.startswith("SELECT COUNT(*)") and "organizationmembership" in sql]
    assert counted and not loaded, loaded
    assert "Organization memberships: 300 (deleted too, not listed one by one)" in html
    assert f'<a href="/admin/accounts/organization/{organization.pk}/change/">Large</a>' in html
    assert "/admin/accounts/organizationmembership/" not in html


def test_deleting_an_organization_still_deletes_its_memberships(admin_client):
    organization = Organization.objects.create(clerk_id="org_gone", name="Gone", slug="gone")
    OrganizationMembership.objects.create(clerk_id="orgmem_gone", organization=organization, user_clerk_id="user_1")

    response = admin_client.post(f"/admin/accounts/organization/{organization.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Organization.objects.exists() and not OrganizationMembership.objects.exists()
