"""The welcome email's task (django-tasks) and its trigger, for the immediate backend (development).

With TASKS_BACKEND=database nothing is queued: each db_worker's mailer
(accounts/welcome/mailer.py) finds pending emails on their UserProvisioning
rows, the durable record, and sends them in batches.
"""

from django.db import transaction
from django_tasks import task

from accounts.welcome.delivery import Delivery, welcome_emails_send_due


@task()
def welcome_email_send(provisioning_pk: int) -> str:
    """Send this user's welcome email if it is still pending, due and unclaimed; returns the outcome.

    Safe to run any number of times, on any number of workers: the send is
    claimed with a lease in the database, and a mail server error is recorded
    with a retry scheduled rather than raised. (A task row queued by an older
    version with the database backend runs this too.)
    """
    deliveries = welcome_emails_send_due(limit=1, pk=provisioning_pk)
    return deliveries[0].value if deliveries else Delivery.NOT_CLAIMED.value


def welcome_email_trigger(provisioning_pk: int) -> None:
    """Make sure a worker looks at this pending welcome email soon.

    With the database backend nothing needs doing: the workers' mailers poll
    for due emails every WELCOME_EMAIL_POLL_SECONDS. With the immediate backend
    (development) the send runs in this process after the commit; it cannot
    be deferred, so a retry waits, pending and visible in the admin, for
    staff's retry action.
    """
    from django_tasks_db import DatabaseBackend  # imported when first used: the immediate backend needs none

    if isinstance(welcome_email_send.get_backend(), DatabaseBackend):
        return

    def enqueue() -> None:  # a named function: Django logs a robust callback's __qualname__
        welcome_email_send.enqueue(provisioning_pk)

    transaction.on_commit(enqueue, robust=True)
