"""organization.* and organizationMembership.* over real signed deliveries: Clerk's samples, signals, bad input."""

import copy
import threading
import uuid

import pytest

from accounts.clerk.payloads import organization_deleted_data
from accounts.models import Organization, OrganizationMembership, User
from accounts.signals import (
    organization_membership_changed,
    organization_membership_created,
    organization_membership_removed,
)
from accounts.sync.organizations import organization_current_members
from accounts.tests.organization_factories import new_membership, new_organization, org_event
from config.tests.helpers import load_fixture
from webhooks.models import WebhookEvent, WebhookRejection

pytestmark = pytest.mark.django_db

SAMPLE_ORG_ID = "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
SAMPLE_MEMBERSHIP_ID = "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S"


@pytest.fixture
def announced():
    """Every membership signal sent during the test, in order: (signal, membership clerk_id, details); thread-safe."""
    calls: list[tuple] = []
    lock = threading.Lock()
    uid = uuid.uuid4().hex

    def receiver(name):
        def receive(sender, membership, created_via, signal, **details):
            with lock:
                calls.append((name, membership.clerk_id, details))

        return receive

    signals = {
        "created": organization_membership_created,
        "changed": organization_membership_changed,
        "removed": organization_membership_removed,
    }
    for name, signal in signals.items():
        signal.connect(receiver(name), weak=False, dispatch_uid=f"{uid}-{name}")
    try:
        yield calls
    finally:
        for name, signal in signals.items():
            signal.disconnect(dispatch_uid=f"{uid}-{name}")


def sample(name: str) -> dict:
    return copy.deepcopy(load_fixture(name))


class TestClerkSamples:
    def test_the_samples_in_clerks_order(self, deliver, announced):
        for name in ("organization__created", "organization__updated", "organizationMembership__created"):
            assert deliver(sample(name)).status_code == 200

        organization = Organization.objects.get()
        assert (organization.clerk_id, organization.name, organization.slug) == (
            SAMPLE_ORG_ID,
            "Acme Corp Updated",  # the membership's older embedded copy changed nothing
            "acme-corp-updated",
        )
        assert organization.image_url == "https://img.clerk.com/yyyyyy"
        membership = OrganizationMembership.objects.get()
        assert (membership.clerk_id, membership.user_clerk_id, membership.role) == (
            SAMPLE_MEMBERSHIP_ID,
            "user_2h8op3Isl1QR7tKu5FGNfaLKEoU",
            "org:member",
        )
        assert membership.permissions == ["org:posts:read", "org:posts:write"]

        assert deliver(sample("organizationMembership__updated")).status_code == 200
        membership.refresh_from_db()
        assert membership.role == "org:admin" and "org:members:manage" in membership.permissions

        assert deliver(sample("organizationMembership__deleted")).status_code == 200
        assert deliver(sample("organization__deleted")).status_code == 200
        membership.refresh_from_db()
        organization.refresh_from_db()
        assert membership.is_deleted_in_clerk and organization.is_deleted_in_clerk
        assert announced == [
            ("created", SAMPLE_MEMBERSHIP_ID, {}),
            ("changed", SAMPLE_MEMBERSHIP_ID, {"old_role": "org:member", "new_role": "org:admin"}),
            ("removed", SAMPLE_MEMBERSHIP_ID, {}),
        ]
        assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}

    @pytest.mark.parametrize(
        "order",
        [
            ("organizationMembership__updated", "organization__updated"),
            ("organization__updated", "organizationMembership__updated"),
        ],
        ids=["membership-first", "organization-first"],
    )
    def test_the_organizations_own_update_wins_over_the_copy_a_membership_event_embeds(self, deliver, order):
        """Both samples carry the organization's updated_at 1716883500000; the membership's copy has the old name."""
        for name in order:
            assert deliver(sample(name)).status_code == 200

        organization = Organization.objects.get()
        assert (organization.name, organization.slug, organization.image_url) == (
            "Acme Corp Updated",
            "acme-corp-updated",
            "https://img.clerk.com/yyyyyy",
        )
        assert organization.clerk_updated_at.timestamp() == 1716883500
        assert OrganizationMembership.objects.get().role == "org:admin"

    def test_redelivery_runs_nothing_again(self, deliver, announced):
        payload = sample("organizationMembership__created")

        assert deliver(payload, msg_id="msg_org_once").status_code == 200
        assert deliver(payload, msg_id="msg_org_once").status_code == 202
        assert deliver(payload, msg_id="msg_org_other_copy").status_code == 200  # another message, same state

        assert [call[0] for call in announced] == ["created"]
        assert OrganizationMembership.objects.count() == 1

    def test_a_stale_role_announces_nothing(self, deliver, announced):
        deliver(sample("organizationMembership__updated"))
        deliver(sample("organizationMembership__created"))  # older: arrives late

        assert OrganizationMembership.objects.get().role == "org:admin"
        assert announced == [("created", SAMPLE_MEMBERSHIP_ID, {})]


