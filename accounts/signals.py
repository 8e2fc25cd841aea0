"""Signals other apps hook; they announce, they never dispatch."""

from django.dispatch import Signal

# Sent once per user ever, inside the transaction that creates it (webhook, just in time or
# backfill): a receiver's database writes commit with the user or not at all, and a receiver
# that raises rolls the creation back (the webhook answers 500 and Svix retries; /api/me/ 503).
# Do database work or enqueue a task here; never call a slow service inline.
# Arguments: sender=User, user, created_via ("webhook", "jit" or "sync").
user_provisioned = Signal()

# A membership starting, changing role, or ending. Each transition is announced exactly once,
# inside the transaction that records it (whatever the path: webhook or backfill),
# like `user_provisioned`: a receiver's database writes commit with the change or not at all,
# and a receiver that raises rolls it back. A stale, duplicate or replayed event announces
# nothing. A membership counts only while neither it nor its organization is deleted, so an
# organization.deleted announces `organization_membership_removed` for each member it ends,
# and a membership that arrives already ended (or in a deleted organization) announces nothing.
# `membership.user` is None while the member is not a local user yet (`user_clerk_id` is set).
# Arguments: sender=OrganizationMembership, membership, created_via ("webhook" or "sync"; memberships
# are never created just in time: the token proves membership, so none is fetched).
organization_membership_created = Signal()
# Also: old_role, new_role (Clerk's role keys, e.g. "org:member" -> "org:admin").
organization_membership_changed = Signal()
organization_membership_removed = Signal()
