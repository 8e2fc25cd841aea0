from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Clerk is a webhook source whose handlers live here, next to the users they sync.
        from accounts.api import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from accounts.clerk_source import checks  # noqa: F401  (registers the Clerk settings' system checks)
        from accounts.clerk_source.handlers import clerk_source
        from webhooks.registry import register_source

        register_source(clerk_source)
