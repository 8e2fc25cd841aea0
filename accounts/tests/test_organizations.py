"""Organization sync services: upsert by Clerk id, the updated_at guard, final tombstones, counting members."""

import pytest

from accounts.clerk.data import ClerkDataError
from accounts.clerk.payloads import organization_deleted_data
from accounts.models import Organization, OrganizationMembership
from accounts.sync.organizations import (
    membership_tombstone,
    membership_upsert_from_clerk,
    organization_current_members,
    organization_tombstone,
    organization_upsert_from_clerk,
)
from accounts.sync.outcome import SyncOutcome
from accounts.tests.factories import UserFactory
from accounts.tests.organization_factories import new_membership, new_organization

pytestmark = pytest.mark.django_db

VIA = Organization.CreatedVia.WEBHOOK


class TestOrganizationUpsert:
    def test_creates_then_updates_the_row_found_by_clerk_id(self):
        data = new_organization(name="Acme", slug="acme", updated_at=1_000)

        created = organization_upsert_from_clerk(data, created_via=VIA)
        updated = organization_upsert_from_clerk(data | {"name": "Acme Inc", "updated_at": 2_000}, created_via=VIA)

        assert (created.outcome, updated.outcome) == (SyncOutcome.CREATED, SyncOutcome.UPDATED)
        organization = Organization.objects.get()
        assert (organization.clerk_id, organization.name, organization.slug) == (data["id"], "Acme Inc", "acme")
        assert organization.clerk_updated_at.timestamp() == 2.0
        assert organization.created_via == "webhook"

    def test_never_matched_by_slug(self):
        organization_upsert_from_clerk(new_organization(slug="shared"), created_via=VIA)
        organization_upsert_from_clerk(new_organization(slug="shared"), created_via=VIA)

        assert Organization.objects.filter(slug="shared").count() == 2

    @pytest.mark.parametrize(("updated_at", "outcome", "name"), [(999, "stale", "Acme"), (1_000, "updated", "Other")])
    def test_older_updated_at_changes_nothing_and_an_equal_one_applies(self, updated_at, outcome, name):
        """The users' guard (accounts/tests/test_updated_at_guard.py has the whole table)."""
        data = new_organization(name="Acme", updated_at=1_000)
        organization_upsert_from_clerk(data, created_via=VIA)

        result = organization_upsert_from_clerk(data | {"name": "Other", "updated_at": updated_at}, created_via=VIA)

        assert result.outcome == outcome
        assert Organization.objects.get().name == name

    def test_the_same_state_again_is_unchanged(self):
        data = new_organization(updated_at=1_000)
        organization_upsert_from_clerk(data, created_via=VIA)

        assert organization_upsert_from_clerk(data, created_via=VIA).outcome == SyncOutcome.UNCHANGED

    def test_created_via_is_the_first_path(self):
        data = new_organization(updated_at=1_000)
        organization_upsert_from_clerk(data, created_via=Organization.CreatedVia.JIT)
        organization_upsert_from_clerk(data | {"updated_at": 2_000}, created_via=VIA)

        assert Organization.objects.get().created_via == "jit"

    @pytest.mark.parametrize(
        "data",
        [{}, {"id": None}, {"id": ""}, {"id": 42}, {"id": "user_123"}, {"id": "org_" + "x" * 61}, "org_1"],
        ids=["no id", "null", "empty", "number", "not org_", "too long", "not an object"],
    )
    def test_unusable_id_is_refused(self, data):
        with pytest.raises(ClerkDataError):
            organization_upsert_from_clerk(data, created_via=VIA)
        assert not Organization.objects.exists()

    def test_text_is_cleaned_and_a_bad_image_url_dropped(self):
        data = new_organization(name="  Ac\x00me  ", slug="a" * 300, image_url="not a url")

        organization = organization_upsert_from_clerk(data, created_via=VIA).organization

        organization.refresh_from_db()
        assert (organization.name, len(organization.slug), organization.image_url) == ("Acme", 256, "")


class TestOrganizationTombstone:
    def test_tombstone_is_final(self):
        data = new_organization(name="Acme", updated_at=1_000)
        organization_upsert_from_clerk(data, created_via=VIA)

        deleted = organization_tombstone(organization_deleted_data(id=data["id"]), created_via=VIA)
        again = organization_tombstone(organization_deleted_data(id=data["id"]), created_via=VIA)
        later = organization_upsert_from_clerk(data | {"name": "Back", "updated_at": 9_000}, created_via=VIA)

        assert (deleted.outcome, again.outcome, later.outcome) == (
            SyncOutcome.DELETED,
            SyncOutcome.ALREADY_DELETED,
            SyncOutcome.ALREADY_DELETED,
        )
        organization = Organization.objects.get()
        assert organization.deleted_at is not None and organization.name == "Acme"

    def test_delete_before_create_leaves_a_tombstone(self):
        data = new_organization(name="Acme", slug="acme")

        organization_tombstone(organization_deleted_data(id=data["id"], slug="acme"), created_via=VIA)
        result = organization_upsert_from_clerk(data, created_via=VIA)

        assert result.outcome == SyncOutcome.ALREADY_DELETED
        organization = Organization.objects.get()
        assert (organization.slug, organization.name, organization.is_deleted_in_clerk) == ("acme", "", True)

    def test_without_id_is_refused(self):
        with pytest.raises(ClerkDataError):
            organization_tombstone({"object": "organization", "deleted": True}, created_via=VIA)