class TestSignals:
    def test_organization_deleted_removes_each_counted_member_once(self, deliver, announced):
        organization = new_organization()
        staying, leaving = new_membership(organization=organization), new_membership(organization=organization)
        for data in (staying, leaving):
            deliver(org_event("organizationMembership.created", data))
        deliver(org_event("organizationMembership.deleted", leaving))

        deliver(org_event("organization.deleted", organization_deleted_data(id=organization["id"])))
        deliver(org_event("organizationMembership.deleted", staying))  # already ended with its organization
        deliver(org_event("organizationMembership.updated", staying | {"role": "org:admin", "updated_at": 9**12}))

        assert [(name, clerk_id) for name, clerk_id, _ in announced] == [
            ("created", staying["id"]),
            ("created", leaving["id"]),
            ("removed", leaving["id"]),
            ("removed", staying["id"]),
        ]

    def test_a_membership_arriving_for_a_deleted_organization_announces_nothing(self, deliver, announced):
        organization = new_organization()
        deliver(org_event("organization.deleted", organization_deleted_data(id=organization["id"])))
        response = deliver(org_event("organizationMembership.created", new_membership(organization=organization)))

        assert response.status_code == 200
        assert announced == []
        assert OrganizationMembership.objects.count() == 1

    def test_a_receiver_that_raises_rolls_the_change_back(self, deliver):
        def fail(sender, **kwargs):
            raise RuntimeError("tenant table unavailable")

        organization_membership_created.connect(fail, weak=False, dispatch_uid="test-org-fail")
        try:
            response = deliver(org_event("organizationMembership.created", new_membership()), msg_id="msg_org_fail")
        finally:
            organization_membership_created.disconnect(dispatch_uid="test-org-fail")

        assert response.status_code == 500
        assert not OrganizationMembership.objects.exists() and not Organization.objects.exists()
        assert WebhookEvent.objects.get(event_id="msg_org_fail").status == "failed"

    def test_the_receiver_sees_the_rows_it_was_told_about(self, deliver):
        seen = []

        def count_members(sender, membership, **kwargs):
            seen.append(organization_current_members(membership.organization).count())

        organization_membership_created.connect(count_members, weak=False, dispatch_uid="test-org-count")
        try:
            organization = new_organization()
            deliver(org_event("organizationMembership.created", new_membership(organization=organization)))
            deliver(org_event("organizationMembership.created", new_membership(organization=organization)))
        finally:
            organization_membership_created.disconnect(dispatch_uid="test-org-count")

        assert seen == [1, 2]


