"""Rewriting a deleted user's stored events without personal data, in bounded batches.

A user can have thousands of events in the ledger; rewriting them in the
tombstone's transaction would hold its locks for as long. Instead each batch
of `BATCH_SIZE` events is one short transaction: the erasure row locked (one
run at a time per user), the next events after `last_event_pk` read, their
payloads rewritten by one UPDATE, the progress saved. A run stopped anywhere
resumes at the last committed batch; the last batch sets `erased_at`.
Events are found as accounts/erasure/payloads.py says: by the ledger's
subject (the user's id on user, session, email and sms events), by
`data.user_id` on events stored before session events had a subject, and
membership events by the organizations of the user's memberships.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.erasure.models import UserErasure
from accounts.erasure.payloads import payload_erased
from accounts.models import OrganizationMembership
from webhooks.models import WebhookEvent

BATCH_SIZE = 500
CLERK_SOURCE = "clerk"  # accounts.clerk_source.handlers.clerk_source's name


def user_events_erase(erasure_pk: int, *, batch_size: int = BATCH_SIZE) -> int:
    """Run this erasure to its end, one transaction per batch; returns the events rewritten by this call."""
    rewritten = 0
    while True:
        with transaction.atomic():
            erasure = UserErasure.objects.select_for_update().select_related("user").get(pk=erasure_pk)
            if erasure.erased_at is not None:
                return rewritten
            count, more = _batch_erase(erasure, batch_size)
        rewritten += count
        if not more:
            return rewritten


def user_events(clerk_id: str) -> QuerySet[WebhookEvent]:
    """The stored Clerk events about this user, personal data or not (accounts/erasure/payloads.py)."""
    organizations = OrganizationMembership.objects.filter(user_clerk_id=clerk_id).values("organization__clerk_id")
    return WebhookEvent.objects.filter(source=CLERK_SOURCE).filter(
        Q(subject_id=clerk_id)
        | Q(subject_id="", payload__data__user_id=clerk_id)
        | Q(
            subject_id__in=organizations,
            event_type__startswith="organizationMembership.",
            payload__data__public_user_data__user_id=clerk_id,
        )
    )


def _batch_erase(erasure: UserErasure, batch_size: int) -> tuple[int, bool]:
    clerk_id = erasure.user.clerk_id
    events = list(
        user_events(clerk_id).filter(pk__gt=erasure.last_event_pk).order_by("pk").only("pk", "payload")[:batch_size]
    )
    changed = []
    for event in events:
        erased = payload_erased(event.payload, clerk_id)
        if erased is not None and erased != event.payload:
            event.payload = erased
            changed.append(event)
    WebhookEvent.objects.bulk_update(changed, ["payload"])
    more = len(events) == batch_size
    if events:
        erasure.last_event_pk = events[-1].pk
    erasure.events_erased += len(changed)
    if not more:
        erasure.erased_at = timezone.now()
    erasure.save(update_fields=["last_event_pk", "events_erased", "erased_at"])
    return len(changed), more
