from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhook ledger"

    def ready(self) -> None:
        from webhooks import checks  # noqa: F401  (registers the SQLite version check)
