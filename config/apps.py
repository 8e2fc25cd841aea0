"""The project itself as an app: its runserver, its own system checks (its admin site: config/admin_site.py).

The Clerk settings' checks are the accounts app's (accounts/clerk_source/checks.py).
"""

from django.apps import AppConfig
from django.core import checks

from config.checks import email_backend_check


class ProjectConfig(AppConfig):
    name = "config"
    verbose_name = "Project"

    def ready(self) -> None:
        checks.register(email_backend_check)
