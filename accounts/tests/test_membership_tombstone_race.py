"""A membership written while its user is being tombstoned never outlives the tombstone as a current member."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from accounts.models import OrganizationMembership, User
from accounts.sync.organizations import membership_upsert_from_clerk
from accounts.sync.users import user_tombstone
from accounts.tests.factories import UserFactory
from accounts.tests.organization_factories import new_membership
from config.tests.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_membership_created_during_the_users_tombstone_ends_with_it(database_tasks):
    UserFactory(clerk_id="user_2race")
    tombstoned, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def tombstone() -> None:
        try:
            with transaction.atomic():
                user_tombstone("user_2race", created_via=User.CreatedVia.WEBHOOK)
                tombstoned.set()
                release.wait(60)  # uncommitted, holding the user's link lock
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    def membership() -> None:
        try:
            with transaction.atomic():
                membership_upsert_from_clerk(new_membership(user_id="user_2race"), created_via="webhook")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=tombstone)
    first.start()
    assert tombstoned.wait(60)
    second = threading.Thread(target=membership)
    second.start()
    wait_until(lambda: waiting_on_a_lock() > 0, what="the membership write waiting for the tombstone's lock")
    release.set()
    first.join(60)
    second.join(60)

    assert errors == []
    assert OrganizationMembership.objects.get().deleted_at is not None  # stored, and ended
