"""The alarm email to ADMINS, as background work through the same path as the welcome email (django-tasks)."""

from __future__ import annotations

from django.core.mail import mail_admins
from django.db import transaction
from django_tasks import task


@task()
def alarm_mail_send(name: str, detail: str, advice: str) -> None:
    """Mail ADMINS that the alarm `name` was raised (Django's mail_admins; nothing when ADMINS is empty)."""
    mail_admins(f"alarm raised: {name}", f"The alarm {name} was raised: {detail}\n\n{advice}\n", fail_silently=False)


def alarm_mail_trigger(name: str, detail: str, advice: str) -> None:
    """Queue the alarm email in the current transaction (the database backend) or after its commit (immediate)."""
    from django_tasks_db import DatabaseBackend  # as accounts/welcome/tasks.py: the immediate backend needs none

    if isinstance(alarm_mail_send.get_backend(), DatabaseBackend):
        alarm_mail_send.enqueue(name, detail, advice)
    else:

        def enqueue() -> None:
            alarm_mail_send.enqueue(name, detail, advice)

        transaction.on_commit(enqueue, robust=True)
