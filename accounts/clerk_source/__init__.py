"""Clerk as a source of the webhook ledger: its handlers, ignored types and admin hooks."""
