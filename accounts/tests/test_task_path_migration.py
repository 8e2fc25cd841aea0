"""A welcome email queued before the task moved to accounts.welcome.tasks still goes out after the migration."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_tasks_db.models import DBTaskResult

from accounts.models import UserProvisioning
from accounts.tests.factories import ClerkUserDataFactory, user_event
from accounts.tests.workers import run_queued_tasks
from accounts.welcome.tasks import welcome_email_send

BEFORE, AFTER = ("accounts", "0004_organizations"), ("accounts", "0005_welcome_task_moved")


def migrate_to(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def migrate_to_latest() -> None:
    """Every app at its latest migration: the code that runs the task is today's, and needs today's columns."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def latest_migrations_after():
    """Every app back at its latest migration after the test, whatever happened: the tests that follow need them."""
    yield
    migrate_to_latest()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_migrations_after")
def test_a_task_row_queued_under_the_old_path_runs_after_the_move(deliver, smtp, database_tasks):
    data = ClerkUserDataFactory(email="queued-before-the-move@example.com")
    assert deliver(user_event("user.created", data)).status_code == 200
    welcome_email_send.enqueue(UserProvisioning.objects.get().pk)  # one task row per email, as versions did then
    migrate_to(BEFORE)
    DBTaskResult.objects.update(task_path="accounts.tasks.welcome_email_send")  # as the old code queued it

    migrate_to(AFTER)
    migrate_to_latest()
    run_queued_tasks()

    assert DBTaskResult.objects.get().task_path == "accounts.welcome.tasks.welcome_email_send"
    assert [message.recipients for message in smtp.messages] == [("queued-before-the-move@example.com",)]
    assert UserProvisioning.objects.get().welcome_email == UserProvisioning.WelcomeEmail.SENT
