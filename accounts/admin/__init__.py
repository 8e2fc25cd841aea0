"""The accounts admin: each module registers its own ModelAdmins; importing them here is the wiring."""

from accounts.admin import organizations, provisioning, users  # noqa: F401
