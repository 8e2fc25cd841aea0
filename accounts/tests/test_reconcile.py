"""reconcile_clerk against the Clerk stand-in: convergence, a second pass, dry runs, the watermark, deletions."""

from __future__ import annotations

import pytest

from accounts.clerk.payloads import now_ms
from accounts.models import Organization, OrganizationMembership, ReconcilePass, ReconcileSeen, User
from accounts.sync.organizations import membership_upsert_from_clerk, organization_upsert_from_clerk
from accounts.sync.users import user_upsert_from_clerk
from accounts.tests.factories import ClerkUserDataFactory
from accounts.tests.organization_factories import new_membership, new_organization
from accounts.tests.reconcile_helpers import counts, passes, reconcile, reconcile_failing, tables

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unthrottled")]

ZERO = dict.fromkeys(
    f"{kind}_{action}"
    for kind in ("users", "organizations", "memberships")
    for action in ("created", "updated", "tombstoned")
)
ZERO = {key: 0 for key in ZERO}
HOUR_MS = 3_600_000
SYNC = Organization.CreatedVia.SYNC


def local_copy(clerk_api, data, kind="user"):
    """A row made from Clerk's data by a webhook, as deliveries did before they stopped arriving."""
    if kind == "user":
        return user_upsert_from_clerk(clerk_api.add_user(data), created_via=User.CreatedVia.WEBHOOK).user
    if kind == "organization":
        return organization_upsert_from_clerk(clerk_api.add_organization(data), created_via=SYNC).organization
    return membership_upsert_from_clerk(clerk_api.add_membership(data), created_via=SYNC).membership


def test_a_full_pass_converges_a_mixed_drift_and_a_second_pass_changes_nothing(clerk_api):
    long_ago = now_ms() - 48 * HOUR_MS
    kept = local_copy(clerk_api, ClerkUserDataFactory(created_at=long_ago))
    renamed = local_copy(clerk_api, ClerkUserDataFactory(created_at=long_ago))
    deleted = local_copy(clerk_api, ClerkUserDataFactory(created_at=long_ago))
    org = local_copy(clerk_api, new_organization(created_at=long_ago), "organization")
    gone_org = local_copy(clerk_api, new_organization(created_at=long_ago), "organization")
    org_data = clerk_api.organizations[org.clerk_id]
    member = local_copy(
        clerk_api, new_membership(organization=org_data, user_id=kept.clerk_id, created_at=long_ago), "membership"
    )
    removed = local_copy(clerk_api, new_membership(organization=org_data, user_id=renamed.clerk_id), "membership")
    gone_member = local_copy(clerk_api, new_membership(organization=clerk_api.organizations[gone_org.clerk_id]), "m")
    # What happened in Clerk while no delivery arrived:
    new_user = clerk_api.add_user(ClerkUserDataFactory(created_at=long_ago + 1))
    clerk_api.users[renamed.clerk_id] |= {"first_name": "Renamed", "updated_at": long_ago + HOUR_MS}
    del clerk_api.users[deleted.clerk_id]
    new_org = clerk_api.add_organization(new_organization(created_at=long_ago))
    clerk_api.organizations[org.clerk_id] |= {"name": "New name", "updated_at": long_ago + HOUR_MS}
    del clerk_api.organizations[gone_org.clerk_id]
    new_member = clerk_api.add_membership(new_membership(organization=new_org, user_id=new_user["id"]))
    clerk_api.memberships[member.clerk_id] |= {"role": "org:admin", "updated_at": long_ago + HOUR_MS}
    del clerk_api.memberships[removed.clerk_id]
    del clerk_api.memberships[gone_member.clerk_id]

    out, _ = reconcile("--full")

    assert counts(out) == ZERO | {
        "users_created": 1, "users_updated": 1, "users_tombstoned": 1,
        "organizations_created": 1, "organizations_updated": 1, "organizations_tombstoned": 1,
        # the gone organization's membership ends with it, neither written nor counted
        "memberships_created": 1, "memberships_updated": 1, "memberships_tombstoned": 1,
    }  # fmt: skip
    assert User.objects.get(clerk_id=new_user["id"]).created_via == "sync"
    assert User.objects.get(pk=renamed.pk).first_name == "Renamed"
    assert User.objects.get(pk=deleted.pk).deleted_at is not None
    assert not User.objects.get(pk=deleted.pk).is_active
    assert User.objects.get(pk=kept.pk).deleted_at is None
    assert Organization.objects.get(pk=org.pk).name == "New name"
    assert Organization.objects.get(pk=gone_org.pk).deleted_at is not None
    assert OrganizationMembership.objects.get(pk=member.pk).role == "org:admin"
    assert OrganizationMembership.objects.get(pk=removed.pk).deleted_at is not None
    assert OrganizationMembership.objects.get(pk=gone_member.pk).deleted_at is None  # ended with its organization
    assert OrganizationMembership.objects.get(clerk_id=new_member["id"]).user.clerk_id == new_user["id"]
    [record] = passes()
    assert (record.kind, record.trigger, record.outcome, record.drift) == ("full", "command", "completed", True)
    assert {(r["kind"], r["action"], r["clerk_id"]) for r in record.repairs} >= {
        ("users", "tombstoned", deleted.clerk_id),
        ("organizations", "updated", org.clerk_id),
    }
    assert not ReconcileSeen.objects.exists()
    before = tables()

    for args in (("--full",), ()):
        out, _ = reconcile(*args)
        assert counts(out) == ZERO
        assert tables() == before
    assert [p.drift for p in passes()] == [True, False, False]


