"""The accounts admin: each module registers its own ModelAdmins; importing them here is the wiring."""

from accounts.admin import organizations, provisioning, reconcile, users  # noqa: F401
