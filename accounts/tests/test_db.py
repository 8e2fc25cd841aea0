"""accounts/db.py, the app's hand-written SQL: what each statement returns, how many it sends, where it goes.

Run on both databases (SQLite by default, PostgreSQL with DATABASE_URL): the
statement counts are the same on each.
"""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from django.db import connection, transaction
from django.db.utils import ConnectionDoesNotExist
from django.test.utils import CaptureQueriesContext

from accounts.db import (
    MEMBER_LINK_LOCK_SPACE,
    insert_ignoring_conflicts,
    member_link_lock,
    memberships_link,
    organization_by_clerk_id,
    user_and_organization_by_clerk_ids,
    user_by_clerk_id,
)
from accounts.models import Organization, OrganizationMembership, User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")


class Statements(CaptureQueriesContext):
    """The SQL sent on the default connection inside the block, transaction control left out."""

    def __init__(self) -> None:
        super().__init__(connection)

    @property
    def sql(self) -> list[str]:
        return [
            query["sql"] for query in self.captured_queries if query["sql"].strip().upper() not in TRANSACTION_CONTROL
        ]


class ReadsElsewhere:
    """A router sending reads to an alias that does not exist: any read routed there fails."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"


class TestInsertIgnoringConflicts:
    def test_a_new_row_is_one_statement_and_gets_its_pk(self):
        user = User(clerk_id="user_insert_new", username="insert-new")

        with Statements() as statements:
            inserted = insert_ignoring_conflicts(user)

        assert inserted is True
        assert len(statements.sql) == 1 and "ON CONFLICT DO NOTHING" in statements.sql[0]
        assert User.objects.get(pk=user.pk).clerk_id == "user_insert_new"
        assert user._state.adding is False

    def test_a_conflicting_row_is_one_statement_and_writes_nothing(self):
        existing = UserFactory(clerk_id="user_insert_taken", username="insert-taken-1")
        duplicate = User(clerk_id="user_insert_taken", username="insert-taken-2")

        with Statements() as statements:
            inserted = insert_ignoring_conflicts(duplicate)

        assert inserted is False and duplicate.pk is None
        assert len(statements.sql) == 1
        assert list(User.objects.filter(clerk_id="user_insert_taken").values_list("pk", flat=True)) == [existing.pk]


class TestUserByClerkId:
    def test_reads_the_row_in_one_statement_with_the_values_the_orm_reads(self):
        updated_at = dt.datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=dt.UTC)
        stored = UserFactory(clerk_id="user_read_1", clerk_updated_at=updated_at)

        with Statements() as statements:
            user = user_by_clerk_id("user_read_1")

        assert len(statements.sql) == 1
        expected = User.objects.get(pk=stored.pk)
        for field in User._meta.concrete_fields:
            assert getattr(user, field.attname) == getattr(expected, field.attname), field.name
        assert user.clerk_updated_at == updated_at and user._state.adding is False

    def test_an_unknown_clerk_id_is_none_in_one_statement(self):
        with Statements() as statements:
            assert user_by_clerk_id("user_nobody") is None
        assert len(statements.sql) == 1

    def test_lock_reads_for_update_where_the_database_has_row_locks(self):
        UserFactory(clerk_id="user_lock_1")

        with Statements() as statements:
            user = user_by_clerk_id("user_lock_1", lock=True)

        assert user.clerk_id == "user_lock_1"
        assert len(statements.sql) == 1
        assert statements.sql[0].rstrip().endswith("FOR UPDATE") is connection.features.has_select_for_update

    def test_lock_and_for_write_read_the_write_database_and_a_plain_read_the_read_database(self, settings):
        UserFactory(clerk_id="user_routed")
        settings.DATABASE_ROUTERS = [ReadsElsewhere()]

        assert user_by_clerk_id("user_routed", lock=True).clerk_id == "user_routed"
        assert user_by_clerk_id("user_routed", for_write=True).clerk_id == "user_routed"
        with pytest.raises(ConnectionDoesNotExist):
            user_by_clerk_id("user_routed")


class TestOrganizationByClerkId:
    def test_reads_the_row_in_one_statement_with_the_values_the_orm_reads_and_none_for_an_unknown_id(self):
        updated_at = dt.datetime(2026, 12, 5, 1, 2, 3, 456000, tzinfo=dt.UTC)
        stored = Organization.objects.create(
            clerk_id="org_read_1", name="Acme", slug="acme", created_via="webhook", clerk_updated_at=updated_at
        )

        with Statements() as statements:
            organization = organization_by_clerk_id("org_read_1")
            assert organization_by_clerk_id("org_nobody") is None

        assert len(statements.sql) == 2
        expected = Organization.objects.get(pk=stored.pk)
        for field in Organization._meta.concrete_fields:
            assert getattr(organization, field.attname) == getattr(expected, field.attname), field.name
        assert organization._state.adding is False


class OrganizationReadsElsewhere:
    """A router reading organizations from an alias that does not exist, and everything else from default."""

    def db_for_read(self, model, **hints):
        return "replica" if model is Organization else "default"

    def db_for_write(self, model, **hints):
        return "default"


class TestUserAndOrganizationByClerkIds:
    def test_reads_both_rows_in_one_statement_with_the_values_the_orm_reads(self):
        updated_at = dt.datetime(2026, 12, 5, 1, 2, 3, 456000, tzinfo=dt.UTC)
        stored_user = UserFactory(clerk_id="user_both_1", clerk_updated_at=updated_at)
        stored_organization = Organization.objects.create(
            clerk_id="org_both_1", name="Acme", slug="acme", created_via="webhook", clerk_updated_at=updated_at
        )
        Organization.objects.create(clerk_id="org_other", name="Other", slug="other", created_via="webhook")

        with Statements() as statements:
            user, organization = user_and_organization_by_clerk_ids("user_both_1", "org_both_1")

        assert len(statements.sql) == 1
        for stored, read in ((stored_user, user), (stored_organization, organization)):
            expected = type(stored).objects.get(pk=stored.pk)
            for field in type(stored)._meta.concrete_fields:
                assert getattr(read, field.attname) == getattr(expected, field.attname), field.name
            assert read._state.adding is False

    def test_an_organization_not_local_is_none_beside_the_user_and_an_unknown_user_is_none_for_both(self):
        UserFactory(clerk_id="user_both_2")
        Organization.objects.create(clerk_id="org_both_2", name="Acme", slug="acme-2", created_via="webhook")

        with Statements() as statements:
            user, organization = user_and_organization_by_clerk_ids("user_both_2", "org_nowhere")
            nobody = user_and_organization_by_clerk_ids("user_nobody", "org_both_2")

        assert (user.clerk_id, organization) == ("user_both_2", None)
        assert nobody == (None, None)
        assert len(statements.sql) == 2

    def test_models_read_from_different_databases_are_read_from_each(self, settings):
        UserFactory(clerk_id="user_both_3")
        settings.DATABASE_ROUTERS = [OrganizationReadsElsewhere()]

        with pytest.raises(ConnectionDoesNotExist):  # the organization's read went to its own database
            user_and_organization_by_clerk_ids("user_both_3", "org_both_3")


class TestMemberLinkLock:
    def test_one_statement_on_postgresql_none_on_sqlite(self):
        with Statements() as statements:
            member_link_lock("user_link_lock")

        if connection.vendor == "postgresql":
            assert len(statements.sql) == 1 and "pg_advisory_xact_lock" in statements.sql[0]
        else:
            assert statements.sql == []  # SQLite's transactions begin as writes, one at a time

    @pytest.mark.postgres(reason="advisory locks are PostgreSQL's")
    def test_the_lock_is_held_until_the_transaction_ends(self):
        with transaction.atomic():
            member_link_lock("user_link_lock_held")
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                    " AND classid = %s",
                    [MEMBER_LINK_LOCK_SPACE],
                )
                assert cursor.fetchone()[0] == 1


class TestMembershipsLink:
    def test_links_only_the_waiting_memberships_of_that_user_in_one_statement(self):
        organization = Organization.objects.create(clerk_id="org_link", created_via="webhook")
        membership = functools.partial(OrganizationMembership.objects.create, organization=organization)
        waiting = [membership(clerk_id=f"orgmem_wait{n}", user_clerk_id="user_linked") for n in range(2)]
        other = membership(clerk_id="orgmem_other", user_clerk_id="user_other")
        user = UserFactory(clerk_id="user_linked")

        with Statements() as statements:
            linked = memberships_link(user)

        assert linked == 2
        assert len(statements.sql) == 1
        if connection.vendor == "postgresql":
            assert statements.sql[0].startswith("SELECT pg_advisory_xact_lock")  # the lock, then the UPDATE
        linked_users = OrganizationMembership.objects.filter(pk__in=[w.pk for w in waiting]).values_list(
            "user", flat=True
        )
        assert list(linked_users) == [user.pk] * 2
        other.refresh_from_db()
        assert other.user_id is None
        assert memberships_link(user) == 0  # already linked


@pytest.mark.postgres
def test_the_hot_path_statements_are_prepared_once_per_connection_and_still_counted():
    """config/database.py: PostgreSQL parses and plans the lookup once, then runs it by name."""
    UserFactory(clerk_id="user_prepared")

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%accounts_user%"])
            return [row[0] for row in cursor.fetchall()]

    with Statements() as statements:
        for _ in range(3):
            assert user_by_clerk_id("user_prepared").clerk_id == "user_prepared"

    assert len(statements.sql) == 3  # the query budgets see them as any statement
    [statement] = prepared()
    assert "clerk_id" in statement and statement.rstrip().endswith("LIMIT 1")