class TestMembershipUpsert:
    def test_creates_the_membership_and_its_organization(self):
        data = new_membership(role="org:admin", permissions=["org:posts:write"])

        result = membership_upsert_from_clerk(data, created_via=VIA)

        assert result.outcome == SyncOutcome.CREATED
        membership = OrganizationMembership.objects.select_related("organization").get()
        assert membership.organization.clerk_id == data["organization"]["id"]
        assert membership.organization.name == data["organization"]["name"]
        assert (membership.clerk_id, membership.user_clerk_id) == (data["id"], data["public_user_data"]["user_id"])
        assert (membership.role, membership.permissions, membership.user) == ("org:admin", ["org:posts:write"], None)

    def test_links_a_user_that_is_already_local(self):
        user = UserFactory(clerk_id="user_alreadyhere")

        membership = membership_upsert_from_clerk(new_membership(user_id="user_alreadyhere"), created_via=VIA)

        assert membership.membership.user == user
        assert OrganizationMembership.objects.get().user == user

    def test_role_change_and_the_guard(self):
        data = new_membership(role="org:member", updated_at=1_000)
        membership_upsert_from_clerk(data, created_via=VIA)

        changed = membership_upsert_from_clerk(data | {"role": "org:admin", "updated_at": 2_000}, created_via=VIA)
        stale = membership_upsert_from_clerk(data | {"role": "org:viewer", "updated_at": 1_500}, created_via=VIA)

        assert (changed.outcome, stale.outcome) == (SyncOutcome.UPDATED, SyncOutcome.STALE)
        assert OrganizationMembership.objects.get().role == "org:admin"

    def test_embedded_organization_is_upserted_under_the_guard(self):
        organization = new_organization(name="New name", updated_at=2_000)
        organization_upsert_from_clerk(organization, created_via=VIA)

        membership_upsert_from_clerk(
            new_membership(organization=organization | {"name": "Old name", "updated_at": 1_000}), created_via=VIA
        )

        assert Organization.objects.get().name == "New name"

    @pytest.mark.parametrize(
        "change",
        [
            {"id": None},
            {"id": "org_123"},
            {"organization": None},
            {"organization": {"object": "organization"}},
            {"public_user_data": None},
            {"public_user_data": {"first_name": "Jane"}},
            {"public_user_data": {"user_id": "org_123"}},
            {"role": 1},
            {"role": ["org:admin"]},
            {"permissions": "org:posts:read"},
            {"permissions": [1]},
            {"permissions": {"org:posts:read": True}},
        ],
        ids=[
            "no id",
            "not orgmem_",
            "no organization",
            "organization without id",
            "no public_user_data",
            "no user_id",
            "user_id not user_",
            "role a number",
            "role a list",
            "permissions a string",
            "permissions not strings",
            "permissions an object",
        ],
    )
    def test_unusable_data_is_refused_and_nothing_kept(self, change):
        with pytest.raises(ClerkDataError):
            membership_upsert_from_clerk(new_membership() | change, created_via=VIA)
        assert not OrganizationMembership.objects.exists()


class TestMembershipTombstone:
    def test_tombstone_is_final_and_ends_the_membership(self):
        data = new_membership(updated_at=1_000)
        membership_upsert_from_clerk(data, created_via=VIA)

        deleted = membership_tombstone(data, created_via=VIA)
        later = membership_upsert_from_clerk(data | {"role": "org:admin", "updated_at": 9_000}, created_via=VIA)

        assert (deleted.outcome, later.outcome) == (SyncOutcome.DELETED, SyncOutcome.ALREADY_DELETED)
        membership = OrganizationMembership.objects.get()
        assert membership.deleted_at is not None and membership.role == "org:member"
        assert not organization_current_members(membership.organization).exists()

    def test_delete_before_create_stores_the_tombstone(self):
        data = new_membership(role="org:admin")

        deleted = membership_tombstone(data, created_via=VIA)
        created = membership_upsert_from_clerk(data, created_via=VIA)

        assert (deleted.outcome, created.outcome) == (SyncOutcome.DELETED, SyncOutcome.ALREADY_DELETED)
        assert OrganizationMembership.objects.get().is_deleted_in_clerk


class TestCurrentMembers:
    def test_leaves_out_removed_members_and_all_of_a_deleted_organization(self):
        organization = new_organization()
        staying, leaving = new_membership(organization=organization), new_membership(organization=organization)
        for data in (staying, leaving, new_membership()):
            membership_upsert_from_clerk(data, created_via=VIA)
        membership_tombstone(leaving, created_via=VIA)
        local = Organization.objects.get(clerk_id=organization["id"])

        assert [m.clerk_id for m in organization_current_members(local)] == [staying["id"]]

        organization_tombstone(organization_deleted_data(id=organization["id"]), created_via=VIA)
        assert not organization_current_members(local).exists()

    def test_a_membership_of_a_deleted_organization_is_stored_but_never_counts(self):
        organization = new_organization()
        organization_tombstone(organization_deleted_data(id=organization["id"]), created_via=VIA)

        result = membership_upsert_from_clerk(new_membership(organization=organization), created_via=VIA)

        assert result.outcome == SyncOutcome.CREATED
        assert not organization_current_members(result.membership.organization).exists()
