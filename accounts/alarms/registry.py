"""Every alarm by name, in the order staff read them, with the condition that raises it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from accounts.alarms import conditions
from accounts.alarms.conditions import Reading

Condition = Callable[[dt.datetime], Reading]

# The contract's names (CONTRACT.md, "Alarms"); /metrics exports every one, raised or not.
ALARMS: dict[str, Condition] = {
    "drift": conditions.drift,
    "deliveries_refused": conditions.deliveries_refused,
    "events_failed": conditions.events_failed,
    "worker_down": conditions.worker_down,
    "welcome_email_failing": conditions.welcome_email_failing,
    "reconcile_failing": conditions.reconcile_failing,
}

# What staff should do, shown under a raised alarm's banner.
ADVICE = {
    "drift": "A reconciliation pass repaired changes webhooks had missed: check the refused deliveries and "
    "Clerk's webhook dashboard for failed messages.",
    "deliveries_refused": "Clerk's deliveries fail verification: compare CLERK_WEBHOOK_SECRET with the endpoint's "
    "signing secret in the Clerk Dashboard, then recover the failed messages in Clerk's webhook dashboard.",
    "events_failed": "Some events failed to process: read their error in the ledger and replay them once fixed.",
    "worker_down": "No db_worker is running: start `python manage.py db_worker` (welcome emails wait until then).",
    "welcome_email_failing": "Welcome emails fail or wait: check the mail server settings and the workers, "
    "then retry them from the welcome email list.",
    "reconcile_failing": "Reconciliation passes do not complete: run `python manage.py reconcile_clerk` to see why.",
}
