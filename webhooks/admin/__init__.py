"""The ledger in the admin: importing each module registers its ModelAdmins and views."""

from webhooks.admin import events  # noqa: F401
