"""A membership never changes organization, also when two transactions write it at the same moment.

The refusal of a membership naming another organization is made before
anything is written when the stored row is visible, and again under the
membership's row lock for a row another transaction inserted meanwhile. That
second refusal comes after the named organization was inserted: the webhook's
transaction and the backfill's per-item transaction must both roll it back.
Real threads on PostgreSQL: one transaction holds its new membership
uncommitted until the other is blocked behind it.
"""

from __future__ import annotations

import io
import threading
import traceback
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import JsonResponse

from accounts.models import Organization, OrganizationMembership
from accounts.tests.organization_factories import new_membership, new_organization, org_event
from config.tests.helpers import deliver_to
from webhooks.models import WebhookRejection
from webhooks.tests.concurrency import BARRIER_TIMEOUT, run_concurrently, wait_until_waiting_on_locks


class MembershipInsertHeld:
    """Thread 0 inserts the membership, then holds its transaction open until thread 1 waits on a lock."""

    def __init__(self) -> None:
        self.inserted = threading.Event()
        self.racer_pids: list[int] = []
        self.errors: list[str] = []

    def around(self, index: int):
        return connection.execute_wrapper(self._hold_after_insert) if index == 0 else self._racer()

    def _hold_after_insert(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self.inserted.is_set() and sql.lstrip().startswith('INSERT INTO "accounts_organizationmembership"'):
            self.inserted.set()
            try:
                wait_until_waiting_on_locks(self.racer_pids, 1)
            except AssertionError:
                self.errors.append(traceback.format_exc())
                raise
        return result

    @contextmanager
    def _racer(self):
        self.racer_pids.append(connection.connection.info.backend_pid)
        assert self.inserted.wait(timeout=BARRIER_TIMEOUT), "the first transaction never inserted the membership"
        yield


def backfill(client) -> JsonResponse:
    out = io.StringIO()
    call_command("sync_clerk_organizations", stdout=out, stderr=io.StringIO())
    return JsonResponse({"summary": out.getvalue().splitlines()[-1]})


@pytest.mark.postgres(
    reason="two transactions write one new membership at the same moment; the later one waits on the "
    "first one's locks and then sees its row, which needs PostgreSQL's concurrency"
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second", ["webhook", "backfill"])
def test_a_membership_written_meanwhile_in_another_organization_refuses_the_second_writer(clerk_api, second):
    home, other = new_organization(name="Home"), new_organization(name="Other")
    membership = new_membership(organization=home, role="org:member")  # its user is not local: both take its link lock
    moved = membership | {"organization": other, "role": "org:admin", "updated_at": membership["updated_at"] + 1}
    clerk_api.add_membership(moved)
    first = ("webhook", lambda client: deliver_to(client, org_event("organizationMembership.created", membership)))
    if second == "webhook":
        racer = ("webhook", lambda client: deliver_to(client, org_event("organizationMembership.created", moved)))
    else:
        racer = ("backfill", backfill)
    hold = MembershipInsertHeld()

    answers = run_concurrently([first, racer], around=hold.around)

    assert not hold.errors, hold.errors[0]
    assert answers[0].status == 200
    if second == "webhook":
        assert (answers[1].status, answers[1].body["reason"]) == (400, "bad_data")
        assert list(WebhookRejection.objects.values_list("reason", flat=True)) == ["bad_data"]
    else:
        assert answers[1].body["summary"] == "1 Clerk memberships: 0 created, 0 updated, 0 unchanged, 1 skipped"
    stored = OrganizationMembership.objects.select_related("organization").get()
    assert (stored.organization.clerk_id, stored.role) == (home["id"], "org:member")
    assert list(Organization.objects.values_list("clerk_id", flat=True)) == [home["id"]]
