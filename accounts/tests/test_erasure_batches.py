"""Erasing a long history: bounded batches, each its own transaction, resumed after an interruption."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from accounts.erasure import ledger
from accounts.erasure.models import UserErasure
from accounts.erasure.rows import users_awaiting_erasure
from accounts.erasure.tasks import user_erasure_run
from accounts.models import User
from accounts.sync.users import user_tombstone
from accounts.tests.factories import UserFactory
from accounts.tests.privacy import envelope, personal_data_in, session_data
from webhooks.models import ERASED_KEY, WebhookEvent
from webhooks.tests.deliveries import statements_at_most

ADA, OTHER = "user_2batch000000000000001", "user_2batch000000000000002"
HISTORY = 5_000


def stored_sessions(clerk_id: str, count: int) -> list[WebhookEvent]:
    return WebhookEvent.objects.bulk_create(
        WebhookEvent(
            source="clerk",
            event_id=f"msg_{clerk_id}_{n}",
            event_type="session.created",
            subject_id=clerk_id,
            payload=envelope("session.created", session_data(clerk_id, session_id=f"sess_{n}")),
            status=WebhookEvent.Status.PROCESSED,
            attempts=1,
        )
        for n in range(count)
    )


@pytest.mark.django_db(transaction=True)
def test_5000_events_are_erased_in_batches_of_their_own_and_an_interrupted_run_resumes(database_tasks, monkeypatch):
    UserFactory(clerk_id=ADA)
    stored_sessions(ADA, HISTORY)
    others = {event.pk: event.payload for event in stored_sessions(OTHER, 50)}
    with transaction.atomic():
        user_tombstone(ADA, created_via=User.CreatedVia.WEBHOOK)  # queues the task (database backend)
    erasure = UserErasure.objects.get()
    erased = WebhookEvent.objects.filter(payload__has_key=ERASED_KEY)
    assert not erased.exists()  # the tombstone's transaction rewrote no event

    batches = []
    real_batch = ledger._batch_erase

    def killed_after_three(erasure, batch_size):
        if len(batches) == 3:
            raise RuntimeError("the worker died")
        batches.append(batch_size)
        return real_batch(erasure, batch_size)

    monkeypatch.setattr(ledger, "_batch_erase", killed_after_three)
    with pytest.raises(RuntimeError):
        user_erasure_run.call(erasure.pk)
    monkeypatch.undo()

    assert erased.count() == 3 * ledger.BATCH_SIZE  # three batches committed, each on its own
    erasure.refresh_from_db()
    assert (erasure.events_erased, erasure.erased_at) == (3 * ledger.BATCH_SIZE, None)
    assert list(users_awaiting_erasure().values_list("clerk_id", flat=True)) == [ADA]

    remaining_batches = (HISTORY - 3 * ledger.BATCH_SIZE) // ledger.BATCH_SIZE + 1  # the last one finds none left
    # Lock the erasure, read, rewrite, record: per batch. SQLite's rewrite of 500 rows is two UPDATEs
    # (Django splits a bulk_update at its 999-parameter limit).
    per_batch = 4 if connection.vendor == "postgresql" else 5
    with statements_at_most(per_batch * remaining_batches):
        assert user_erasure_run.call(erasure.pk) == HISTORY - 3 * ledger.BATCH_SIZE

    assert erased.filter(subject_id=ADA).count() == HISTORY
    assert all(not personal_data_in(payload) for payload in erased.values_list("payload", flat=True).iterator())
    assert {e.pk: e.payload for e in WebhookEvent.objects.filter(subject_id=OTHER)} == others
    assert not users_awaiting_erasure().exists()
    assert user_erasure_run.call(erasure.pk) == 0  # run again: nothing left to do
