"""Local users and organizations, kept in step with Clerk, and the record that each user was provisioned once."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Upper

from accounts.mirror.models import MembershipClerkFields, OrganizationClerkFields, UserClerkFields


class ClerkMirror(models.Model):
    """What every row mirroring a Clerk object keeps: the version stored, and whether Clerk deleted it.

    Subclasses add `deleted_at`, set when Clerk deleted the object: a tombstone is final.
    """

    clerk_updated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Clerk's updated_at of the state stored here; older events change nothing.",
    )

    class Meta:
        abstract = True

    @property
    def is_deleted_in_clerk(self) -> bool:
        return self.deleted_at is not None

    def clerk_state_applies(self, updated_at, *, embedded: bool = False) -> bool:
        """The updated_at guard, one rule for every mirror: may data stamped `updated_at` replace the stored state?

        Newer data applies, older never, and data without `updated_at` only
        while none is stored. At an equal `updated_at` the object's own data
        applies (its own event, or Clerk's answer for it), and a copy
        `embedded` in another object's event (the organization in a membership
        event) does not: Clerk's published examples stamp two different states
        alike, organizationMembership.updated embedding the organization's old
        name with the updated_at of the organization.updated that renamed it.
        So the own event wins in either order. Tombstones are the caller's to check.
        """
        stored = self.clerk_updated_at
        if stored is None:
            return True
        if updated_at is None:
            return False
        return updated_at > stored or (updated_at == stored and not embedded)

    def clerk_state_save(self, incoming, changed: list[str], updated_at) -> None:
        """Copy the `changed` fields from `incoming` (parsed Clerk data) and keep `updated_at` as the stored version.

        One UPDATE of the columns that differ; none when nothing does. The caller has
        already applied the updated_at guard (`clerk_state_applies`) and holds the row's lock.
        """
        for field in changed:
            setattr(self, field, getattr(incoming, field))
        update_fields = list(changed)
        if updated_at != self.clerk_updated_at:
            self.clerk_updated_at = updated_at
            update_fields.append("clerk_updated_at")
        if update_fields:
            self.save(update_fields=update_fields)


class User(ClerkMirror, UserClerkFields, AbstractUser):
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
        # Staff look users up by email case-insensitively (email__iexact is UPPER() = UPPER()); the admin lists
        # them newest first. Its search has trigram indexes on PostgreSQL (migration 0011, docs/admin.md).
        indexes = [
            models.Index(Upper("email"), name="accounts_user_email_upper_idx"),
            models.Index(fields=["date_joined"], name="accounts_user_joined_idx"),
        ]

    def __str__(self) -> str:
        return self.username


class UserProvisioning(models.Model):
    """The idempotency key for a user's one-time side effects, and the durable record of the welcome email.

    A row exists once the user was provisioned (the `user_provisioned` signal
    went out, in the transaction that created the user). The welcome email's
    fields say what must happen and what has happened; the db_workers' mailers
    send what is pending and due (accounts/welcome/delivery.py).
    Provisioning is claimed by inserting this row (`INSERT … ON CONFLICT DO
    NOTHING` on its unique user, accounts/db.py), a send of the email by an
    UPDATE conditional on the email being pending, due and unclaimed
    (accounts/welcome/records.py): never by asking whether a row was
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
    welcome_email_last_error = models.TextField(blank=True, help_text="Why the last attempt failed or was skipped.")

    class Meta:
        # What staff come to this table for (the admin's "Welcome emails", as the README calls them).
        verbose_name, verbose_name_plural = "welcome email", "welcome emails"
        permissions = [("retry_welcome_email", "Can retry welcome emails")]
        indexes = [
            # The mailers and the health page read only pending emails, by due time.
            models.Index(
                fields=["welcome_email_next_attempt_at"],
                condition=models.Q(welcome_email="pending"),
                name="accounts_prov_welcome_due_idx",
            ),
            # The health page and its alarm read the few that failed for good; the admin lists them newest first.
            models.Index(
                fields=["welcome_email_next_attempt_at"],
                condition=models.Q(welcome_email="failed"),
                name="accounts_prov_failed_idx",
            ),
            models.Index(fields=["provisioned_at"], name="accounts_prov_at_idx"),
        ]

    def __str__(self) -> str:
        return f"welcome email of user {self.user_id}"


class Organization(ClerkMirror, OrganizationClerkFields):
    """A Clerk organization (a tenant), kept by the same rules as users: upserted by Clerk id, final tombstones."""

    class CreatedVia(models.TextChoices):
        WEBHOOK = "webhook", "Clerk webhook"
        JIT = "jit", "Just in time (API request)"
        SYNC = "sync", "Backfill (sync_clerk_organizations)"

    clerk_id = models.CharField(max_length=64, unique=True, help_text="Clerk's stable organization id (org_…).")
    name = models.CharField(max_length=256, blank=True)
    # Not unique: Clerk frees a deleted organization's slug for another one.
    slug = models.CharField(max_length=256, blank=True)
    image_url = models.URLField(max_length=2048, blank=True)
    created_via = models.CharField(
        max_length=16, choices=CreatedVia.choices, help_text="Which path created this row first."
    )
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when Clerk deleted the organization; final. Its memberships count as ended.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)  # the admin lists them newest first

    def __str__(self) -> str:
        return self.name or self.slug or self.clerk_id


class OrganizationMembership(ClerkMirror, MembershipClerkFields):
    """A user's membership of an organization, with the role and permissions Clerk gave it.

    `user_clerk_id` is always set; `user` stays empty while that user is not
    local yet, and is linked by whichever path creates the user.
    """

    clerk_id = models.CharField(max_length=64, unique=True, help_text="Clerk's membership id (orgmem_…).")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user_clerk_id = models.CharField(max_length=64, db_index=True, help_text="The member's Clerk user id.")
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="organization_memberships",
        help_text="The local user, once it exists.",
    )
    role = models.CharField(max_length=128, blank=True, help_text="Clerk's role key, e.g. org:admin.")
    permissions = models.JSONField(default=list, blank=True, help_text="Clerk's permission keys for this member.")
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Set when Clerk removed the membership; final.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)  # the admin lists them newest first

    def __str__(self) -> str:
        return f"{self.user_clerk_id} in {self.organization_id} ({self.role})"


# Models of their own concerns, registered in this app (each module imports nothing of accounts).
from accounts.alarms.models import AlarmState, WorkerHeartbeat  # noqa: E402, F401
from accounts.erasure.models import UserErasure  # noqa: E402, F401
from accounts.reconcile.models import ReconcilePass, ReconcileSeen  # noqa: E402, F401
from accounts.schedule.models import ScheduledJob  # noqa: E402, F401
