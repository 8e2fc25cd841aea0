"""Linking members and racing inserts: a membership that arrives before its user, and concurrent first deliveries.

Paths: the user.created webhook, just-in-time creation (`get_or_create_from_clerk`
against the Clerk stand-in) and the backfill (`sync_clerk_users`). The race
(the user and the membership created by two transactions open at the same
time, neither seeing the other's row) runs real threads on PostgreSQL, and so
do concurrent first deliveries of one new organization.
"""

from __future__ import annotations

import io
import threading
import uuid
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import Organization, OrganizationMembership, User
from accounts.signals import organization_membership_created, user_provisioned
from accounts.sync.links import organization_memberships_link
from accounts.sync.organizations import membership_upsert_from_clerk
from accounts.sync.users import get_or_create_from_clerk
from accounts.tests.factories import ClerkUserDataFactory, UserFactory, user_event
from accounts.tests.organization_factories import new_membership, new_organization, org_event
from config.tests.helpers import deliver_to
from webhooks.tests.concurrency import BARRIER_TIMEOUT, run_concurrently
from webhooks.tests.deliveries import new_msg_id

VIA = Organization.CreatedVia.WEBHOOK


def membership_of(user_id: str) -> OrganizationMembership:
    return OrganizationMembership.objects.select_related("user").get(user_clerk_id=user_id)


@pytest.mark.django_db
class TestLinkedWhenTheUserIsCreated:
    def test_by_webhook_in_the_transaction_that_creates_the_user(self, deliver):
        user_data = ClerkUserDataFactory()
        deliver(org_event("organizationMembership.created", new_membership(user_id=user_data["id"])))
        assert membership_of(user_data["id"]).user is None
        linked_when_provisioned = []

        def look(sender, user, **kwargs):
            linked_when_provisioned.append(membership_of(user.clerk_id).user_id == user.pk)

        user_provisioned.connect(look, weak=False, dispatch_uid="test-link-look")
        try:
            assert deliver(user_event("user.created", user_data)).status_code == 200
        finally:
            user_provisioned.disconnect(dispatch_uid="test-link-look")

        assert membership_of(user_data["id"]).user == User.objects.get(clerk_id=user_data["id"])
        assert linked_when_provisioned == [True]

    def test_just_in_time(self, clerk_api):
        user_data = clerk_api.add_user(ClerkUserDataFactory())
        membership_upsert_from_clerk(new_membership(user_id=user_data["id"]), created_via=VIA)

        user = get_or_create_from_clerk(user_data["id"])

        assert membership_of(user_data["id"]).user == user
        assert user.created_via == "jit"

    def test_by_backfill(self, clerk_api):
        users = [clerk_api.add_user(ClerkUserDataFactory(created_at=n)) for n in range(3)]
        for user_data in users:
            membership_upsert_from_clerk(new_membership(user_id=user_data["id"]), created_via=VIA)

        call_command("sync_clerk_users", stdout=io.StringIO(), stderr=io.StringIO())

        for user_data in users:
            assert membership_of(user_data["id"]).user.clerk_id == user_data["id"]

    def test_every_membership_of_the_user_and_only_those(self):
        user_id = "user_manyorgs"
        for _ in range(3):
            membership_upsert_from_clerk(new_membership(user_id=user_id), created_via=VIA)
        membership_upsert_from_clerk(new_membership(user_id="user_someoneelse"), created_via=VIA)
        user = UserFactory(clerk_id=user_id)

        assert organization_memberships_link(user) == 3
        assert organization_memberships_link(user) == 0  # already linked
        assert set(OrganizationMembership.objects.filter(user=user).values_list("user_clerk_id", flat=True)) == {
            user_id
        }
        assert OrganizationMembership.objects.get(user_clerk_id="user_someoneelse").user is None

    def test_a_later_membership_event_links_a_user_that_became_local(self):
        data = new_membership(updated_at=1_000)
        membership_upsert_from_clerk(data, created_via=VIA)
        User.objects.create(clerk_id=data["public_user_data"]["user_id"], username="made-elsewhere")

        membership_upsert_from_clerk(data, created_via=VIA)  # the same state again: only the link changes

        assert membership_of(data["public_user_data"]["user_id"]).user.username == "made-elsewhere"