class TestBadInput:
    """Unusable data: 400 bad_data, and nothing kept (no ledger row, no organization, no membership)."""

    @pytest.mark.parametrize(
        ("event_type", "data"),
        [
            ("organization.created", {"object": "organization", "name": "No id"}),
            ("organization.updated", {"id": ""}),
            ("organization.deleted", {"object": "organization", "slug": "acme", "deleted": True}),
            ("organization.created", ["org_1"]),
            ("organizationMembership.created", new_membership() | {"id": None}),
            ("organizationMembership.created", new_membership() | {"organization": {"name": "No id"}}),
            ("organizationMembership.updated", new_membership() | {"public_user_data": {"first_name": "No id"}}),
            ("organizationMembership.deleted", new_membership() | {"organization": None}),
            ("organizationMembership.created", new_membership() | {"role": {"key": "org:admin"}}),
            ("organizationMembership.updated", new_membership() | {"permissions": "org:posts:read,org:posts:write"}),
            ("organizationMembership.created", new_membership() | {"permissions": [None]}),
        ],
        ids=[
            "org-no-id",
            "org-empty-id",
            "org-deleted-no-id",
            "org-data-not-object",
            "membership-no-id",
            "membership-organization-no-id",
            "membership-no-user-id",
            "membership-deleted-no-organization",
            "role-an-object",
            "permissions-a-string",
            "permissions-not-strings",
        ],
    )
    def test_refused(self, deliver, event_type, data):
        response = deliver(org_event(event_type, data))

        assert response.status_code == 400, response.content
        assert response.json()["reason"] == "bad_data"
        assert not WebhookEvent.objects.exists()
        assert not Organization.objects.exists() and not OrganizationMembership.objects.exists()
        assert list(WebhookRejection.objects.values_list("reason", flat=True)) == ["bad_data"]


class TestMembershipStaysInItsOrganization:
    """A membership never changes organization: an event naming another one is bad_data, and nothing of it is kept."""

    @pytest.mark.parametrize(
        "event_type",
        ["organizationMembership.created", "organizationMembership.updated", "organizationMembership.deleted"],
    )
    @pytest.mark.parametrize("other_is_local", [False, True], ids=["other-unseen", "other-local"])
    def test_refused_and_nothing_written(self, deliver, announced, event_type, other_is_local):
        home = new_organization(name="Home", updated_at=1_000)
        other = new_organization(name="Other", updated_at=1_000)
        data = new_membership(organization=home, role="org:member", updated_at=1_000)
        assert deliver(org_event("organizationMembership.created", data)).status_code == 200
        if other_is_local:
            assert deliver(org_event("organization.created", other)).status_code == 200
        moved = data | {
            "organization": other | {"name": "Other, renamed", "updated_at": 2_000},
            "role": "org:admin",
            "updated_at": 2_000,
        }

        response = deliver(org_event(event_type, moved))

        assert response.status_code == 400, response.content
        assert response.json()["reason"] == "bad_data" and "organization" in response.json()["error"]
        membership = OrganizationMembership.objects.select_related("organization").get()
        assert (membership.organization.clerk_id, membership.role) == (home["id"], "org:member")
        assert membership.deleted_at is None and membership.clerk_updated_at.timestamp() == 1.0
        expected = {home["id"]: "Home"} | ({other["id"]: "Other"} if other_is_local else {})
        assert dict(Organization.objects.values_list("clerk_id", "name")) == expected
        assert Organization.objects.get(clerk_id=home["id"]).clerk_updated_at.timestamp() == 1.0
        assert [name for name, _, _ in announced] == ["created"]
        assert WebhookEvent.objects.count() == 1 + other_is_local
        assert list(WebhookRejection.objects.values_list("reason", flat=True)) == ["bad_data"]

    def test_refused_whatever_its_updated_at_and_for_a_tombstone_too(self, deliver):
        home, other = new_organization(), new_organization()
        data = new_membership(organization=home, updated_at=5_000)
        deliver(org_event("organizationMembership.created", data))
        stale = deliver(org_event("organizationMembership.updated", data | {"organization": other, "updated_at": 1}))
        deliver(org_event("organizationMembership.deleted", data))
        ended = deliver(org_event("organizationMembership.updated", data | {"organization": other}))

        assert [stale.status_code, ended.status_code] == [400, 400]
        assert list(Organization.objects.values_list("clerk_id", flat=True)) == [home["id"]]


def test_no_handler_calls_clerk(deliver, clerk_api):
    """Everything a handler needs is in the delivery (the stand-in would count any call)."""
    organization = new_organization()
    for event_type, data in [
        ("organizationMembership.created", new_membership(organization=organization)),
        ("organization.updated", organization | {"name": "Renamed", "updated_at": organization["updated_at"] + 1}),
        ("organization.deleted", organization_deleted_data(id=organization["id"])),
    ]:
        assert deliver(org_event(event_type, data)).status_code == 200

    assert sum(clerk_api.calls.values()) == 0
    assert not User.objects.exists()
