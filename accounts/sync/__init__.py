"""The sync rules: users, organizations and memberships upserted by Clerk id, tombstones, links, backfills."""