# --- the race ----------------------------------------------------------------------------------------

# Where each side waits for the other, both transactions open and neither row visible to the other:
# "user first": the user is inserted (its link lock not taken yet); the membership side has taken
# the lock and inserted the membership. "membership first": the user side has inserted the user,
# taken the lock and run its link update; the membership side has written the organization and is
# about to take the lock and look for the user (it always locks first: accounts/sync/links.py).
MEETING_POINTS = {
    "user first": {
        "user": lambda sql: sql.startswith('INSERT INTO "accounts_user"'),
        "membership": lambda sql: sql.startswith('INSERT INTO "accounts_organizationmembership"'),
    },
    "membership first": {
        # the lock and the link update, sent as one query string (accounts/db.py memberships_link)
        "user": lambda sql: 'UPDATE "accounts_organizationmembership" SET "user_id"' in sql,
        "membership": lambda sql: sql.startswith('INSERT INTO "accounts_organization"'),
    },
}
ROUNDS = 15  # per meeting point: after the meeting, which transaction commits first is up to the scheduler


class Meeting:
    """Holds each side's transaction right after its meeting-point statement until both are there."""

    def __init__(self, points: dict) -> None:
        self.points = points
        self.met = threading.Barrier(2)
        self.reached: list[str] = []

    def around(self, index: int):
        side = ("user", "membership")[index]

        def hold(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            if side not in self.reached and self.points[side](sql.lstrip()):
                self.reached.append(side)
                self.met.wait(timeout=BARRIER_TIMEOUT)
            return result

        @contextmanager
        def wrapped():
            with connection.execute_wrapper(hold):
                yield

        return wrapped()


@pytest.mark.postgres(
    reason="the user and the membership are inserted by two transactions open at the same time; "
    "the link lock makes the later one wait and see the other's row, which needs PostgreSQL's concurrency"
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("meeting_point", MEETING_POINTS)
def test_user_and_membership_created_at_the_same_moment_are_linked(meeting_point):
    for _ in range(ROUNDS):
        user_data = ClerkUserDataFactory(id=f"user_race{uuid.uuid4().hex[:12]}")
        membership = new_membership(user_id=user_data["id"])
        meeting = Meeting(MEETING_POINTS[meeting_point])

        answers = run_concurrently(
            [
                (
                    "user",
                    lambda client, data=user_data: deliver_to(
                        client, user_event("user.created", data), msg_id=new_msg_id()
                    ),
                ),
                (
                    "membership",
                    lambda client, data=membership: deliver_to(
                        client, org_event("organizationMembership.created", data), msg_id=new_msg_id()
                    ),
                ),
            ],
            around=meeting.around,
        )

        assert [answer.status for answer in answers] == [200, 200]
        assert sorted(meeting.reached) == ["membership", "user"]
        assert membership_of(user_data["id"]).user == User.objects.get(clerk_id=user_data["id"])


@pytest.mark.postgres(
    reason="ten deliveries insert the same new organization at once; converging on one row relies on "
    "INSERT … ON CONFLICT waiting on concurrent transactions and on row locks, which need PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_deliveries_of_one_organization_converge_on_one_row():
    organization = new_organization(name="Raced")
    memberships = [new_membership(organization=organization) for _ in range(10)]
    created = []
    organization_membership_created.connect(
        lambda sender, membership, **kwargs: created.append(membership.clerk_id), weak=False, dispatch_uid="race-org"
    )
    try:
        jobs = [("organization", lambda client: deliver_to(client, org_event("organization.created", organization)))]
        jobs += [
            ("membership", lambda client, m=m: deliver_to(client, org_event("organizationMembership.created", m)))
            for m in memberships
        ]
        answers = run_concurrently(jobs)
    finally:
        organization_membership_created.disconnect(dispatch_uid="race-org")

    assert [answer.status for answer in answers] == [200] * 11
    assert list(Organization.objects.values_list("clerk_id", "name")) == [(organization["id"], "Raced")]
    assert sorted(created) == sorted(m["id"] for m in memberships)
    assert OrganizationMembership.objects.count() == 10
