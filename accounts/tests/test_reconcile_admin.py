"""Reconciliation in the admin: the passes, newest first, each repair linked; "run a pass now"; the health page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from accounts.models import ReconcilePass, ScheduledJob, User
from accounts.tests.factories import ClerkUserDataFactory, UserFactory
from accounts.tests.reconcile_helpers import reconcile
from accounts.tests.test_reconcile import local_copy
from webhooks.tests.deliveries import statements_at_most

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unthrottled")]

CHANGELIST = "/admin/accounts/reconcilepass/"
HEALTH = "/admin/webhooks/webhookevent/health/"


def staff_client(client, *codenames: str):
    staff = UserFactory(clerk_id=None, username=f"operator{len(codenames)}", is_staff=True, created_via="local")
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(User.objects.get(pk=staff.pk))
    return client


def test_a_pass_is_listed_and_its_page_links_each_repair(admin_client, clerk_api):
    gone = local_copy(clerk_api, ClerkUserDataFactory())
    del clerk_api.users[gone.clerk_id]
    new = clerk_api.add_user(ClerkUserDataFactory())
    reconcile("--full")
    record = ReconcilePass.objects.get()

    listing = admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(f"{CHANGELIST}{record.pk}/change/").content.decode()

    assert "Completed" in listing and "Full" in listing
    created = User.objects.get(clerk_id=new["id"])
    assert f'href="/admin/accounts/user/{created.pk}/change/">{new["id"]}</a>: user created' in page
    assert f'href="/admin/accounts/user/{gone.pk}/change/">{gone.clerk_id}</a>: user tombstoned' in page
    assert 'name="_save"' not in page  # read-only


def test_run_now_queues_a_pass_for_the_workers_with_the_permission_only(client, clerk_api):
    viewer = staff_client(client, "view_reconcilepass")
    assert "Run a full pass now" not in viewer.get(CHANGELIST).content.decode()
    assert viewer.post(f"{CHANGELIST}run/full/").status_code == 403

    allowed = staff_client(client, "view_reconcilepass", "run_reconcilepass")
    assert "Run a full pass now" in allowed.get(CHANGELIST).content.decode()
    assert allowed.get(f"{CHANGELIST}run/full/").status_code == 405
    assert allowed.post(f"{CHANGELIST}run/sideways/").status_code == 403
    response = allowed.post(f"{CHANGELIST}run/full/", follow=True)

    assert "A full pass is queued" in response.content.decode()
    assert ScheduledJob.objects.get(name="reconcile_full").requested_at is not None
    assert not ReconcilePass.objects.exists()  # never run in the request
    assert not clerk_api.calls


def test_the_health_page_shows_the_last_completed_pass_what_it_repaired_and_each_job(admin_client, clerk_api):
    gone = local_copy(clerk_api, ClerkUserDataFactory())
    del clerk_api.users[gone.clerk_id]
    reconcile("--full")
    clerk_api.fail("/v1/users", 500)
    with pytest.raises(Exception):  # noqa: B017 - the command's failure, tested elsewhere
        reconcile()

    html = admin_client.get(HEALTH).content.decode()

    assert "Last completed reconciliation pass" in html and "full, repaired: users tombstoned 1" in html
    assert "some were lost" in html  # the drift note
    assert "The latest pass failed" in html and "answered 500" in html
    assert "Prune old webhook events" in html and "never ran" in html


def test_the_health_pages_cost_does_not_grow_with_the_passes(admin_client, clerk_api):
    admin_client.get(HEALTH)
    reconcile()
    with statements_at_most(64) as few:
        admin_client.get(HEALTH)
    for _ in range(5):
        reconcile()
    with statements_at_most(len(few)):
        admin_client.get(HEALTH)
