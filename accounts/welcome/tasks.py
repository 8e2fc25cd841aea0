"""Background tasks (django-tasks): the welcome email's task and its trigger.

The durable record is the UserProvisioning row.
"""

import datetime as dt

from django.db import transaction
from django_tasks import task

from accounts.welcome.delivery import welcome_email_deliver


@task()
def welcome_email_send(provisioning_pk: int) -> str:
    """Send this user's welcome email if it is still pending and due; returns the outcome.

    Safe to run any number of times, on any number of workers: the send is
    claimed with a lease in the database, and a mail server error is recorded
    with a retry scheduled rather than raised.
    """
    return welcome_email_deliver(provisioning_pk, retry_trigger=welcome_email_trigger).value


def welcome_email_trigger(provisioning_pk: int, *, run_after: dt.datetime | None = None) -> None:
    """Queue the task that sends this welcome email, at `run_after` (default: now).

    With the database backend the task row is written in the current
    transaction. Other backends (immediate, for development) run it after
    the commit; they cannot defer and have no worker to sweep, so a retry
    there waits, pending and visible in the admin, for staff's retry action.
    """
    from django_tasks_db import DatabaseBackend  # imported when first used: the immediate backend needs none

    if isinstance(welcome_email_send.get_backend(), DatabaseBackend):
        task = welcome_email_send.using(run_after=run_after) if run_after else welcome_email_send
        task.enqueue(provisioning_pk)
    elif run_after is None:

        def enqueue() -> None:  # a named function: Django logs a robust callback's __qualname__
            welcome_email_send.enqueue(provisioning_pk)

        transaction.on_commit(enqueue, robust=True)