def test_a_dry_run_counts_what_a_pass_would_change_and_writes_nothing(clerk_api):
    old = local_copy(clerk_api, ClerkUserDataFactory())
    del clerk_api.users[old.clerk_id]
    clerk_api.add_user(ClerkUserDataFactory())
    clerk_api.add_membership(new_membership(organization=clerk_api.add_organization(new_organization())))
    before = tables()

    out, err = reconcile("--full", "--dry-run")

    assert counts(out) == ZERO | {
        "users_created": 1, "users_tombstoned": 1, "organizations_created": 1, "memberships_created": 1,
    }  # fmt: skip
    assert "nothing is recorded" in err
    assert tables() == before
    assert not ReconcilePass.objects.exists() and not ReconcileSeen.objects.exists()
    real, _ = reconcile("--full")  # the same pass, for real, changes what the dry run counted
    assert counts(real) == counts(out)
    assert User.objects.get(pk=old.pk).deleted_at is not None


def test_an_incremental_pass_stops_at_the_watermark(clerk_api):
    users = [clerk_api.add_user(ClerkUserDataFactory(created_at=now_ms() - HOUR_MS - n)) for n in range(1200)]

    out, _ = reconcile()  # the first pass has no watermark: every user is listed

    assert counts(out)["users_created"] == 1200
    assert clerk_api.calls["/v1/users"] == 3
    clerk_api.calls.clear()
    for data in users[700:702]:
        data |= {"last_name": "Changed", "updated_at": now_ms()}

    out, _ = reconcile()

    assert counts(out) == ZERO | {"users_updated": 2}
    assert clerk_api.calls["/v1/users"] == 1  # one page reached users older than the last pass
    assert clerk_api.calls["/v1/organizations"] == 1 and clerk_api.calls["/v1/organization_memberships"] == 1
    assert not clerk_api.calls["/v1/users/{id}"]
    assert User.objects.filter(last_name="Changed").count() == 2


def test_an_incremental_pass_tombstones_nothing(clerk_api):
    user = local_copy(clerk_api, ClerkUserDataFactory())
    del clerk_api.users[user.clerk_id]

    out, _ = reconcile()

    assert counts(out) == ZERO
    assert User.objects.get(pk=user.pk).deleted_at is None


def test_a_user_the_list_omits_but_get_still_serves_is_not_tombstoned(clerk_api):
    user = local_copy(clerk_api, ClerkUserDataFactory())
    organization = local_copy(clerk_api, new_organization(), "organization")
    clerk_api.unlisted |= {user.clerk_id, organization.clerk_id}

    out, _ = reconcile("--full")

    assert counts(out) == ZERO
    assert User.objects.get(pk=user.pk).deleted_at is None
    assert Organization.objects.get(pk=organization.pk).deleted_at is None
    assert clerk_api.calls["/v1/users/{id}"] == 1 and clerk_api.calls["/v1/organizations/{id}"] == 1


