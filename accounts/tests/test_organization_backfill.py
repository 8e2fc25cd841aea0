"""sync_clerk_organizations against the Clerk stand-in: pages, retries, a second run that changes nothing."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.clerk.payloads import organization_deleted_data
from accounts.models import Organization, OrganizationMembership
from accounts.sync.organizations import membership_upsert_from_clerk, organization_tombstone
from accounts.tests.factories import UserFactory
from accounts.tests.organization_factories import new_membership, new_organization

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("sync_clerk_organizations", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def tables() -> tuple[list[dict], list[dict]]:
    """Every column of every organization and membership row."""
    return (
        list(Organization.objects.order_by("pk").values()),
        list(OrganizationMembership.objects.order_by("pk").values()),
    )


def test_1200_organizations_and_3000_memberships_in_one_run_and_a_second_changes_nothing(clerk_api):
    organizations = [clerk_api.add_organization(new_organization(created_at=n)) for n in range(1200)]
    memberships = [
        clerk_api.add_membership(
            new_membership(organization=organizations[n % 1200], user_id=f"user_bulk{n % 1700:05d}", created_at=n)
        )
        for n in range(3000)
    ]
    local_users = [UserFactory(clerk_id=f"user_bulk{n:05d}") for n in range(0, 1700, 17)]

    out, err = run()

    assert out.splitlines() == [
        "1200 Clerk organizations: 1200 created, 0 updated, 0 unchanged, 0 skipped",
        "3000 Clerk memberships: 3000 created, 0 updated, 0 unchanged, 0 skipped",
    ]
    assert "synced 1200 organizations" in err and "synced 3000 memberships" in err
    assert set(Organization.objects.values_list("clerk_id", flat=True)) == {o["id"] for o in organizations}
    assert set(OrganizationMembership.objects.values_list("clerk_id", flat=True)) == {m["id"] for m in memberships}
    assert set(Organization.objects.values_list("created_via", flat=True)) == {"sync"}
    linked = OrganizationMembership.objects.filter(user__isnull=False)
    assert linked.count() == sum(1 for n in range(3000) if n % 1700 % 17 == 0)
    assert {m.user.clerk_id for m in linked.select_related("user")} == {u.clerk_id for u in local_users}
    assert clerk_api.calls["/v1/organizations"] == 3 and clerk_api.calls["/v1/organization_memberships"] == 6
    before = tables()

    out, _ = run()

    assert tables() == before
    assert out.splitlines() == [
        "1200 Clerk organizations: 0 created, 0 updated, 1200 unchanged, 0 skipped",
        "3000 Clerk memberships: 0 created, 0 updated, 3000 unchanged, 0 skipped",
    ]


def test_pages_follow_offset_and_a_rate_limited_page_is_retried(clerk_api):
    for n in range(5):
        clerk_api.add_membership(new_membership(created_at=n))
    clerk_api.fail("/v1/organization_memberships", 429, {"Retry-After": "0"}, times=2)

    out, _ = run("--page-size", "2")

    assert "5 Clerk memberships: 5 created" in out
    assert OrganizationMembership.objects.count() == Organization.objects.count() == 5
    assert clerk_api.calls["/v1/organization_memberships"] == 3 + 2


def test_dry_run_writes_nothing(clerk_api):
    clerk_api.add_membership(new_membership())

    out, _ = run("--dry-run")

    assert out.splitlines() == [
        "dry run, nothing written: 0 Clerk organizations: 0 created, 0 updated, 0 unchanged, 0 skipped",
        "dry run, nothing written: 1 Clerk memberships: 1 created, 0 updated, 0 unchanged, 0 skipped",
    ]
    assert not Organization.objects.exists() and not OrganizationMembership.objects.exists()


def test_converges_with_newer_local_state_and_tombstones_nothing_clerk_no_longer_lists(clerk_api):
    gone = new_membership()  # deleted in Clerk long ago, without a webhook
    membership_upsert_from_clerk(gone, created_via="webhook")
    newer = new_membership(updated_at=2_000)
    membership_upsert_from_clerk(newer, created_via="webhook")
    clerk_api.add_membership(newer | {"role": "org:admin", "updated_at": 1_000})  # a webhook got there first
    deleted = clerk_api.add_organization(new_organization())
    organization_tombstone(organization_deleted_data(id=deleted["id"]), created_via="webhook")
    clerk_api.add_organization({"object": "organization", "id": "not-an-org-id", "name": "Unusable"})

    out, _ = run()

    assert out.splitlines() == [
        "2 Clerk organizations: 0 created, 0 updated, 0 unchanged, 2 skipped",
        "1 Clerk memberships: 0 created, 0 updated, 0 unchanged, 1 skipped",
    ]
    assert OrganizationMembership.objects.get(clerk_id=newer["id"]).role == "org:member"
    assert OrganizationMembership.objects.get(clerk_id=gone["id"]).deleted_at is None
    assert Organization.objects.filter(deleted_at__isnull=True).count() == 2


def test_a_membership_listed_in_another_organization_is_skipped_and_nothing_of_it_written(clerk_api):
    home = new_organization(name="Home", updated_at=1_000)
    membership = new_membership(organization=home, role="org:member", updated_at=1_000)
    membership_upsert_from_clerk(membership, created_via="webhook")
    other = new_organization(name="Other", updated_at=2_000)
    clerk_api.add_membership(membership | {"organization": other, "role": "org:admin", "updated_at": 2_000})

    out, _ = run()

    assert out.splitlines()[-1] == "1 Clerk memberships: 0 created, 0 updated, 0 unchanged, 1 skipped"
    stored = OrganizationMembership.objects.select_related("organization").get()
    assert (stored.organization.clerk_id, stored.role) == (home["id"], "org:member")
    assert list(Organization.objects.values_list("clerk_id", flat=True)) == [home["id"]]


def test_clerk_failing_stops_with_the_reason(clerk_api):
    clerk_api.fail("/v1/organizations", 403)  # not retried: a 5xx would be, with backoff

    with pytest.raises(CommandError, match="Clerk's API failed.*run the command again"):
        run()


def test_page_size_is_checked():
    with pytest.raises(CommandError, match="between 1 and 500"):
        run("--page-size", "501")


def test_clerk_unreachable_stops_with_the_reason(clerk_api, settings):
    settings.CLERK_API_URL = "http://127.0.0.1:9"

    with pytest.raises(CommandError, match="Clerk's API failed: .*run the command again"):
        run()


def test_no_secret_key_is_a_one_line_error(settings):
    with pytest.raises(CommandError, match="CLERK_SECRET_KEY is not set"):
        run()
