"""The webhook ledger: one row per event, one row per attempt to process it, and counts of refusals."""

from django.db import models
from django.utils import timezone


class WebhookEvent(models.Model):
    """One event from one source, identified by the sender's message id (Svix's `svix-id`)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        IGNORED = "ignored", "Ignored (no handler)"

    source = models.CharField(max_length=32, help_text="Which sender: 'clerk' for Clerk.")
    event_id = models.CharField(
        max_length=255, help_text="The sender's message id (svix-id); the same on every redelivery."
    )
    event_type = models.CharField(max_length=128)
    subject_id = models.CharField(
        max_length=255,
        blank=True,
        db_index=True,
        help_text="What the event concerns, e.g. the Clerk user id of a user.* event.",
    )
    payload = models.JSONField(help_text="The verified body as received.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0, help_text="Every delivery and every replay counts one.")
    last_error = models.TextField(blank=True, help_text="The error of the latest failed attempt.")
    received_at = models.DateTimeField(default=timezone.now, help_text="First delivery.")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="webhooks_event_unique_per_source"),
        ]
        # The admin lists newest first, filtered by status or type, and looks up ids exactly.
        indexes = [
            models.Index(fields=["received_at"], name="webhooks_event_received_idx"),
            models.Index(fields=["status", "-received_at"], name="webhooks_event_status_idx"),
            models.Index(fields=["event_type", "-received_at"], name="webhooks_event_type_idx"),
            models.Index(fields=["event_id"], name="webhooks_event_id_idx"),
        ]
        permissions = [("replay_webhookevent", "Can replay webhook events")]

    def __str__(self) -> str:
        return f"{self.source} {self.event_type} {self.event_id}"

    @property
    def is_done(self) -> bool:
        """Processed or ignored: a redelivery runs nothing again."""
        return self.status in DONE_STATUSES

    @property
    def payload_erased_at(self) -> str | None:
        """When the source rewrote this payload without personal data (`ERASED_KEY`), or None."""
        return self.payload.get(ERASED_KEY) if isinstance(self.payload, dict) else None


# The key a source adds to a payload it rewrote without personal data (its value: when, ISO 8601),
# so the admin shows the payload as erased rather than as what was sent.
ERASED_KEY = "erased_at"

DONE_STATUSES = frozenset({WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED})


class WebhookAttempt(models.Model):
    """One delivery or replay of an event and what came of it."""

    class Kind(models.TextChoices):
        DELIVERY = "delivery", "Delivery"
        REPLAY = "replay", "Replay"

    class Outcome(models.TextChoices):
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (no handler)"
        DUPLICATE = "duplicate", "Duplicate (already done, nothing ran)"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="attempt_log")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="What the sender was answered; empty for replays."
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    error = models.TextField(blank=True)
    request_id = models.CharField(
        max_length=64, blank=True, default="", help_text="The X-Request-ID of the delivery, as in its log lines."
    )

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [
            models.Index(fields=["kind", "-started_at"], name="webhooks_attempt_kind_idx"),
            models.Index(fields=["outcome", "-started_at"], name="webhooks_attempt_outcome_idx"),
        ]

    def __str__(self) -> str:
        # As the admin writes a moment (webhooks.admin.display.moment): it heads the attempt's row there.
        return f"{self.kind} {self.outcome} at {timezone.localtime(self.started_at):%Y-%m-%d %H:%M:%S %Z}"


class WebhookRejection(models.Model):
    """Deliveries refused before processing, counted per source, reason and hour.

    The body of a refused delivery is never stored (it may be unauthenticated);
    the counts make a pattern visible, e.g. a rotated secret not yet configured.
    """

    class Reason(models.TextChoices):
        MISSING_SIGNATURE = "missing_signature", "Missing svix headers"
        BAD_SIGNATURE = "bad_signature", "Signature does not match"
        MALFORMED_SIGNATURE = "malformed_signature", "Malformed signature header"
        BAD_TIMESTAMP = "bad_timestamp", "Timestamp stale, in the future or malformed"
        TOO_LARGE = "too_large", "Body too large"
        CHUNKED_UNREADABLE = "chunked_unreadable", "Chunked body that could not be read"
        NOT_JSON = "not_json", "Body is not a JSON object"
        TOO_DEEP = "too_deep", "Body nests too deeply"
        BAD_ENVELOPE = "bad_envelope", "Missing or invalid type/data"
        BAD_DATA = "bad_data", "Data unusable for its event type"
        NOT_CONFIGURED = "not_configured", "No signing secret configured"

    source = models.CharField(max_length=32)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    hour = models.DateTimeField(help_text="Start of the hour these refusals fell in.")
    count = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField()
    last_detail = models.TextField(blank=True)
    last_event_id = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "reason", "hour"], name="webhooks_rejection_unique_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.reason} x{self.count} at {self.hour:%Y-%m-%d %H:00}"
