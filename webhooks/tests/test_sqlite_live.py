"""The embedded default under real use: SQLite behind Django's threaded development server,
with concurrent deliveries, admin replays and the bulk replay command, as a developer runs it.

Deliveries go to the ledger's stand-in source (webhooks/tests/ledger_source.py), registered in
the server's process by webhooks/tests/live_settings.py; each handled thing keeps one row.
"""

import json

from webhooks.tests.ledger_source import PATH, ROW_PREFIX, thing_event
from webhooks.tests.live_traffic import assert_senders_and_replays_get_no_5xx_and_every_event_is_processed


def test_five_senders_and_replays_on_sqlite_get_no_5xx_and_every_event_is_processed(tmp_path):
    assert_senders_and_replays_get_no_5xx_and_every_event_is_processed(
        tmp_path,
        path=PATH,
        new_body=lambda: json.dumps(thing_event()),
        handled_rows_sql=("SELECT count(*) FROM auth_group WHERE name LIKE ?", (f"{ROW_PREFIX}%",)),
    )
