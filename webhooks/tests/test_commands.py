"""replay_webhook_events and prune_webhook_events."""

import datetime as dt
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.tests.factories import WebhookEventFactory
from webhooks.tests.ledger_source import thing_event

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def days_ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


class TestReplay:
    @pytest.fixture
    def ledger(self):
        return {
            "failed_new": WebhookEventFactory(event_id="msg_f1", status="failed", received_at=days_ago(0.1)),
            "failed_old": WebhookEventFactory(event_id="msg_f2", status="failed", received_at=days_ago(5)),
            "processed": WebhookEventFactory(event_id="msg_p", status="processed", received_at=days_ago(0.1)),
            "changed": WebhookEventFactory(event_id="msg_c", payload=thing_event("thing.changed")),
        }

    def replayed(self) -> set[str]:
        return set(WebhookAttempt.objects.filter(kind="replay").values_list("event__event_id", flat=True))

    @pytest.mark.parametrize(
        "args, expected",
        [
            (["--status", "failed"], {"msg_f1", "msg_f2"}),
            (["--status", "failed", "--since", "1d"], {"msg_f1"}),
            (["--type", "thing.changed"], {"msg_c"}),
            (["--source", "things", "--status", "processed"], {"msg_p"}),
            (["msg_f2", "msg_p"], {"msg_f2", "msg_p"}),
            (["--all"], {"msg_f1", "msg_f2", "msg_p", "msg_c"}),
        ],
    )
    def test_filters_choose_what_is_replayed(self, ledger, args, expected):
        output = run("replay_webhook_events", *args)

        assert self.replayed() == expected
        counted = "1 event" if len(expected) == 1 else f"{len(expected)} events"
        assert f"replayed {counted}: {len(expected)} processed" in output

    def test_replayed_failed_events_end_processed(self, ledger):
        run("replay_webhook_events", "--status", "failed")

        assert set(WebhookEvent.objects.filter(status="failed").values_list("event_id", flat=True)) == set()

    @pytest.mark.parametrize(
        "args", [["msg_nope"], ["msg_f1", "msg_nope", "msg_gone"], ["msg_nope", "--status", "failed"]]
    )
    def test_unknown_ids_fail_naming_them_and_replay_nothing(self, ledger, args):
        missing = [arg for arg in args if arg.startswith("msg_") and arg not in ("msg_f1",)]

        with pytest.raises(CommandError, match=f"no such event: {', '.join(missing)} \\(nothing replayed\\)"):
            run("replay_webhook_events", *args)
        assert self.replayed() == set()

    def test_no_filter_is_refused(self, ledger):
        with pytest.raises(CommandError, match="give a filter"):
            run("replay_webhook_events")
        assert self.replayed() == set()

    def test_bad_since_is_a_one_line_error(self):
        with pytest.raises(CommandError, match="--since: 'yesterday' is not a duration"):
            run("replay_webhook_events", "--since", "yesterday")


class TestPrune:
    @pytest.fixture
    def ledger(self):
        events = {
            "old_processed": WebhookEventFactory(status="processed", received_at=days_ago(40)),
            "old_ignored": WebhookEventFactory(status="ignored", received_at=days_ago(31)),
            "old_failed": WebhookEventFactory(status="failed", received_at=days_ago(40)),
            "old_received": WebhookEventFactory(status="received", received_at=days_ago(40)),
            "young_processed": WebhookEventFactory(status="processed", received_at=days_ago(29)),
        }
        for event in events.values():
            WebhookAttempt.objects.create(
                event=event, kind="delivery", outcome="processed", started_at=event.received_at, duration_ms=1
            )
        return events

    def remaining(self, ledger) -> set[str]:
        pks = set(WebhookEvent.objects.values_list("pk", flat=True))
        return {name for name, event in ledger.items() if event.pk in pks}

    def test_default_retention_deletes_old_finished_events_and_their_attempts(self, ledger):
        output = run("prune_webhook_events")

        assert self.remaining(ledger) == {"old_failed", "old_received", "young_processed"}
        assert "deleted 2 events" in output and "kept failed, received ones" in output
        assert WebhookAttempt.objects.count() == 3

    def test_older_than_and_small_batches(self, ledger):
        run("prune_webhook_events", "--older-than", "35d", "--batch-size", "1")

        assert self.remaining(ledger) == {"old_ignored", "old_failed", "old_received", "young_processed"}

    def test_unfinished_events_only_when_asked(self, ledger):
        run("prune_webhook_events", "--include-unfinished")

        assert self.remaining(ledger) == {"young_processed"}

    def test_retention_setting_is_the_default(self, ledger, settings):
        settings.WEBHOOKS_RETENTION_DAYS = 60

        run("prune_webhook_events")

        assert len(self.remaining(ledger)) == 5

    def test_batches_page_by_key_past_kept_events(self):
        """Each batch looks only past the last event the one before it saw: kept rows are read once, not per batch."""
        statuses = ["failed", "processed", "received", "ignored", "failed", "processed"]
        events = [WebhookEventFactory(status=status, received_at=days_ago(40)) for status in statuses * 4]
        for event in events:
            WebhookAttempt.objects.create(
                event=event, kind="delivery", outcome=event.status, started_at=event.received_at, duration_ms=1
            )
        prunable = [event.pk for event in events if event.status in ("processed", "ignored")]

        with CaptureQueriesContext(connection) as context:
            output = run("prune_webhook_events", "--batch-size", "3")

        pages = [query["sql"] for query in context.captured_queries if re.search(r"ORDER BY .* LIMIT 3$", query["sql"])]
        lower_bounds = [re.search(r'"webhooks_webhookevent"\."id" > (\d+)', sql) for sql in pages]
        assert [int(bound.group(1)) if bound else None for bound in lower_bounds] == [None, *prunable[2::3]]
        assert "deleted 12 events" in output
        assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"failed", "received"}
        assert WebhookEvent.objects.count() == 12 and WebhookAttempt.objects.count() == 12
        assert not WebhookAttempt.objects.filter(event_id__in=prunable).exists()

    def test_dry_run_deletes_nothing(self, ledger):
        assert "would delete 2 events" in run("prune_webhook_events", "--dry-run")
        assert len(self.remaining(ledger)) == 5

    @pytest.mark.parametrize("value", ["30", "thirty days", "30y", "-5d", ""])
    def test_bad_older_than_is_a_one_line_error(self, value):
        with pytest.raises(CommandError, match="--older-than: .* is not a duration"):
            run("prune_webhook_events", f"--older-than={value}")
