"""Local users, kept in step with Clerk, and the record that each was provisioned once."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Upper


class User(AbstractUser):
    """A local user. Clerk is the source of truth for every `clerk_*`-sourced field."""

    class CreatedVia(models.TextChoices):
        WEBHOOK = "webhook", "Clerk webhook"
        JIT = "jit", "Just in time (API request)"
        SYNC = "sync", "Backfill (sync_clerk_users)"
        LOCAL = "local", "Local account"

    clerk_id = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text="Clerk's stable user id (user_…). NULL only for local staff accounts.",
    )
    # Not unique: an address can leave one Clerk account and come back on another.
    email = models.EmailField(
        "email address",
        max_length=320,
        blank=True,
        help_text="The address Clerk's primary_email_address_id points to; may be empty.",
    )
    image_url = models.URLField(max_length=2048, blank=True)
    clerk_updated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Clerk's updated_at of the state stored here; older events change nothing.",
    )
    created_via = models.CharField(
        max_length=16,
        choices=CreatedVia.choices,
        default=CreatedVia.LOCAL,
        help_text="Which path created this row first.",
    )
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when Clerk deleted the user. A tombstone is final: Clerk never reuses an id.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        # Staff look users up by email case-insensitively (email__iexact is UPPER() = UPPER()).
        indexes = [models.Index(Upper("email"), name="accounts_user_email_upper_idx")]

    def __str__(self) -> str:
        return self.username

    @property
    def is_deleted_in_clerk(self) -> bool:
        return self.deleted_at is not None


class UserProvisioning(models.Model):
    """The idempotency key for a user's one-time side effects, and the durable record of the welcome email.

    A row exists once the user was provisioned (the `user_provisioned` signal
    went out, in the transaction that created the user). The welcome email's
    fields say what must happen and what has happened; a queued task is only
    the trigger that makes a worker look at them (accounts/welcome_email.py).
    Provisioning is claimed by inserting this row (`INSERT … ON CONFLICT DO
    NOTHING` on its unique user, accounts/db.py), a send of the email by an
    UPDATE conditional on the email being pending, due and unclaimed
    (accounts/welcome_email_records.py): never by asking whether a row was
    "just created".
    """

    class WelcomeEmail(models.TextChoices):
        NOT_WANTED = "not_wanted", "Not wanted (no address, or an old account backfilled)"
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (retries exhausted)"
        SKIPPED = "skipped", "Skipped (user deleted or address gone)"

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="provisioning")
    created_via = models.CharField(max_length=16, choices=User.CreatedVia.choices)
    provisioned_at = models.DateTimeField()
    welcome_email = models.CharField(
        max_length=16,
        choices=WelcomeEmail.choices,
        default=WelcomeEmail.NOT_WANTED,
        help_text="Where the welcome email stands; pending ones are sent by a worker, retried with backoff.",
    )
    welcome_email_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the mail server accepted the welcome email."
    )
    welcome_email_attempts = models.PositiveIntegerField(
        default=0, help_text="Sends started (each claim counts one, also one whose worker died)."
    )
    welcome_email_next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a pending email is due to be tried (again)."
    )
    welcome_email_claimed_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A worker is sending it until then; after that the claim is dead and another worker may retry.",
    )
    welcome_email_triggered_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the last queued trigger was due to run; the sweep re-triggers what it left behind.",
    )
    welcome_email_last_error = models.TextField(blank=True, help_text="Why the last attempt failed or was skipped.")

    class Meta:
        permissions = [("retry_welcome_email", "Can retry welcome emails")]
        indexes = [
            # The sweep and the health page read only pending emails, by due time.
            models.Index(
                fields=["welcome_email_next_attempt_at"],
                condition=models.Q(welcome_email="pending"),
                name="accounts_prov_welcome_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"provisioning of {self.user_id}"
