"""The background task that erases a deleted user's stored events, and its trigger (the welcome email's pattern)."""

from django.db import transaction
from django_tasks import task

from accounts.erasure.ledger import user_events_erase


@task()
def user_erasure_run(erasure_pk: int) -> int:
    """Erase the stored events of this erasure's user, in batches; returns how many were rewritten.

    Safe to run again or alongside another run (each batch locks the erasure
    row); an interrupted run resumes where its last batch ended.
    """
    return user_events_erase(erasure_pk)


def user_erasure_trigger(erasure_pk: int) -> None:
    """Queue the erasure task: written in the current transaction (database backend), else run after the commit."""
    from django_tasks_db import DatabaseBackend  # imported when first used: the immediate backend needs none

    if isinstance(user_erasure_run.get_backend(), DatabaseBackend):
        user_erasure_run.enqueue(erasure_pk)
        return

    def enqueue() -> None:  # a named function: Django logs a robust callback's __qualname__
        user_erasure_run.enqueue(erasure_pk)

    transaction.on_commit(enqueue, robust=True)