@pytest.mark.parametrize("failing", ["/v1/users", "/v1/organization_memberships", "/v1/organizations/"])
def test_a_pass_that_fails_tombstones_nothing_and_is_recorded_failed(clerk_api, failing):
    user = local_copy(clerk_api, ClerkUserDataFactory())
    organization = local_copy(clerk_api, new_organization(), "organization")
    del clerk_api.users[user.clerk_id]
    del clerk_api.organizations[organization.clerk_id]
    clerk_api.fail(failing, 500)

    error = reconcile_failing("--full")

    assert error.startswith("the pass did not complete, nothing was tombstoned: Clerk's API failed")
    assert "\n" not in error
    assert User.objects.get(pk=user.pk).deleted_at is None
    [record] = passes()
    assert (record.outcome, record.drift) == ("failed", False) and "500" in record.error
    assert not ReconcileSeen.objects.exists()


def test_unusable_entries_are_skipped_counted_and_never_a_reason_to_tombstone(clerk_api):
    user = local_copy(clerk_api, ClerkUserDataFactory())
    clerk_api.users["no id"] = {"object": "user", "created_at": 1}
    clerk_api.users["wrong type"] = {"id": 42, "object": "user", "created_at": 2}
    clerk_api.users["not an object"] = "user_string"
    clerk_api.add_user(ClerkUserDataFactory())

    out, _ = reconcile("--full")

    assert counts(out) == ZERO | {"users_created": 1}
    assert User.objects.get(pk=user.pk).deleted_at is None
    assert passes()[0].skipped == 3


def test_a_row_created_after_the_pass_began_is_not_tombstoned(clerk_api):
    """A user created locally while the pass listed (just in time, say) was never in the list: it stays."""
    late = {}

    def create_during_the_listing(report):
        if not late:
            late["user"] = User.objects.create(clerk_id="user_created_meanwhile", username="meanwhile")

    from accounts.reconcile.passes import reconcile_pass

    record = reconcile_pass(full=True, trigger="command", on_progress=create_during_the_listing)

    assert record.outcome == "completed" and record.users_tombstoned == 0
    assert User.objects.get(clerk_id="user_created_meanwhile").deleted_at is None
    assert not clerk_api.calls["/v1/users/{id}"]


def test_a_pass_refuses_to_start_while_another_runs(clerk_api):
    from django.utils import timezone

    ReconcilePass.objects.create(kind="full", trigger="schedule", started_at=timezone.now(),
                                 lease_expires_at=timezone.now() + __import__("datetime").timedelta(minutes=5),
                                 worker="elsewhere:1")  # fmt: skip

    error = reconcile_failing()

    assert error.startswith("another reconciliation pass is running (full, started ")
    assert "elsewhere:1" in error
    assert ReconcilePass.objects.count() == 1


def test_deletions_are_found_a_page_at_a_time_across_page_boundaries(clerk_api, monkeypatch):
    monkeypatch.setattr("accounts.reconcile.deletions.CHECKED_PER_PAGE", 3)
    users = [local_copy(clerk_api, ClerkUserDataFactory(created_at=n)) for n in range(10)]
    org = local_copy(clerk_api, new_organization(), "organization")
    members = [
        local_copy(clerk_api, new_membership(organization=clerk_api.organizations[org.clerk_id]), "membership")
        for _ in range(7)
    ]
    gone = [users[n] for n in (0, 1, 2, 3, 4, 6, 8)]
    for user in gone:
        del clerk_api.users[user.clerk_id]
    for member in members[2:]:
        del clerk_api.memberships[member.clerk_id]

    out, _ = reconcile("--full", "--page-size", "2")

    assert counts(out) == ZERO | {"users_tombstoned": 7, "memberships_tombstoned": 5}
    assert {u.clerk_id for u in User.objects.filter(deleted_at__isnull=False)} == {u.clerk_id for u in gone}
    assert OrganizationMembership.objects.filter(deleted_at__isnull=True).count() == 2
    assert clerk_api.calls["/v1/users/{id}"] == 7
    assert clerk_api.calls["/v1/organizations/{id}/memberships"] == 1
