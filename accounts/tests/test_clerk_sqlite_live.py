"""Clerk's users on the embedded default under real use: SQLite behind Django's threaded development
server, with concurrent Clerk deliveries, admin replays and the bulk replay command, as a developer runs it.

Every delivered user.created makes one user. The ledger's side of the same run, with its stand-in
source, is webhooks/tests/test_sqlite_live.py.
"""

import json

from accounts.tests.factories import ClerkEventFactory
from config.tests.helpers import CLERK_WEBHOOK_PATH
from webhooks.tests.live_traffic import assert_senders_and_replays_get_no_5xx_and_every_event_is_processed


def test_five_senders_and_replays_on_sqlite_get_no_5xx_and_every_user_is_synced(tmp_path):
    assert_senders_and_replays_get_no_5xx_and_every_event_is_processed(
        tmp_path,
        path=CLERK_WEBHOOK_PATH,
        new_body=lambda: json.dumps(ClerkEventFactory()),
        handled_rows_sql=("SELECT count(*) FROM accounts_user WHERE clerk_id IS NOT NULL", ()),
    )
