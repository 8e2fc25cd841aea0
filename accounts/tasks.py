"""Background tasks (django-tasks): triggers only; the durable record is the UserProvisioning row."""

from django_tasks import task

from .welcome_email import welcome_email_deliver


@task()
def welcome_email_send(provisioning_pk: int) -> str:
    """Send this user's welcome email if it is still pending and due; returns the outcome.

    Safe to run any number of times, on any number of workers: the send is
    claimed with a lease in the database, and a mail server error is recorded
    with a retry scheduled rather than raised.
    """
    return welcome_email_deliver(provisioning_pk).value
