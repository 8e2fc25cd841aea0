"""Settings for a server process the ledger's tests start (webhooks/tests/live_server.py):
the project's own, plus the stand-in source of webhooks/tests/ledger_source.py and its secret."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS
from webhooks.tests.deliveries import TEST_WEBHOOK_SECRET

INSTALLED_APPS = [*INSTALLED_APPS, "webhooks.tests.apps.ThingsSourceConfig"]
THINGS_WEBHOOK_SECRET = TEST_WEBHOOK_SECRET
