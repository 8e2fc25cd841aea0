"""Signals other apps hook; they announce, they never dispatch."""

from django.dispatch import Signal

# Sent once per user ever, inside the transaction that creates it (webhook, just in time or
# backfill): a receiver's database writes commit with the user or not at all, and a receiver
# that raises rolls the creation back (the webhook answers 500 and Svix retries; /api/me/ 503).
# Do database work or enqueue a task here; never call a slow service inline.
# Arguments: sender=User, user, created_via ("webhook", "jit" or "sync").
user_provisioned = Signal()
