"""Erasing what a user deleted in Clerk leaves behind: the row's personal fields and the ledger's payloads."""
