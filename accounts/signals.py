"""Signals other apps hook; they announce, they never dispatch."""

from django.dispatch import Signal

# Sent once per user ever, after the transaction that created it commits.
# Arguments: sender=User, user, created_via ("webhook", "jit" or "sync").
user_provisioned = Signal()
