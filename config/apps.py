"""The project itself as an app: its runserver (the Clerk settings' checks are the accounts app's)."""

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "config"
    verbose_name = "Project"
