"""An app config for server processes the ledger's tests start: it registers the stand-in source."""

from django.apps import AppConfig


class ThingsSourceConfig(AppConfig):
    """Registers webhooks/tests/ledger_source.py's source once the apps are ready (installed by live_settings.py)."""

    name = "webhooks.tests"
    label = "webhooks_things_source"

    def ready(self) -> None:
        from webhooks.registry import register_source
        from webhooks.tests.ledger_source import things_source

        register_source(things_source)
